"""A compiled pass/not-pass check for the common validate patterns.

Most resources pass most rules. For a pattern built only from plain keys, scalars, lists, equality
``=()`` and negation ``X()`` anchors (no condition, global or existence anchors, no wildcard label keys),
whether a resource passes is a plain conjunction. It is compiled once per pattern into one Python
function (source generated here, then ``exec``-ed), so a check costs one call instead of one per
pattern node. The compiled check answers "passes"; anything else goes to the full walker in
``matcher.py``, which produces Kyverno's exact failure path and message. The check never decides a
failure, so it cannot change a verdict.

The check of a scalar pattern value is a predicate built for that value: for the common one-operand
string patterns (``?*``, ``!*:latest``, ``*:*``) it compares directly; anything else calls the general
``validate_scalar``.
"""
from __future__ import annotations

from typing import Any, Callable

from verno.core import wildcard
from verno.core.memo import IdentityMemo
from verno.core.operators.valuepattern import compared_text, plain_operand
from verno.core.pattern.anchors import EQUALITY, NEGATION, parse_anchor
from verno.core.pattern.metadata import has_metadata_wildcards
from verno.core.pattern.scalars import validate_scalar

Check = Callable[[Any], bool]
_SCALARS = (str, int, float, bool, type(None))


class _NotCompilable(Exception):
    pass


# -- scalar predicates ---------------------------------------------------------------------------------

def _string_predicate(pattern: str) -> Check | None:
    """``match_string_pattern(value, pattern)`` for one ``=``/``!`` operand that is neither a duration
    nor a quantity; None for any other string pattern."""
    plain = plain_operand(pattern)
    if plain is None:
        return None
    negate, operand = plain
    match = wildcard.match

    def check(value: Any) -> bool:
        if isinstance(value, str) and value == pattern:
            return True
        text = compared_text(value)
        if text is None:
            return False
        hit = match(operand, text)
        return not hit if negate else hit

    return check


def scalar_predicate(pattern: Any) -> Check:
    """``lambda value: validate_scalar(value, pattern)``, specialised where that is simple."""
    if isinstance(pattern, str):
        fast = _string_predicate(pattern)
        if fast is not None:
            return fast
    return lambda value: validate_scalar(value, pattern)


# -- code generation -----------------------------------------------------------------------------------

class _Emitter:
    """Writes the body of ``check(r)``: statements that ``return False`` as soon as the value fails."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.names: dict[str, Any] = {}
        self._vars = 0

    def var(self) -> str:
        self._vars += 1
        return f"v{self._vars}"

    def const(self, value: Any) -> str:
        name = f"c{len(self.names)}"
        self.names[name] = value
        return name

    def emit(self, indent: int, line: str) -> None:
        self.lines.append("    " * indent + line)

    # node checks, mirroring the closures they replace
    def node(self, pattern: Any, v: str, indent: int) -> None:
        if isinstance(pattern, dict):
            self.map(pattern, v, indent)
        elif isinstance(pattern, list):
            self.list(pattern, v, indent)
        elif isinstance(pattern, _SCALARS):
            self.scalar(pattern, v, indent)
        else:
            raise _NotCompilable

    def scalar(self, pattern: Any, v: str, indent: int) -> None:
        pred = self.const(scalar_predicate(pattern))
        item = self.var()
        self.emit(indent, f"if isinstance({v}, list):")
        self.emit(indent + 1, f"for {item} in {v}:")
        self.emit(indent + 2, f"if not {pred}({item}): return False")
        self.emit(indent, f"elif not {pred}({v}): return False")

    def map(self, pattern: dict[str, Any], v: str, indent: int) -> None:
        if has_metadata_wildcards(pattern):
            raise _NotCompilable
        self.emit(indent, f"if not isinstance({v}, dict): return False")
        for key, value in pattern.items():
            anchor = parse_anchor(key)
            if anchor is not None and anchor.modifier == EQUALITY:
                name, sub = self.const(anchor.key), self.var()
                self.emit(indent, f"if {name} in {v}:")
                self.emit(indent + 1, f"{sub} = {v}[{name}]")
                self.node(value, sub, indent + 1)
            elif anchor is not None and anchor.modifier == NEGATION:
                self.emit(indent, f"if {self.const(anchor.key)} in {v}: return False")
            elif anchor is not None and anchor.modifier != "+":
                raise _NotCompilable  # condition, global, existence: skip semantics need the full walker
            elif isinstance(value, str) and value == "*":
                self.emit(indent, f"if {v}.get({self.const(key)}) is None: return False")
            else:
                sub = self.var()
                self.emit(indent, f"{sub} = {v}.get({self.const(key)})")
                self.node(value, sub, indent)

    def list(self, pattern: list[Any], v: str, indent: int) -> None:
        if not pattern:
            raise _NotCompilable
        first = pattern[0]
        if isinstance(first, dict):
            item = self.var()
            self.emit(indent, f"if not isinstance({v}, list): return False")
            self.emit(indent, f"for {item} in {v}:")
            self.map(first, item, indent + 1)
        elif isinstance(first, _SCALARS):
            pred, item = self.const(scalar_predicate(first)), self.var()
            self.emit(indent, f"if not isinstance({v}, list): return False")
            self.emit(indent, f"for {item} in {v}:")
            self.emit(indent + 1, f"if not {pred}({item}): return False")
        else:
            self.emit(indent, f"if not isinstance({v}, list) or len({v}) < {len(pattern)}: return False")
            for index, sub_pattern in enumerate(pattern):
                sub = self.var()
                self.emit(indent, f"{sub} = {v}[{index}]")
                self.node(sub_pattern, sub, indent)


def _compile(pattern: Any) -> Check:
    emitter = _Emitter()
    emitter.node(pattern, "r", 1)
    source = "def check(r):\n" + "\n".join(emitter.lines) + "\n    return True\n"
    namespace: dict[str, Any] = dict(emitter.names)
    exec(compile(source, "<validate pattern>", "exec"), namespace)  # noqa: S102 - source built above
    check = namespace["check"]
    check.source = source  # type: ignore[attr-defined]
    return check


def _compile_or_none(pattern: Any) -> Check | None:
    try:
        return _compile(pattern)
    except _NotCompilable:
        return None


#: pattern (a policy-owned object) -> its compiled check, or None when it needs the full walker
passes_check = IdentityMemo(_compile_or_none)
