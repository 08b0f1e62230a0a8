"""A ``validate.pattern`` (or one ``anyPattern`` entry) written as a CEL boolean over ``object``.

Kyverno's pattern semantics (``core/pattern``) are kept where CEL can say the same thing:

* maps: every plain key must be present and match (a scalar pattern against a missing or null value is
  decided at translation time, as Kyverno decides it: ``"<=2Gi"`` accepts a missing value, ``"?*"`` does
  not; ``"*"`` needs the key); ``=(k)`` checks ``k`` only when present; ``X(k)`` forbids it; ``^(k)`` needs
  a list with at least one element matching each pattern element;
* ``(k)`` conditional anchors: at the top (outside any list) they become the policy's ``matchConditions``
  (not met: the rule is skipped); inside a list element, an element that does not meet them is skipped;
  ``<(k)`` global anchors at the top likewise become match conditions;
* lists: a one-map pattern applies to every element; a scalar pattern to every element;
* string patterns: ``|`` and ``&``, ``!``, wildcards, and ``>``/``>=``/``<``/``<=``/ranges against numbers
  and quantities (compared with the ``quantity`` library);
* numbers, booleans and ``null`` as Kyverno compares them.

Durations in string patterns, wildcard label or annotation keys, variables in a pattern, ``+(k)`` anchors,
global anchors below the top and several-element list patterns raise :class:`Untranslatable`.
"""
from __future__ import annotations

import json
from typing import Any

from verno.core import wildcard
from verno.core.migration.expressions import Untranslatable, glob_regex, select
from verno.core.operators.valuepattern import EQUAL, NOT_EQUAL, _Cmp, _Range, compile_string_pattern
from verno.core.pattern.anchors import parse_anchor
from verno.core.pattern.scalars import validate_scalar

__all__ = ["PatternTranslation", "glob_regex", "translate_pattern"]

_COMPARE = {"": "==", "!": "!=", ">": ">", "<": "<", ">=": ">=", "<=": "<="}
_SCALAR_TYPES = "[string, int, uint, double, bool]"


def _presence(v: str) -> str:
    """``has()`` for every step of a dotted path below ``object`` (``object.spec.x`` -> ``has(object.spec) &&
    has(object.spec.x)``); a path through keys that are not field names has no such form."""
    if "[" in v or not v.startswith("object."):
        raise Untranslatable(f"a conditional anchor below {v} (a path through keys that are not field names)")
    steps = v.split(".")
    return " && ".join(f"has({'.'.join(steps[:i])})" for i in range(2, len(steps) + 1))


