"""Anchor preprocessing of a ``patchStrategicMerge`` (K: ``pkg/engine/mutate/patch/strategicPreprocessing.go``).

Before the strategic merge, the patch is rewritten against the resource:

* ``+(k)``: kept as ``k`` when the resource has no ``k`` at that place, dropped otherwise;
* ``(k)`` (condition) and ``<(k)`` (global): the resource value at ``k`` must match the anchor's value
  (the validate pattern matcher decides). In a list of maps, a pattern element with anchors is tried
  against every resource element; for each element it matches, a copy without anchors and bound to the
  element's ``name`` is appended to the patch list (so the merge updates exactly that element). A failed
  condition outside a list drops the whole patch; a global anchor that matches no element drops it too;
* finally every condition/global anchor, and every map left empty, is removed from the patch.

Kyverno's quirks are kept on purpose: the copy of a list pattern element is shared by all resource
elements (an ``+(k)`` dropped for one element stays dropped for the next), and empty maps in the patch
are removed.
"""
from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

from verno.core.pattern.anchors import ADD_IF_NOT_PRESENT, CONDITION, GLOBAL, Anchor, parse_anchor
from verno.core.pattern.matcher import match_pattern


class PatchError(Exception):
    """A patch cannot be applied (bad structure, bad directive); ``path`` is a JSON pointer."""

    def __init__(self, message: str, path: str = ""):
        self.path = path
        super().__init__(f"{message} at path {path or '/'}" if path is not None else message)


class ConditionFailed(Exception):
    """A condition anchor did not match: the enclosing element (or the whole patch) is dropped."""


class GlobalConditionFailed(Exception):
    """A global anchor did not match: the whole patch is dropped."""


def _is_condition(a: Anchor | None) -> bool:
    return a is not None and a.modifier in (CONDITION, GLOBAL)


def _is_global(a: Anchor | None) -> bool:
    return a is not None and a.modifier == GLOBAL


def _is_only_condition(a: Anchor | None) -> bool:
    return a is not None and a.modifier == CONDITION


def _has_anchor(a: Anchor | None) -> bool:
    return a is not None and a.modifier in (CONDITION, GLOBAL, ADD_IF_NOT_PRESENT)


def _anchor(key: Any) -> Anchor | None:
    return parse_anchor(key) if isinstance(key, str) else None


def preprocess(patch: Any, resource: Any) -> Any:
    """The patch with mutate anchors resolved against ``resource`` (a new document).

    :raises ConditionFailed, GlobalConditionFailed: the patch does not apply (the caller drops it).
    :raises PatchError: the patch and the resource have incompatible structures.
    """
    pattern = copy.deepcopy(patch)
    _recursive(pattern, resource, "")
    if not isinstance(pattern, dict):
        raise PatchError("patchStrategicMerge must be a map", "")
    _delete_condition_elements(pattern)
    return pattern


def _recursive(pattern: Any, resource: Any, path: str) -> None:
    if isinstance(pattern, dict):
        _walk_map(pattern, resource, path)
    elif isinstance(pattern, list) and pattern and isinstance(pattern[0], dict):
        _process_list_of_maps(pattern, resource, path)


def _walk_map(pattern: dict[str, Any], resource: Any, path: str) -> None:
    _handle_add_if_not_present(pattern, resource)
    _validate_conditions(pattern, resource, path)
    for key in list(pattern):
        if _has_anchor(_anchor(key)) or key not in pattern:
            continue
        value = resource.get(key) if isinstance(resource, dict) else None
        _recursive(pattern[key], value, f"{path}/{key}")


def _process_list_of_maps(pattern: list[Any], resource: Any, path: str) -> None:
    if resource is not None and not isinstance(resource, list):
        raise PatchError(f"wrong node kind: expected a list in the resource, found {type(resource).__name__}",
                         path)
    elements = list(resource or [])
    for element in list(pattern):
        if not _has_anchors(element, _has_anchor):
            continue
        has_global = _has_anchors(element, _is_global)
        global_passed = False
        last_global: GlobalConditionFailed | None = None
        shared = copy.deepcopy(element)
        for index, item in enumerate(elements):
            try:
                _recursive(shared, item, f"{path}/{index}")
            except ConditionFailed:
                continue
            except GlobalConditionFailed as exc:
                last_global = exc
                continue
            if has_global:
                global_passed = True
            else:
                _bind_to_name(pattern, shared, item)
        if resource is None:
            try:
                _recursive(shared, None, path)
            except ConditionFailed:
                continue
            if has_global:
                global_passed = True
        if not global_passed and last_global is not None:
            raise last_global


