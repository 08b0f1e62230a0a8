"""A rule's ``match``/``exclude`` written as CEL ``matchConstraints`` and ``matchConditions``.

Kinds become ``resourceRules`` (built-in kinds to their group, version and resource; other kinds to a guessed
plural in any group), with the operations the rule names (``CREATE`` and ``UPDATE`` by default, as Kyverno
registers validate rules). When the rule has one resource filter, its ``selector`` and
``namespaceSelector`` become the constraints' ``objectSelector`` and ``namespaceSelector``; everything else
a filter says (names and namespaces with wildcards, annotations, subjects, roles, several filters in
``any``/``all``) becomes one match condition over ``object``/``request``. ``exclude`` becomes the negation
of its filters. ``clusterRoles``/``roles`` cannot be read from CEL and raise :class:`Untranslatable`.
"""
from __future__ import annotations

import json
from typing import Any

from verno.core import wildcard
from verno.core.kinds import kind_entries
from verno.core.migration.expressions import Untranslatable, glob_regex

__all__ = ["MatchTranslation", "translate_match"]

DEFAULT_OPERATIONS = ["CREATE", "UPDATE"]


def _filters(block: Any) -> tuple[list[Any], str]:
    """(filters, "any" | "all") of a match or exclude block (a plain block is one filter)."""
    if block is None:
        return [], "any"
    if block.any:
        return list(block.any), "any"
    if block.all:
        return list(block.all), "all"
    if block.resources.kinds or block.resources.names or block.resources.name or block.resources.namespaces \
            or block.resources.selector or block.resources.namespace_selector or block.subjects:
        return [block], "any"
    return [], "any"


def _glob_in(value: str, patterns: list[str]) -> str:
    exact = [p for p in patterns if not wildcard.has_wildcard(p)]
    globbed = [p for p in patterns if wildcard.has_wildcard(p)]
    parts = []
    if exact:
        parts.append(f"{value} in {json.dumps(exact)}")
    parts.extend(f"{value}.matches({json.dumps(glob_regex(p))})" for p in globbed)
    return "(" + " || ".join(parts) + ")"


def _selector(labels: str, selector: Any) -> str:
    parts = []
    for key, val in (selector.match_labels or {}).items():
        parts.append(f"({json.dumps(key)} in {labels} && {labels}[{json.dumps(key)}] == {json.dumps(str(val))})")
    for expr in selector.match_expressions or []:
        key, op, values = json.dumps(expr.key), expr.operator, json.dumps([str(v) for v in expr.values or []])
        if op == "In":
            parts.append(f"({key} in {labels} && {labels}[{key}] in {values})")
        elif op == "NotIn":
            parts.append(f"(!({key} in {labels}) || !({labels}[{key}] in {values}))")
        elif op == "Exists":
            parts.append(f"({key} in {labels})")
        elif op == "DoesNotExist":
            parts.append(f"!({key} in {labels})")
        else:
            raise Untranslatable(f"the selector operator {op}")
    return "(" + " && ".join(parts) + ")" if parts else "true"


_LABELS = "(has(object.metadata) && has(object.metadata.labels) ? object.metadata.labels : {})"
_ANNOTATIONS = "(has(object.metadata) && has(object.metadata.annotations) ? object.metadata.annotations : {})"


