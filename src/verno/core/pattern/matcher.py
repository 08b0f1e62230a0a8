"""Kyverno's validate ``pattern`` matching (K: ``pkg/engine/validate/validate.go``).

``match_pattern(resource, pattern)`` walks the pattern and the resource together and returns a
:class:`PatternResult`:

* ``pass``;
* ``skip``: a condition anchor (not inside a list element that other elements satisfy) or a global
  anchor did not match;
* ``fail`` with ``path``, the JSON path Kyverno reports (``/spec/containers/0/image/``, always ending
  with ``/``), for ``validation error: <message> rule <name> failed at path <path>``;
* ``error`` (path ``""``) where Kyverno answers with a rule error: the failure happened while an anchor
  key of the pattern is absent from the resource, or a positional list was too short.

``message`` is Kyverno's internal reason (``negation anchor matched in resource: ...``); for ``skip`` it
is the text Kyverno puts in the rule response.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from verno.core.memo import IdentityMemo
from verno.core.operators.gotypes import go_sprint, go_type_name
from verno.core.pattern.anchors import (
    CONDITION,
    EQUALITY,
    EXISTENCE,
    GLOBAL,
    NEGATION,
    TRACKED,
    parse_anchor,
    split_anchors,
)
from verno.core.pattern.fastpath import passes_check
from verno.core.pattern.metadata import expand_in_metadata, has_metadata_wildcards
from verno.core.pattern.scalars import validate_scalar

Status = Literal["pass", "fail", "skip", "error"]

COND_MSG = "conditional anchor mismatch"
GLOBAL_MSG = "global anchor mismatch"
NEG_MSG = "negation anchor matched in resource"

_SCALARS = (str, int, float, bool, type(None))


#: what ``PatternResult.found`` holds when the resource has no value at the path
MISSING: Any = type("Missing", (), {"__repr__": lambda self: "MISSING", "__slots__": ()})()
#: what ``PatternResult.expected``/``found`` hold when the failure is not about one value
UNKNOWN: Any = type("Unknown", (), {"__repr__": lambda self: "UNKNOWN", "__slots__": ()})()


@dataclass(frozen=True, slots=True)
class PatternResult:
    status: Status
    path: str = ""
    message: str = ""
    #: for a failure at one value: the pattern's value there and the resource's (or MISSING)
    expected: Any = UNKNOWN
    found: Any = UNKNOWN

    @property
    def ok(self) -> bool:
        return self.status == "pass"


PASS = PatternResult("pass")


class _Err:
    """A Go ``error``; ``kind`` is set for Kyverno's typed anchor errors (cond/global/neg)."""

    __slots__ = ("expected", "found", "kind", "msg")

    def __init__(self, msg: str, kind: str = "", expected: Any = UNKNOWN, found: Any = UNKNOWN):
        self.kind = kind
        self.msg = msg
        #: the pattern value and the resource value the failure is about (explanations only)
        self.expected = expected
        self.found = found

    def _is(self, kind: str, text: str) -> bool:
        # K: anchor.isError: typed errors by code, anything else by message content
        return self.kind == kind if self.kind else text in self.msg

    @property
    def skip(self) -> bool:
        return self._is("cond", COND_MSG) or self._is("global", GLOBAL_MSG)

    @property
    def negation(self) -> bool:
        return self._is("neg", NEG_MSG)


Outcome = tuple[str, "_Err | None"]
_OK: Outcome = ("", None)


