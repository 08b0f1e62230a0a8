"""Strict semantic versions as ``github.com/blang/semver/v4`` ``Parse`` reads them (no ``v`` prefix)."""
from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple


class Version(NamedTuple):
    major: int
    minor: int
    patch: int
    pre: tuple[int | str, ...]


def _numeric(s: str) -> bool:
    return s.isascii() and s.isdigit()


def _alnum(s: str) -> bool:
    return bool(s) and all(c.isascii() and (c.isalnum() or c == "-") for c in s)


@lru_cache(maxsize=2048)
def parse_semver(text: str) -> Version:
    """``MAJOR.MINOR.PATCH[-pre][+build]``; ``ValueError`` when blang/semver rejects it."""
    if not text:
        raise ValueError("Version string empty")
    parts = text.split(".", 2)
    if len(parts) != 3:
        raise ValueError("No Major.Minor.Patch elements found")
    major, minor, rest = parts
    cut = len(rest)
    for sep in "+-":
        i = rest.find(sep)
        if i != -1:
            cut = min(cut, i)
    patch, tail = rest[:cut], rest[cut:]
    numbers = []
    for part in (major, minor, patch):
        if not _numeric(part):
            raise ValueError(f"Invalid character(s) found in version {part!r}")
        if len(part) > 1 and part[0] == "0":
            raise ValueError(f"Version must not contain leading zeroes {part!r}")
        numbers.append(int(part))
    build = ""
    if "+" in tail:
        tail, build = tail.split("+", 1)
        if not all(_alnum(b) for b in build.split(".")):
            raise ValueError(f"Invalid build metadata {build!r}")
    pre: list[int | str] = []
    if tail:
        if tail[0] != "-":  # pragma: no cover - cut always stops at '+' or '-'
            raise ValueError(f"Invalid version tail {tail!r}")
        for ident in tail[1:].split("."):
            if not _alnum(ident):
                raise ValueError(f"Invalid prerelease identifier {ident!r}")
            if _numeric(ident):
                if len(ident) > 1 and ident[0] == "0":
                    raise ValueError(f"Prerelease must not contain leading zeroes {ident!r}")
                pre.append(int(ident))
            else:
                pre.append(ident)
    return Version(numbers[0], numbers[1], numbers[2], tuple(pre))


def try_parse_semver(text: object) -> Version | None:
    if not isinstance(text, str):
        return None
    try:
        return parse_semver(text)
    except ValueError:
        return None


def _cmp_ident(a: int | str, b: int | str) -> int:
    if isinstance(a, int) and isinstance(b, int):
        return (a > b) - (a < b)
    if isinstance(a, int):
        return -1
    if isinstance(b, int):
        return 1
    return (a > b) - (a < b)


def compare_semver(a: Version, b: Version) -> int:
    """-1, 0 or 1; a release is greater than its pre-releases; build metadata is ignored."""
    head_a, head_b = a[:3], b[:3]
    if head_a != head_b:
        return -1 if head_a < head_b else 1
    if not a.pre and not b.pre:
        return 0
    if not a.pre:
        return 1
    if not b.pre:
        return -1
    for x, y in zip(a.pre, b.pre):
        c = _cmp_ident(x, y)
        if c:
            return c
    return (len(a.pre) > len(b.pre)) - (len(a.pre) < len(b.pre))
