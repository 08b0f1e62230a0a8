"""Generate a random string matching a regular expression (what goregen does for ``random()``)."""
from __future__ import annotations

import random
import re
import string
from typing import Any

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


def _charset(items: list[tuple[Any, Any]]) -> list[str]:
    chars: set[str] = set()
    negate = False
    for op, arg in items:
        if op is C.NEGATE:
            negate = True
        elif op is C.LITERAL:
            chars.add(chr(arg))
        elif op is C.RANGE:
            chars.update(chr(c) for c in range(arg[0], arg[1] + 1))
        elif op is C.CATEGORY:
            chars.update(_CATEGORIES[arg])
        else:
            raise ValueError(f"unsupported character class element {op}")
    if negate:
        return [c for c in _PRINTABLE if c not in chars]
    return sorted(chars)


def _gen(parsed: Any, rng: random.Random, groups: dict[int, str]) -> str:
    out: list[str] = []
    for op, arg in parsed:
        if op is C.LITERAL:
            out.append(chr(arg))
        elif op is C.NOT_LITERAL:
            out.append(rng.choice([c for c in _PRINTABLE if c != chr(arg)]))
        elif op is C.ANY:
            out.append(rng.choice(_PRINTABLE))
        elif op is C.IN:
            choices = _charset(arg)
            if not choices:
                raise ValueError("empty character class")
            out.append(rng.choice(choices))
        elif op in (C.MAX_REPEAT, C.MIN_REPEAT, getattr(C, "POSSESSIVE_REPEAT", None)):
            low, high, sub = arg
            if high is C.MAXREPEAT:
                high = max(low, MAX_UNBOUNDED)
            out.extend(_gen(sub, rng, groups) for _ in range(rng.randint(low, high)))
        elif op is C.SUBPATTERN:
            group, _add, _del, sub = arg
            text = _gen(sub, rng, groups)
            if group is not None:
                groups[group] = text
            out.append(text)
        elif op is C.BRANCH:
            out.append(_gen(rng.choice(arg[1]), rng, groups))
        elif op is C.GROUPREF:
            out.append(groups.get(arg, ""))
        elif op is C.AT:
            continue
        elif op is C.CATEGORY:
            out.append(rng.choice(_CATEGORIES[arg]))
        else:
            raise ValueError(f"unsupported regular expression construct {op}")
    return "".join(out)


def generate(pattern: str, rng: random.Random) -> str:
    try:
        parsed = sre_parse.parse(pattern)
    except re.error as exc:
        raise ValueError(f"error parsing regexp: {exc}") from None
    return _gen(parsed, rng, {})
