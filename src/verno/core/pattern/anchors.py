"""Pattern anchors (K: ``pkg/engine/anchor``), shared by validate patterns and mutate's strategic merge.

An anchor is a map key ``^([+<=X^])?\\((.+)\\)$`` (surrounding spaces ignored):

====== =========== ==================================================================================
key    kind        validate
====== =========== ==================================================================================
(k)    condition   k present and matching: check the siblings; otherwise the enclosing element skips
<(k)   global      k present and not matching: the whole rule skips
X(k)   negation    k present: fail
=(k)   equality    k present: its value must match; absent: fine
^(k)   existence   k must hold a list in which each pattern map matches at least one element
+(k)   add         mutate only; validate treats the key literally, as Kyverno does
====== =========== ==================================================================================
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any, NamedTuple

from verno.core.memo import IdentityMemo

CONDITION = ""
GLOBAL = "<"
NEGATION = "X"
ADD_IF_NOT_PRESENT = "+"
EQUALITY = "="
EXISTENCE = "^"

_MODIFIERS = frozenset("+<=X^")
#: anchors evaluated in a map's first phase (K: ``GetAnchorsResourcesFromMap``); global anchors are not
PHASE_ONE = frozenset([CONDITION, EXISTENCE, EQUALITY, NEGATION])
#: anchors that make a pattern value "have nested anchors" (K: ``hasNestedAnchors``)
NESTING = frozenset([CONDITION, EXISTENCE, EQUALITY, NEGATION, GLOBAL])
#: anchors tracked to detect keys missing from the resource (K: ``AnchorMap.CheckAnchorInResource``)
TRACKED = frozenset([CONDITION, EXISTENCE, NEGATION])


class Anchor(NamedTuple):
    modifier: str
    key: str

    def __str__(self) -> str:
        return f"{self.modifier}({self.key})"


@lru_cache(maxsize=8192)
def parse_anchor(text: str) -> Anchor | None:
    """The anchor a map key denotes, or None for a plain key."""
    s = text.strip()
    if len(s) < 3 or s[-1] != ")":
        return None
    if s[0] == "(":
        key, modifier = s[1:-1], CONDITION
    elif s[0] in _MODIFIERS and s[1] == "(" and len(s) > 3:
        key, modifier = s[2:-1], s[0]
    else:
        return None
    return Anchor(modifier, key) if key else None


def anchor_kind(text: str) -> str | None:
    """The anchor's modifier (``""`` for a condition anchor), or None for a plain key."""
    a = parse_anchor(text)
    return None if a is None else a.modifier


def has_nested_anchors(pattern: Any) -> bool:
    """Whether a pattern value contains any validate anchor at any depth."""
    if isinstance(pattern, dict):
        for key in pattern:
            a = parse_anchor(key)
            if a is not None and a.modifier in NESTING:
                return True
        return any(has_nested_anchors(v) for v in pattern.values())
    if isinstance(pattern, list):
        return any(has_nested_anchors(v) for v in pattern)
    return False


def split_anchors(pattern: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(phase-one anchor keys sorted, remaining keys: global anchors, then nested anchors, then plain).

    Computed once per pattern dict (patterns belong to prepared policies and do not change).
    """
    return _split_anchors(pattern)


def _layout(pattern: dict[str, Any]) -> tuple[list[str], list[str]]:
    anchors: list[str] = []
    front: list[str] = []
    nested: list[str] = []
    rest: list[str] = []
    for key, value in pattern.items():
        a = parse_anchor(key)
        if a is not None and a.modifier in PHASE_ONE:
            anchors.append(key)
        elif a is not None and a.modifier == GLOBAL:
            front.append(key)
        elif has_nested_anchors(value):
            nested.append(key)
        else:
            rest.append(key)
    anchors.sort()
    return anchors, front + nested + rest


_split_anchors = IdentityMemo(_layout)