class _Walk:
    """One pattern evaluation; remembers which tracked anchor keys the resource had (K: AnchorMap)."""

    __slots__ = ("anchor_seen",)

    def __init__(self) -> None:
        self.anchor_seen: dict[str, bool] = {}

    def keys_are_missing(self) -> bool:
        for key, seen in self.anchor_seen.items():
            if not seen:
                a = parse_anchor(key)
                if a is not None and a.modifier == NEGATION:
                    continue
                return True
        return False

    def _track(self, layout: _MapLayout, resource: dict[str, Any]) -> None:
        seen = self.anchor_seen
        for key, name in layout.tracked:
            if not seen.get(key):
                seen[key] = name in resource

    # -- elements ------------------------------------------------------------------------------------------
    def element(self, resource: Any, pattern: Any, path: str) -> Outcome:
        if isinstance(pattern, dict):
            if not isinstance(resource, dict):
                return path, _Err(
                    f"pattern and resource have different structures. Path: {path}. "
                    f"Expected {go_type_name(pattern)}, found {go_type_name(resource)}", "", pattern, resource
                )
            layout = _map_layout(pattern)
            if layout.tracked:
                self._track(layout, resource)
            return self.map(resource, pattern, path, layout)
        if isinstance(pattern, list):
            if not isinstance(resource, list):
                return path, _Err(
                    f"validation rule failed at path {path}, resource does not satisfy the expected overlay pattern",
                    "", pattern, resource)
            return self.array(resource, pattern, path)
        if isinstance(pattern, _SCALARS):
            if isinstance(resource, list):
                for item in resource:
                    if not validate_scalar(item, pattern):
                        return path, _mismatch(resource, pattern, path)
                return _OK
            if not validate_scalar(resource, pattern):
                return path, _mismatch(resource, pattern, path)
            return _OK
        return path, _Err(f"failed at '{path}', pattern contains unknown type")

    def map(self, resource: dict[str, Any], pattern: dict[str, Any], path: str,
            layout: _MapLayout | None = None) -> Outcome:
        layout = layout or _map_layout(pattern)
        if layout.expand:
            expanded = expand_in_metadata(pattern, resource)
            if expanded is not pattern:
                layout = _map_layout(expanded)
                pattern = expanded
        for key, anchor in layout.entries:
            if anchor is None:
                out = self._plain(key, pattern[key], resource, path)
            else:
                out = self._anchored(anchor, key, pattern[key], resource, path)
            if out[1] is not None:
                return out
        return _OK

    def array(self, resource: list[Any], pattern: list[Any], path: str) -> Outcome:
        if not pattern:
            return path, _Err("pattern Array empty")
        first = pattern[0]
        if isinstance(first, dict):
            return self.array_of_maps(resource, first, path)
        if isinstance(first, _SCALARS):
            return self.element(resource, first, path)
        if len(resource) < len(pattern):
            return "", _Err(
                f"validate Array failed, array length mismatch, resource Array len is {len(resource)} "
                f"and pattern Array len is {len(pattern)}"
            )
        return self._each(((resource[i], p) for i, p in enumerate(pattern)), path)

    def array_of_maps(self, resource: list[Any], pattern: dict[str, Any], path: str) -> Outcome:
        return self._each(((r, pattern) for r in resource), path)

    def _each(self, pairs: Any, path: str) -> Outcome:
        applied = 0
        skipped: list[_Err] = []
        for i, (res, pat) in enumerate(pairs):
            out = self.element(res, pat, f"{path}{i}/")
            err = out[1]
            if err is not None:
                if err.skip:
                    skipped.append(err)
                    continue
                return out
            applied += 1
        if applied == 0 and skipped:
            return path, _Err("; ".join(e.msg for e in skipped))
        return _OK

    # -- one map key (K: anchor handlers) --------------------------------------------------------------------
    def handle(self, key: str, pattern: Any, resource: dict[str, Any], path: str) -> Outcome:
        a = parse_anchor(key)
        if a is None or a.modifier not in _HANDLED:
            return self._plain(key, pattern, resource, path)
        return self._anchored(a, key, pattern, resource, path)

    def _anchored(self, a: Any, key: str, pattern: Any, resource: dict[str, Any], path: str) -> Outcome:
        kind = a.modifier
        name = a.key
        here = f"{path}{name}/"
        present = name in resource
        if kind == CONDITION:
            if not present:
                return here, _Err(f"{COND_MSG}: conditional anchor key doesn't exist in the resource", "cond")
            out_path, err = self.element(resource[name], pattern, here)
            if err is not None:
                return out_path, _Err(f"{COND_MSG}: {err.msg}", "cond")
            return _OK
        if not present:
            return _OK
        if kind == GLOBAL:
            out_path, err = self.element(resource[name], pattern, here)
            if err is not None:
                return out_path, _Err(f"{GLOBAL_MSG}: {err.msg}", "global")
            return _OK
        if kind == EQUALITY:
            out = self.element(resource[name], pattern, here)
            return out if out[1] is not None else _OK
        if kind == NEGATION:
            return here, _Err(f"{NEG_MSG}: {here} is not allowed", "neg", MISSING, resource[name])
        return self._existence(resource[name], pattern, here)

    def _plain(self, key: str, pattern: Any, resource: dict[str, Any], path: str) -> Outcome:
        value = resource.get(key)
        if isinstance(pattern, str) and pattern == "*":
            if value is not None:
                return _OK
            return path, _Err(f"{path}/{key} not found", "", pattern, MISSING if key not in resource else None)
        out = self.element(value, pattern, f"{path}{key}/")
        err = out[1]
        if err is not None and value is None and err.found is None and key not in resource:
            err.found = MISSING  # the failure is about this absent key
        return out

    def _existence(self, value: Any, pattern: Any, here: str) -> Outcome:
        if not isinstance(value, list):
            return here, _Err(
                f"invalid resource type {go_type_name(value)}: Existence ^ () anchor can be used only on "
                "list/array type resource"
            )
        if not isinstance(pattern, list):
            return here, _Err(
                f"invalid pattern type {go_type_name(pattern)}: Pattern has to be of list to compare against resource"
            )
        for item in pattern:
            if not isinstance(item, dict):
                return here, _Err(
                    f"invalid pattern type {go_type_name(pattern)}: Pattern has to be of type map to compare "
                    "against items in resource"
                )
            if not any(self.element(r, item, f"{here}{i}/")[1] is None for i, r in enumerate(value)):
                return here, _Err(f"existence anchor validation failed at path {here}", "", item, value)
        return _OK