def _bind_to_name(pattern: list[Any], element: Any, item: Any) -> None:
    """A copy of ``element`` without anchors, naming the resource element it matched, appended."""
    name = item.get("name") if isinstance(item, dict) else None
    if name is None or name == "":
        return
    node = copy.deepcopy(element)
    if _delete_anchors(node, True, False):
        return
    if isinstance(node, dict):
        node["name"] = name
        pattern.append(node)


def _handle_add_if_not_present(pattern: Any, resource: Any) -> int:
    if not isinstance(pattern, dict):
        return 0
    anchors = [(key, a) for key in pattern if (a := _anchor(key)) is not None and a.modifier == ADD_IF_NOT_PRESENT]
    for key, a in anchors:
        if isinstance(resource, dict) and a.key in resource:
            del pattern[key]
        else:
            _rename(pattern, key, a.key)
    return len(anchors)


def _rename(mapping: dict[str, Any], old: str, new: str) -> None:
    items = [(new if k == old else k, v) for k, v in mapping.items()]
    mapping.clear()
    mapping.update(items)


def _validate_conditions(pattern: dict[str, Any], resource: Any, path: str) -> None:
    try:
        _check_conditions(pattern, resource, _is_global, path)
    except ConditionFailed as exc:
        raise GlobalConditionFailed(f"global condition failed: {exc}") from None
    _check_conditions(pattern, resource, _is_only_condition, path)


def _check_conditions(pattern: dict[str, Any], resource: Any, keep: Callable[[Anchor | None], bool],
                      path: str) -> None:
    for key in list(pattern):
        a = _anchor(key)
        if not keep(a):
            continue
        assert a is not None
        if not isinstance(resource, dict) or a.key not in resource:
            raise ConditionFailed(f'could not found "{a.key}" key in the resource at {path}/{a.key}')
        value = pattern[key]
        actual = resource[a.key]
        if _handle_add_if_not_present(value, actual) > 0:
            continue
        result = match_pattern(_as_interface(actual), _as_interface(value))
        if result.status != "pass":
            raise ConditionFailed(f"condition failed at {path}/{a.key}: {result.message}")


def _as_interface(value: Any) -> Any:
    """A scalar as Kyverno's YAML round-trip sees it: its text (maps and lists keep their types)."""
    if isinstance(value, (dict, list)):
        return value
    if isinstance(value, str):
        return value
    return json.dumps(value)


def _has_anchors(node: Any, test: Callable[[Anchor | None], bool]) -> bool:
    if isinstance(node, dict):
        for key, value in node.items():
            if test(_anchor(key)):
                return True
            if value is not None and _has_anchors(value, test):
                return True
        return False
    if isinstance(node, list):
        return any(_has_anchors(e, test) for e in node)
    if isinstance(node, str):
        return _is_condition(parse_anchor(node))
    return False


def _delete_condition_elements(pattern: dict[str, Any]) -> None:
    for key in list(pattern):
        if _delete_anchors(pattern[key], _is_condition(_anchor(key)), False):
            del pattern[key]


def _delete_anchors(node: Any, delete_scalar: bool, traverse: bool) -> bool:
    """Remove condition anchors below ``node``; True when ``node`` itself must leave the patch."""
    if isinstance(node, dict):
        return _delete_in_map(node, traverse)
    if isinstance(node, list):
        return _delete_in_list(node, traverse)
    return delete_scalar


def _delete_in_map(node: dict[str, Any], traverse: bool) -> bool:
    remaining = False
    for key in [k for k in node if _is_condition(_anchor(k))]:
        if _delete_anchors(node[key], True, traverse):
            del node[key]
        else:
            remaining = True
    if remaining:
        for key in [k for k in node if _is_condition(_anchor(k))]:
            _rename(node, key, _anchor(key).key)  # type: ignore[union-attr]
    delete = True
    for key in list(node):
        if _delete_anchors(node[key], False, traverse):
            del node[key]
        else:
            delete = False
    return delete


def _delete_in_list(node: list[Any], traverse: bool) -> bool:
    was_empty = not node
    keep: list[Any] = []
    for element in node:
        if _has_anchors(element, _has_anchor):
            drop = True
            if traverse and isinstance(element, dict):
                drop = _delete_anchors(element, True, traverse)
        else:
            drop = _delete_anchors(element, False, traverse)
        if not drop:
            keep.append(element)
    node[:] = keep
    return not node and not was_empty
