"""``semver_compare`` with github.com/blang/semver/v4 version and range syntax."""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from verno.core.errors import JMESPathError
from verno.core.jmespath.functions._spec import S, Spec

_NUM = r"(?:0|[1-9][0-9]*)"
_IDENT = r"[0-9A-Za-z-]+"
_VERSION_RE = re.compile(
    rf"^({_NUM})\.({_NUM})\.({_NUM})(?:-({_IDENT}(?:\.{_IDENT})*))?(?:\+({_IDENT}(?:\.{_IDENT})*))?$")


@dataclass(frozen=True, order=False)
class Version:
    major: int
    minor: int
    patch: int
    pre: tuple[int | str, ...] = ()

    def key(self) -> tuple:
        # a version without prerelease sorts after any prerelease of the same core
        pre = tuple((0, p, "") if isinstance(p, int) else (1, 0, p) for p in self.pre)
        return (self.major, self.minor, self.patch, 1 if not self.pre else 0, pre)


def parse_version(text: str) -> Version:
    """blang ``semver.Parse`` (strict ``MAJOR.MINOR.PATCH[-pre][+build]``)."""
    m = _VERSION_RE.match(text)
    if not m:
        raise ValueError(f"invalid semantic version: {text!r}")
    pre: list[int | str] = []
    if m.group(4):
        for part in m.group(4).split("."):
            if part.isdigit():
                if len(part) > 1 and part.startswith("0"):
                    raise ValueError(f"Numeric PreRelease version must not contain leading zeroes {part!r}")
                pre.append(int(part))
            else:
                pre.append(part)
    return Version(int(m.group(1)), int(m.group(2)), int(m.group(3)), tuple(pre))


def _cmp(a: Version, b: Version) -> int:
    ka, kb = a.key(), b.key()
    return (ka > kb) - (ka < kb)


_OPS: dict[str, Callable[[int], bool]] = {
    "": lambda c: c == 0, "=": lambda c: c == 0, "==": lambda c: c == 0,
    "!": lambda c: c != 0, "!=": lambda c: c != 0,
    ">": lambda c: c > 0, ">=": lambda c: c >= 0, "<": lambda c: c < 0, "<=": lambda c: c <= 0,
}
_COMPARATOR_RE = re.compile(r"^(>=|<=|!=|==|>|<|=|!)?(.*)$")

Predicate = Callable[[Version], bool]


def _wildcard(op: str, version: str) -> list[str]:
    """blang's expansion of ``1.x`` / ``1.2.x`` into plain comparators."""
    parts = version.split(".")
    if len(parts) == 2:
        parts.append("x")
    if len(parts) != 3 or parts[0] in ("x", "X", "*"):
        raise ValueError(f"Could not parse Range {version!r}")
    if parts[1] in ("x", "X", "*"):
        low = f"{parts[0]}.0.0"
        high = f"{int(parts[0]) + 1}.0.0"
    else:
        low = f"{parts[0]}.{parts[1]}.0"
        high = f"{parts[0]}.{int(parts[1]) + 1}.0"
    if op in ("", "=", "=="):
        return [f">={low}", f"<{high}"]
    if op in ("!", "!="):
        return [f"<{low}", f">={high}"]  # either side: handled as OR below
    if op == ">":
        return [f">={high}"]
    if op == ">=":
        return [f">={low}"]
    if op == "<":
        return [f"<{low}"]
    return [f"<{high}"]  # <=


def _comparator(text: str) -> Predicate:
    m = _COMPARATOR_RE.match(text)
    assert m is not None
    op, version = m.group(1) or "", m.group(2)
    if re.search(r"(^|\.)[xX*](\.|$)", version):
        expanded = _wildcard(op, version)
        preds = [_comparator(e) for e in expanded]
        if op in ("!", "!="):
            return lambda v: any(p(v) for p in preds)
        return lambda v: all(p(v) for p in preds)
    target = parse_version(version)
    test = _OPS[op]
    return lambda v: test(_cmp(v, target))


@lru_cache(maxsize=512)
def parse_range(text: str) -> Predicate:
    """blang ``semver.ParseRange``: space-separated comparators (AND) joined by ``||`` (OR)."""
    alternatives: list[list[Predicate]] = []
    for alternative in text.split("||"):
        tokens = alternative.split()
        if not tokens:
            raise ValueError(f"Could not get version from string: {text!r}")
        merged: list[str] = []
        for token in tokens:
            if merged and merged[-1] in _OPS and merged[-1] != "":
                merged[-1] += token
            else:
                merged.append(token)
        alternatives.append([_comparator(t) for t in merged])
    return lambda v: any(all(p(v) for p in preds) for preds in alternatives)


def semver_compare(version: str, expected: str) -> bool:
    """Whether ``version`` is inside ``expected``; an unparsable version counts as ``0.0.0`` (Kyverno)."""
    try:
        parsed = parse_version(version)
    except ValueError:
        parsed = Version(0, 0, 0)
    try:
        predicate = parse_range(expected)
    except ValueError as exc:
        raise JMESPathError(str(exc)) from None
    return predicate(parsed)


FUNCTIONS = [
    Spec("semver_compare", semver_compare, [S, S], "boolean",
         "compares two strings which comply with the semantic versioning schema and outputs a boolean "
         "response as to the position of the second relative to the first"),
]
