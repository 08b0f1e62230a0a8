"""Wildcard label and annotation keys in a pattern's ``metadata`` (K: ``wildcards.ExpandInMetadata``).

A pattern key under ``metadata.labels`` or ``metadata.annotations`` may hold ``*``/``?`` wildcards (plain or
inside an anchor); before matching, each is replaced by the first resource key it matches.
"""
from __future__ import annotations

from typing import Any

from verno.core import wildcard
from verno.core.pattern.anchors import parse_anchor


def has_metadata_wildcards(pattern: dict[str, Any]) -> bool:
    """Whether the pattern's ``metadata.labels`` or ``metadata.annotations`` has a wildcard key."""
    _, meta = _find("metadata", pattern)
    if not isinstance(meta, dict):
        return False
    for tag in ("labels", "annotations"):
        _, data = _find(tag, meta)
        if isinstance(data, dict) and any(wildcard.has_wildcard(k) for k in data):
            return True
    return False


def _find(tag: str, mapping: dict[str, Any]) -> tuple[str, Any]:
    for key, value in mapping.items():
        if key == tag:
            return key, value
        a = parse_anchor(key)
        if a is not None and a.key == tag:
            return key, value
    return "", None


def _string_map(tag: str, data: Any) -> tuple[str, dict[str, str] | None]:
    if not isinstance(data, dict):
        return "", None
    key, value = _find(tag, data)
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        return "", None
    return key, value


def _expand_keys(pattern: dict[str, str], resource: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pattern.items():
        if not wildcard.has_wildcard(key):
            out[key] = value
            continue
        a = parse_anchor(key)
        target = key if a is None else a.key
        match = next((k for k in resource if wildcard.match(target, k)), target)
        out[match if a is None else f"{a.modifier}({match})"] = value
    return out


def expand_in_metadata(pattern: dict[str, Any], resource: dict[str, Any]) -> dict[str, Any]:
    """The pattern with wildcard label/annotation keys replaced by the resource keys they match.

    The pattern is never modified; a new map is returned only when a key was expanded.
    """
    meta_key, meta = _find("metadata", pattern)
    if not isinstance(meta, dict):
        return pattern
    resource_meta = resource.get("metadata")
    if resource_meta is None:
        return pattern
    replaced: dict[str, Any] = {}
    for tag in ("labels", "annotations"):
        tag_key, pattern_data = _string_map(tag, meta)
        if pattern_data is None or not any(wildcard.has_wildcard(k) for k in pattern_data):
            continue
        _, resource_data = _string_map(tag, resource_meta)
        if resource_data is None:
            continue
        replaced[tag_key] = _expand_keys(pattern_data, resource_data)
    if not replaced:
        return pattern
    new_pattern = dict(pattern)
    new_pattern[meta_key] = {**meta, **replaced}
    return new_pattern
