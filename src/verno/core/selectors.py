"""Kubernetes label selectors as Kyverno evaluates them (K: pkg/utils/match/labels.go).

``matchLabels`` keys and values may hold ``*``/``?``: Kyverno first replaces such an entry with a real
label it matches (K: pkg/engine/wildcards ``ReplaceInSelector``), or with the pattern where ``*``/``?``
became ``0`` when none does, then builds an ordinary selector. So a wildcard entry holds exactly when
some label matches both the key and the value pattern. An invalid selector (``In`` without values,
``Exists`` with values, an unknown operator) never matches. Selectors are compiled once.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from verno.core import wildcard
from verno.core.models.match import LabelSelector

LabelPredicate = Callable[[Mapping[str, str]], bool]


def _never(_labels: Mapping[str, str]) -> bool:
    return False


def _always(_labels: Mapping[str, str]) -> bool:
    return True


def _as_dict(selector: LabelSelector | Mapping[str, Any]) -> tuple[dict[str, str], list[dict[str, Any]]]:
    if isinstance(selector, LabelSelector):
        labels = dict(selector.match_labels or {})
        exprs = [e.model_dump() for e in selector.match_expressions or []]
        return labels, exprs
    return dict(selector.get("matchLabels") or {}), list(selector.get("matchExpressions") or [])


def _wildcard_label(key: str, value: str) -> LabelPredicate:
    def check(labels: Mapping[str, str]) -> bool:
        for k, v in labels.items():
            if wildcard.match(key, k) and wildcard.match(value, str(v)):
                return True
        return False

    return check


def _expression(expr: Mapping[str, Any]) -> LabelPredicate | None:
    """A predicate for one matchExpression, or None when Kubernetes would reject it."""
    key = expr.get("key") or ""
    op = expr.get("operator")
    values = [str(v) for v in (expr.get("values") or [])]
    if not key:
        return None
    if op == "In":
        if not values:
            return None
        allowed = frozenset(values)
        return lambda labels: key in labels and labels[key] in allowed
    if op == "NotIn":
        if not values:
            return None
        denied = frozenset(values)
        return lambda labels: key not in labels or labels[key] not in denied
    if op == "Exists":
        if values:
            return None
        return lambda labels: key in labels
    if op == "DoesNotExist":
        if values:
            return None
        return lambda labels: key not in labels
    return None


def compile_selector(selector: LabelSelector | Mapping[str, Any] | None) -> LabelPredicate:
    """A predicate over a label map. ``None`` matches nothing; an empty selector matches everything."""
    if selector is None:
        return _never
    match_labels, expressions = _as_dict(selector)
    if not match_labels and not expressions:
        return _always
    exact: list[tuple[str, str]] = []
    checks: list[LabelPredicate] = []
    for key, value in match_labels.items():
        value = "" if value is None else str(value)
        if wildcard.has_wildcard(key) or wildcard.has_wildcard(value):
            checks.append(_wildcard_label(key, value))
        else:
            exact.append((key, value))
    for expr in expressions:
        pred = _expression(expr)
        if pred is None:
            return _never
        checks.append(pred)

    def matches(labels: Mapping[str, str]) -> bool:
        labels = labels or {}
        for key, value in exact:
            if labels.get(key) != value:
                return False
        for check in checks:
            if not check(labels):
                return False
        return True

    return matches


def selector_matches(selector: LabelSelector | Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """One-off evaluation (compiles the selector; prefer ``compile_selector`` in loops)."""
    return compile_selector(selector)(labels)