def _filter_condition(f: Any, with_kinds: bool, native: bool) -> str:
    """A CEL condition for one resource filter (``native``: selectors already in the constraints)."""
    r = f.resources
    parts = []
    if f.roles or f.cluster_roles:
        raise Untranslatable("roles and clusterRoles in match/exclude (CEL cannot read them)")
    if with_kinds and r.kinds:
        kinds = []
        for selector in r.kinds:
            group, version, resource, sub = kind_entries(selector)
            if sub:
                raise Untranslatable(f"the subresource kind {selector!r}")
            check = []
            if resource != "*":
                check.append(f"request.resource.resource == {json.dumps(resource)}")
            if group != "*":
                check.append(f"request.resource.group == {json.dumps(group)}")
            kinds.append("(" + (" && ".join(check) or "true") + ")")
        parts.append("(" + " || ".join(kinds) + ")")
    names = list(r.names) + ([r.name] if r.name else [])
    if names:
        parts.append(_glob_in("request.name", names))
    if r.namespaces:
        parts.append(_glob_in("request.namespace", list(r.namespaces)))
    if r.annotations:
        for key, val in r.annotations.items():
            parts.append(f"({json.dumps(key)} in {_ANNOTATIONS} && {_ANNOTATIONS}[{json.dumps(key)}]"
                         f".matches({json.dumps(glob_regex(str(val)))}))")
    if r.selector is not None and not native:
        parts.append(_selector(_LABELS, r.selector))
    if r.namespace_selector is not None and not native:
        raise Untranslatable("a namespaceSelector in a rule with several resource filters")
    if r.operations and not native:
        parts.append(f"request.operation in {json.dumps(list(r.operations))}")
    if f.subjects:
        subjects = []
        for s in f.subjects:
            if s.kind == "User":
                subjects.append(f"request.userInfo.username == {json.dumps(s.name)}")
            elif s.kind == "Group":
                subjects.append(f"{json.dumps(s.name)} in request.userInfo.groups")
            elif s.kind == "ServiceAccount":
                subjects.append(f"request.userInfo.username == "
                                f"{json.dumps(f'system:serviceaccount:{s.namespace}:{s.name}')}")
            else:
                raise Untranslatable(f"the subject kind {s.kind}")
        parts.append("(" + " || ".join(subjects) + ")")
    return "(" + " && ".join(parts) + ")" if parts else "true"


def _resource_rules(filters: list[Any], default_ops: list[str]) -> list[dict[str, Any]]:
    rules: dict[tuple[str, str, tuple[str, ...]], set[str]] = {}
    for f in filters:
        ops = tuple(f.resources.operations) if f.resources.operations else tuple(default_ops)
        for selector in f.resources.kinds:
            group, version, resource, sub = kind_entries(selector)
            if sub:
                raise Untranslatable(f"the subresource kind {selector!r}")
            if "/" not in selector and resource != "pods":
                # a bare kind matches every version, as Kyverno matches kinds (Pods have one: v1, the version
                # Pod-controller autogen looks for)
                version = "*"
            rules.setdefault((group, version, ops), set()).add(resource)
    return [{"apiGroups": [g], "apiVersions": [v], "operations": list(ops), "resources": sorted(res)}
            for (g, v, ops), res in sorted(rules.items())]


class MatchTranslation:
    def __init__(self, constraints: dict[str, Any], conditions: list[tuple[str, str]]):
        self.constraints = constraints
        self.conditions = conditions


def translate_match(rule: Any, default_ops: list[str] | None = None) -> MatchTranslation:
    ops = default_ops or DEFAULT_OPERATIONS
    filters, mode = _filters(rule.match)
    if not filters or not all(f.resources.kinds for f in filters) and mode == "any":
        raise Untranslatable("a match without kinds in every resource filter")
    kind_filters = filters if mode == "any" else [f for f in filters if f.resources.kinds]
    constraints: dict[str, Any] = {"resourceRules": _resource_rules(kind_filters, ops)}
    conditions: list[tuple[str, str]] = []
    native = len(filters) == 1
    if native:
        r = filters[0].resources
        if r.selector is not None:
            constraints["objectSelector"] = r.selector.model_dump(by_alias=True, exclude_none=True)
        if r.namespace_selector is not None:
            constraints["namespaceSelector"] = r.namespace_selector.model_dump(by_alias=True, exclude_none=True)
        cond = _filter_condition(filters[0], False, True)
        if cond != "true":
            conditions.append(("match", cond))
    else:
        joined = (" || " if mode == "any" else " && ").join(_filter_condition(f, True, False) for f in filters)
        conditions.append(("match", f"({joined})"))
    excludes, emode = _filters(rule.exclude)
    if excludes:
        joined = (" || " if emode == "any" else " && ").join(_filter_condition(f, True, False) for f in excludes)
        conditions.append(("exclude", f"!({joined})"))
    return MatchTranslation(constraints, conditions)