_HANDLED = frozenset([CONDITION, GLOBAL, EQUALITY, NEGATION, EXISTENCE])


class _MapLayout:
    """What a pattern map's evaluation needs, computed once per (policy-owned) map.

    ``entries``: (key, anchor or None) in Kyverno's evaluation order; ``tracked``: the anchor
    keys whose presence is recorded; ``expand``: whether wildcard label/annotation keys may need
    expanding against the resource.
    """

    __slots__ = ("entries", "expand", "tracked")

    def __init__(self, pattern: dict[str, Any]):
        anchors, plain = split_anchors(pattern)
        entries = []
        for key in anchors + plain:
            a = parse_anchor(key)
            entries.append((key, a if a is not None and a.modifier in _HANDLED else None))
        self.entries = tuple(entries)
        self.tracked = tuple((key, a.key) for key in pattern
                             if (a := parse_anchor(key)) is not None and a.modifier in TRACKED)
        self.expand = has_metadata_wildcards(pattern)


_map_layout = IdentityMemo(_MapLayout)


def _mismatch(resource: Any, pattern: Any, path: str) -> _Err:
    return _Err(f"resource value '{go_sprint(resource)}' does not match '{go_sprint(pattern)}' at path {path}",
                "", pattern, resource)


def match_pattern(resource: Any, pattern: Any, *, stable: bool = False) -> PatternResult:
    """Validate ``resource`` against a Kyverno ``validate.pattern`` (see the module docstring).

    ``stable``: the pattern object belongs to a loaded policy (not a per-resource substitution), so a
    compiled pass check may be built for it once and reused (``fastpath.py``).
    """
    if stable:
        check = passes_check(pattern)
        if check is not None and check(resource):
            return PASS
    walk = _Walk()
    path, err = walk.element(resource, pattern, "/")
    if err is None:
        return PASS
    if err.skip:
        return PatternResult("skip", "", err.msg)
    if err.negation:
        return PatternResult("fail", path, err.msg, err.expected, err.found)
    if walk.keys_are_missing() or not path:
        return PatternResult("error", "", err.msg, err.expected, err.found)
    return PatternResult("fail", path, err.msg, err.expected, err.found)
