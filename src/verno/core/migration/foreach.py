"""``validate.foreach`` written as one CEL validation with Kyverno's element-by-element semantics.

Kyverno (K: ``validateForEach``) evaluates each foreach entry in order; an entry's ``list`` that cannot be
evaluated contributes nothing, a value that is not a list is one element, ``null`` elements are passed over.
Each element is then, in order: its ``preconditions`` (an error, or not met: the element is skipped), then its
check (``pattern``/``anyPattern`` against the element when it is a map and ``elementScope`` is unset, else
against the object; ``deny``). The first failing element fails the rule; an element's error is passed over
unless it is the list's last element, which makes the rule an error; when no element passed, the rule is
skipped.

In CEL each entry iterates its list with a two-variable comprehension (``elementIndex``, ``element``).
Variable paths, strict in Kyverno (a missing key is an error), are read leniently and Kyverno's error
condition is computed beside them (:class:`~.jmespath_cel.Scope` ``errors``), so that an element's error is
decided where Kyverno decides it: the validation fails on a failing element, raises an evaluation error
(``int("...")`` over a text that is no number) when the last element errs, and the policy's match condition
says whether any element applied (not met: the rule is skipped).

Nested foreach, foreach ``context`` entries, ``elementScope: true`` (a non-map element is an error at once,
before later failures) and patterns whose anchors skip the whole element raise :class:`Untranslatable`.
"""
from __future__ import annotations

import json
from typing import Any

from verno.core.migration.errors import Untranslatable
from verno.core.migration.expressions import condition_block
from verno.core.migration.jmespath_cel import Scope, compile_jmespath
from verno.core.migration.pattern import PatternTranslation

__all__ = ["ELEMENT_ERROR", "validate_foreach"]

#: an evaluation error at run time (a text that is no number), raised where Kyverno's rule errs
ELEMENT_ERROR = 'int("foreach: the last element of the list could not be evaluated")'
_NAMES = {"element": "element", "elementIndex": "elementIndex", "element0": "element", "elementIndex0": "elementIndex"}


def _any(parts: list[str]) -> str:
    return "(" + " || ".join(parts) + ")" if parts else "false"


def _pattern(pattern: Any, root: str) -> str:
    if "{{" in json.dumps(pattern):
        raise Untranslatable("a variable in a foreach pattern")
    t = PatternTranslation()
    expression = t.value(root, pattern, True)
    if t.match_conditions:
        raise Untranslatable("conditional or global anchors at the top of a foreach pattern (they skip the element)")
    return expression


def _check(entry: Any, element_root: bool) -> str:
    """The element's check (true: it passes), a pattern's root chosen as Kyverno's elementScope does."""
    def against(pattern: Any) -> str:
        if element_root:
            return f"(type(element) == map ? {_pattern(pattern, 'element')} : {_pattern(pattern, 'object')})"
        return _pattern(pattern, "object")

    if entry.pattern is not None:
        return against(entry.pattern)
    if entry.any_pattern is not None:
        if not isinstance(entry.any_pattern, list) or not entry.any_pattern:
            raise Untranslatable("a foreach anyPattern that is not a non-empty list")
        return "(" + " || ".join(against(p) for p in entry.any_pattern) + ")"
    raise Untranslatable("a foreach entry without pattern, anyPattern or deny")


class _Entry:
    """One foreach entry's CEL pieces, over ``element``/``elementIndex`` of the bound list ``name``."""

    def __init__(self, entry: Any, scope: Scope):
        if entry.foreach:
            raise Untranslatable("a nested foreach (no CEL translation yet)")
        if entry.context:
            raise Untranslatable("context entries in a foreach")
        if "{{" in entry.list_:
            raise Untranslatable("a foreach list with variables")
        if entry.element_scope is True:
            raise Untranslatable("elementScope: true (an element that is not a map is an error at once, "
                                 "before later elements are checked)")
        self.list = compile_jmespath(entry.list_, scope)
        self.name = scope.fresh()
        pre_scope = Scope({**scope.names, **_NAMES}, scope.inline, scope.counter, [])
        self.pre = condition_block(entry.preconditions, pre_scope) if entry.preconditions is not None else "true"
        self.pre_error = _any(pre_scope.errors or [])
        check_scope = Scope({**scope.names, **_NAMES}, scope.inline, scope.counter, [])
        deny = getattr(entry.deny, "conditions", None) if entry.deny is not None else None
        if entry.deny is not None:
            self.check = f"!({condition_block(deny, check_scope)})" if deny is not None else "false"
        else:
            self.check = _check(entry, entry.element_scope is None)
        self.check_error = _any(check_scope.errors or [])

    def bound(self, body: str) -> str:
        n = self.name
        return f"cel.bind({n}, {self.list}, cel.bind({n}, type({n}) == list ? dyn({n}) : dyn([{n}]), {body}))"

    def _over(self, condition: str) -> str:
        return f"{self.name}.exists(elementIndex, element, {condition})"

    @property
    def ran(self) -> str:  # preconditions met and the check evaluated without error
        return f"element != null && !{self.pre_error} && ({self.pre}) && !{self.check_error}"

    @property
    def error(self) -> str:
        return f"({self.pre_error} || (({self.pre}) && {self.check_error}))"

    @property
    def last_errs(self) -> str:
        return self._over(f"elementIndex == size({self.name}) - 1 && element != null && {self.error}")

    @property
    def fails(self) -> str:
        return self._over(f"{self.ran} && !({self.check})")

    @property
    def applies(self) -> str:
        return self._over(f"{self.ran} || (elementIndex == size({self.name}) - 1 && element != null && "
                          f"{self.error})")


def validate_foreach(entries: list[Any], scope: Scope, conditions_scope: Scope) -> tuple[str, str]:
    """(the validation expression, the match condition that is false when Kyverno skips the rule)."""
    if not entries:
        raise Untranslatable("an empty foreach")
    expression = "true"
    for entry in reversed([_Entry(e, scope) for e in entries]):
        expression = entry.bound(f"!({entry.fails}) && ({entry.last_errs} ? {ELEMENT_ERROR} == 0 : ({expression}))")
    applies = " || ".join(f"({e.bound(e.applies)})" for e in (_Entry(x, conditions_scope) for x in entries))
    return expression, applies