class PatternTranslation:
    def __init__(self) -> None:
        #: conditions that skip the whole rule when not met (top-level conditional and global anchors)
        self.match_conditions: list[str] = []
        self._depth = 0

    # -- scalars -------------------------------------------------------------------------------------------
    def _cmp(self, v: str, cond: _Cmp) -> str:
        if cond.duration is not None and cond.quantity is None:  # "0" is both, and compares alike either way
            raise Untranslatable(f"the duration comparison {cond.op}{cond.operand!r} in a pattern")
        text = "false"
        if cond.op in (EQUAL, NOT_EQUAL):
            regex = json.dumps(glob_regex(cond.operand))
            hit = f"string({v}).matches({regex})" if wildcard.has_wildcard(cond.operand) \
                else f"string({v}) == {json.dumps(cond.operand)}"
            text = f"(type({v}) in {_SCALAR_TYPES} && {'!' if cond.op == NOT_EQUAL else ''}({hit}))"
        if cond.quantity is not None:
            q = f"quantity(string({v})).compareTo(quantity({json.dumps(cond.operand)})) {_COMPARE[cond.op]} 0"
            return (f"((type({v}) in [string, int, uint, double] && isQuantity(string({v}))) ? ({q}) : {text})")
        return text

    def _condition(self, v: str, cond: Any) -> str:
        if cond is None:
            return "false"
        if isinstance(cond, _Range):
            joiner = " && " if cond.inside else " || "
            return "(" + self._cmp(v, cond.low) + joiner + self._cmp(v, cond.high) + ")"
        return self._cmp(v, cond)

    def scalar(self, v: str, pattern: Any) -> str:
        """``v`` (never null here) against a scalar pattern."""
        if isinstance(pattern, bool):
            return f"(type({v}) == bool && {v} == {'true' if pattern else 'false'})"
        if isinstance(pattern, (int, float)):
            return f"(type({v}) in [int, uint, double] && double({v}) == {float(pattern)!r})"
        if pattern is None:
            return (f"((type({v}) == bool && !{v}) || (type({v}) in [int, uint, double] && double({v}) == 0.0) || "
                    f"(type({v}) == string && {v} == ''))")
        if isinstance(pattern, str):
            if "{{" in pattern:
                raise Untranslatable(f"a variable in the pattern value {pattern!r}")
            compiled = compile_string_pattern(pattern)
            alternatives = [" && ".join(self._condition(v, c) for c in alt) for alt in compiled]
            plain = len(compiled) == 1 and len(compiled[0]) == 1 and isinstance(compiled[0][0], _Cmp) \
                and compiled[0][0].op == EQUAL and compiled[0][0].operand == pattern
            if plain:  # the value equal to the pattern's text already matches the operand itself
                return alternatives[0]
            exact = f"(type({v}) == string && {v} == {json.dumps(pattern)})"
            return "(" + " || ".join([exact, *(f"({a})" for a in alternatives)]) + ")"
        raise Untranslatable(f"the pattern value {pattern!r}")

    def _scalar_at(self, v: str, pattern: Any, present: str) -> str:
        """A scalar pattern where the value may be missing or null (decided as Kyverno decides ``nil``)."""
        missing = "true" if validate_scalar(None, pattern) else "false"
        return f"(({present}) && {v} != null ? {self._scalar_or_each(v, pattern, missing)} : {missing})"

    def _scalar_or_each(self, v: str, pattern: Any, missing: str) -> str:
        """A scalar pattern against a value that may be a list: Kyverno checks every element (an empty list
        passes, a null element is a missing value)."""
        self._depth += 1
        e = f"e{self._depth}"
        try:
            each = f"{v}.all({e}, {e} != null ? {self.scalar(e, pattern)} : {missing})"
        finally:
            self._depth -= 1
        return f"(type({v}) == list ? {each} : {self.scalar(v, pattern)})"

    # -- structure -----------------------------------------------------------------------------------------
    def value(self, v: str, pattern: Any, top: bool) -> str:
        if isinstance(pattern, dict):
            return self.map(v, pattern, top)
        if isinstance(pattern, list):
            return self.list(v, pattern, top)
        missing = "true" if validate_scalar(None, pattern) else "false"
        return f"({v} != null && {self._scalar_or_each(v, pattern, missing)})"

    def list(self, v: str, pattern: list[Any], top: bool = False) -> str:
        if not pattern:
            raise Untranslatable("an empty list pattern")
        first = pattern[0]
        self._depth += 1
        e = f"e{self._depth}"
        try:
            if isinstance(first, dict):
                if len(pattern) > 1:
                    raise Untranslatable("a list pattern with several elements")
                anchors = {k: pv for k, pv in first.items() if (a := parse_anchor(k)) is not None and a.modifier == ""}
                if anchors and top:  # every element skipped by its conditional anchors: the rule is skipped
                    saved, self.match_conditions = self.match_conditions, []
                    conds = self.map(e, anchors, False, element=False, conditions_only=True)
                    self.match_conditions = saved
                    self.match_conditions.append(
                        f"(!({_presence(v)} && type({v}) == list) || {v}.exists({e}, {conds}))")
                return f"(type({v}) == list && {v}.all({e}, {self.map(e, first, False, element=True)}))"
            if isinstance(first, list):
                raise Untranslatable("a list of lists in a pattern")
            return (f"(type({v}) == list ? {v}.all({e}, {e} != null && {self.scalar(e, first)}) : "
                    f"({v} != null && {self.scalar(v, first)}))")
        finally:
            self._depth -= 1

    def map(self, v: str, pattern: dict[str, Any], top: bool, *, element: bool = False,
            conditions_only: bool = False) -> str:
        parts = [] if v == "object" else [f"type({v}) == map"]  # the admitted object is always one
        conditions: list[str] = []
        for key, pv in pattern.items():
            anchor = parse_anchor(key)
            name = anchor.key if anchor else key
            if anchor is None and wildcard.has_wildcard(key):
                raise Untranslatable(f"the wildcard key {key!r} in a pattern")
            sub = select(v, name)
            # at the top, has(object.x) (a form Pod-controller autogen rewrites); below, a map lookup
            present = f"has({sub})" if v == "object" and sub.startswith("object.") else f"{json.dumps(name)} in {v}"
            if anchor is None:
                if pv == "*":
                    parts.append(f"({present} && {sub} != null)")
                elif isinstance(pv, (dict, list)):
                    parts.append(f"({present} && {self.value(sub, pv, top)})")
                else:
                    parts.append(self._scalar_at(sub, pv, present))
                continue
            kind = anchor.modifier
            if kind == "":  # conditional
                cond = f"({present} && {self.value(sub, pv, False)})"
                if conditions_only:
                    conditions.append(cond)
                elif element:
                    conditions.append(cond)
                elif top:
                    # not met: the rule is skipped; a missing parent fails the rule's own check instead
                    self.match_conditions.append(cond if v == "object" else
                                                 f"(!({_presence(v)} && type({v}) == map) || {cond})")
                else:
                    raise Untranslatable("a conditional anchor in a list inside a list")
            elif kind == "=":
                inner = self._scalar_at(sub, pv, present) if not isinstance(pv, (dict, list)) \
                    else self.value(sub, pv, top)
                parts.append(f"(!({present}) || {inner})")
            elif kind == "X":
                parts.append(f"!({present})")
            elif kind == "^":
                if not isinstance(pv, list) or not all(isinstance(p, dict) for p in pv):
                    raise Untranslatable("an existence anchor whose pattern is not a list of maps")
                self._depth += 1
                e = f"e{self._depth}"
                checks = " && ".join(f"{sub}.exists({e}, {self.map(e, p, False)})" for p in pv)
                self._depth -= 1
                parts.append(f"(!({present}) || (type({sub}) == list && {checks}))")
            elif kind == "<":
                if not top or element:
                    raise Untranslatable("a global anchor below the top of a pattern")
                self.match_conditions.append(f"(!({present}) || {self.value(sub, pv, False)})")
            else:
                raise Untranslatable(f"the anchor {key!r} (a mutate anchor) in a validate pattern")
        if conditions_only:
            return "(type(" + v + ") == map && " + " && ".join(conditions) + ")"
        body = " && ".join(parts) or "true"
        if conditions:
            return f"(!({' && '.join(conditions)}) || ({body}))"
        return f"({body})"


def translate_pattern(pattern: Any) -> tuple[str, list[str]]:
    """(the CEL check over ``object``, the match conditions the pattern's top-level anchors need)."""
    t = PatternTranslation()
    expression = t.value("object", pattern, True)
    return expression, t.match_conditions
