"""Generate a random string matching a regular expression (what goregen does for ``random()``).

The cost is bounded: every node visited and every character produced is charged to a budget of
:func:`verno.core.limits.max_function_result` steps, so nested repetition (``((a*)*)*``) that would
take minutes stops with the size-limit error. Patterns are checked against Go's ``regexp/syntax`` rules
first (by the caller); nesting deeper than Python's parser can follow is Go's "nests too deeply".
"""
from __future__ import annotations

import random
import re
import string
from functools import lru_cache
from typing import Any

from verno.core import limits

try:  # Python >= 3.11
    from re import _constants as C  # type: ignore[attr-defined]
    from re import _parser as sre_parse  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover
    import sre_constants as C  # type: ignore[no-redef]
    import sre_parse  # type: ignore[no-redef]

#: the longest run an unbounded repeat (``*``, ``+``, ``{n,}``) produces
MAX_UNBOUNDED = 10
_PRINTABLE = [chr(c) for c in range(32, 127)]
_CATEGORIES = {
    C.CATEGORY_DIGIT: string.digits,
    C.CATEGORY_NOT_DIGIT: "".join(c for c in _PRINTABLE if not c.isdigit()),
    C.CATEGORY_SPACE: " \t\n\r\f\v",
    C.CATEGORY_NOT_SPACE: "".join(c for c in _PRINTABLE if not c.isspace()),
    C.CATEGORY_WORD: string.ascii_letters + string.digits + "_",
    C.CATEGORY_NOT_WORD: "".join(c for c in _PRINTABLE if not (c.isalnum() or c == "_")),
}


def _charset(items: list[tuple[Any, Any]]) -> tuple[tuple[int, int], ...]:
    """The class as sorted, disjoint code point ranges (a wide range costs no more than a narrow one)."""
    return _ranges(tuple((op, tuple(arg) if isinstance(arg, list) else arg) for op, arg in items))


@lru_cache(maxsize=256)
def _ranges(items: tuple[tuple[Any, Any], ...]) -> tuple[tuple[int, int], ...]:
    spans: list[tuple[int, int]] = []
    negate = False
    for op, arg in items:
        if op is C.NEGATE:
            negate = True
        elif op is C.LITERAL:
            spans.append((arg, arg))
        elif op is C.RANGE:
            spans.append((arg[0], arg[1]))
        elif op is C.CATEGORY:
            spans.extend((ord(c), ord(c)) for c in _CATEGORIES[arg])
        else:
            raise ValueError(f"unsupported character class element {op}")
    spans.sort()
    merged: list[list[int]] = []
    for lo, hi in spans:
        if merged and lo <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    # no surrogates: they are no characters of a UTF-8 string (Go would write U+FFFD)
    cut: list[list[int]] = []
    for lo, hi in merged:
        if lo < 0xD800 and hi > 0xDFFF:
            cut += [[lo, 0xD7FF], [0xE000, hi]]
        elif 0xD800 <= lo <= 0xDFFF or 0xD800 <= hi <= 0xDFFF:
            lo, hi = (lo if lo < 0xD800 else 0xE000), (hi if hi > 0xDFFF else 0xD7FF)
            if lo <= hi:
                cut.append([lo, hi])
        else:
            cut.append([lo, hi])
    merged = cut
    if negate:  # the printable ASCII characters outside the class
        inside = [(lo, hi) for lo, hi in merged]
        keep = [ord(c) for c in _PRINTABLE if not any(lo <= ord(c) <= hi for lo, hi in inside)]
        return tuple((c, c) for c in keep)
    return tuple((lo, hi) for lo, hi in merged)


def _pick(ranges: tuple[tuple[int, int], ...], rng: random.Random) -> str:
    total = sum(hi - lo + 1 for lo, hi in ranges)
    index = rng.randrange(total)
    for lo, hi in ranges:
        if index <= hi - lo:
            return chr(lo + index)
        index -= hi - lo + 1
    raise AssertionError("index beyond the ranges")  # pragma: no cover


class _Budget:
    """Steps left; running out is the size-limit error of the function."""

    __slots__ = ("left", "function")

    def __init__(self, function: str) -> None:
        self.left = limits.max_function_result()
        self.function = function

    def charge(self, steps: int) -> None:
        self.left -= steps
        if self.left < 0:
            raise limits.too_large(self.function, "the pattern expands to too many characters or steps")


def _gen(parsed: Any, rng: random.Random, groups: dict[int, str], budget: _Budget) -> str:
    out: list[str] = []
    budget.charge(1 + len(parsed))
    for op, arg in parsed:
        if op is C.LITERAL:
            out.append(chr(arg))
        elif op is C.NOT_LITERAL:
            out.append(rng.choice([c for c in _PRINTABLE if c != chr(arg)]))
        elif op is C.ANY:
            out.append(rng.choice(_PRINTABLE))
        elif op is C.IN:
            ranges = _charset(arg)
            if not ranges:
                raise ValueError("empty character class")
            out.append(_pick(ranges, rng))
        elif op in (C.MAX_REPEAT, C.MIN_REPEAT, getattr(C, "POSSESSIVE_REPEAT", None)):
            low, high, sub = arg
            if high is C.MAXREPEAT:
                high = max(low, MAX_UNBOUNDED)
            times = rng.randint(low, high)
            budget.charge(times)
            out.extend(_gen(sub, rng, groups, budget) for _ in range(times))
        elif op is C.SUBPATTERN:
            group, _add, _del, sub = arg
            text = _gen(sub, rng, groups, budget)
            budget.charge(len(text))  # text copied into a group is produced again
            if group is not None:
                groups[group] = text
            out.append(text)
        elif op is C.BRANCH:
            out.append(_gen(rng.choice(arg[1]), rng, groups, budget))
        elif op is C.GROUPREF:
            text = groups.get(arg, "")
            budget.charge(len(text))
            out.append(text)
        elif op is C.AT:
            continue
        elif op is C.CATEGORY:
            out.append(rng.choice(_CATEGORIES[arg]))
        else:
            raise ValueError(f"unsupported regular expression construct {op}")
    return "".join(out)


def generate(pattern: str, rng: random.Random, function: str = "random") -> str:
    try:
        parsed = sre_parse.parse(pattern)
    except re.error as exc:
        raise ValueError(f"error parsing regexp: {exc}") from None
    except RecursionError:
        raise ValueError(f"error parsing regexp: expression nests too deeply: `{pattern}`") from None
    try:
        return _gen(parsed, rng, {}, _Budget(function))
    except RecursionError:
        raise ValueError(f"error parsing regexp: expression nests too deeply: `{pattern}`") from None
