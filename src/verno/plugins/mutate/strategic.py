"""Kubernetes strategic merge as kyaml's ``patchstrategicmerge.Filter`` applies it (merge2, list prepend).

``strategic_merge(resource, patch)`` returns a new resource:

* maps merge key by key; a ``null`` value removes the key; ``$patch: delete`` removes the map,
  ``$patch: replace`` replaces it, ``$patch: merge`` is the default; any other directive is an error;
* lists merge by key where the schema (``mergekeys``) says so, or by an inferred ``name``; an element
  with ``$patch: delete`` removes the element it names; a ``{$patch: replace}`` element replaces the list;
  elements new to the resource come first, then the resource's elements in their order (kyaml's
  ``ListPrepend``);
  other lists are replaced by the patch's list;
* a map patched onto a list (or any other kind change) is an error naming the path.
"""
from __future__ import annotations

import copy
from typing import Any

from verno.plugins.mutate import mergekeys
from verno.plugins.mutate.anchors import PatchError
from verno.plugins.mutate.mergekeys import Schema

DIRECTIVE = "$patch"
_DIRECTIVES = ("replace", "merge", "delete")


class _Delete:
    """The result "remove this node" (kyaml's ClearNode)."""


DELETE = _Delete()


def strategic_merge(resource: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Apply ``patch`` to ``resource`` (neither is modified).

    :raises PatchError: incompatible kinds, an unknown ``$patch`` directive, conflicting merge keys.
    """
    result = _walk(resource, patch, mergekeys.schema_for(resource), "")
    if result is DELETE or result is None:
        return {}
    return result


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "map"
    if isinstance(value, list):
        return "list"
    return "scalar"


_KIND_NAMES = {"map": "MappingNode", "list": "SequenceNode", "scalar": "ScalarNode"}


def _walk(dest: Any, src: Any, schema: Schema, path: str) -> Any:
    kind = _kind(dest) if dest is not None else _kind(src)
    if dest is not None and src is not None and _kind(src) != kind:
        raise PatchError(f"wrong node kind: expected {_KIND_NAMES[kind]} but got {_KIND_NAMES[_kind(src)]} "
                         f"in the patch", path or "/")
    if kind == "map":
        return _walk_map(dest, src, schema, path)
    if kind == "list":
        return _walk_list(dest, src, schema, path)
    return _walk_scalar(dest, src, path)


def _directive(value: dict[str, Any], path: str) -> str:
    directive = value.get(DIRECTIVE, "merge")
    if directive not in _DIRECTIVES:
        raise PatchError(f"unknown patch strategy '{directive}'", f"{path}/{DIRECTIVE}")
    return directive


def _without_directive(value: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in value.items() if k != DIRECTIVE}


def _walk_map(dest: dict[str, Any] | None, src: dict[str, Any] | None, schema: Schema, path: str) -> Any:
    if src is None and dest is not None:
        return dest
    assert src is not None
    directive = _directive(src, path)
    if directive == "delete":
        return DELETE
    patch = _without_directive(src)
    if dest is None or directive == "replace":
        return _clean(patch, schema, path)
    out = dict(dest)
    for key in sorted(patch):
        child = mergekeys.child(schema, key)
        value = _walk(dest.get(key), patch[key], child, f"{path}/{key}") if patch[key] is not None else DELETE
        if value is DELETE or value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def _clean(value: Any, schema: Schema, path: str) -> Any:
    """A patch value added where the resource has nothing: nulls and directives removed."""
    if isinstance(value, dict):
        if _directive(value, path) == "delete":
            return DELETE
        out: dict[str, Any] = {}
        for key in sorted(_without_directive(value)):
            item = value[key]
            if item is None:
                continue
            cleaned = _clean(item, mergekeys.child(schema, key), f"{path}/{key}")
            if cleaned is not DELETE:
                out[key] = cleaned
        # keep the patch's own key order for readability
        return {k: out[k] for k in value if k in out}
    if isinstance(value, list):
        return _walk_list(None, value, schema, path)
    return copy.deepcopy(value)


def _walk_scalar(dest: Any, src: Any, path: str) -> Any:
    if src is None:
        return dest
    return copy.deepcopy(src)


def _list_directive(src: list[Any], path: str) -> tuple[str, list[Any]]:
    for i, item in enumerate(src):
        if isinstance(item, dict) and DIRECTIVE in item and len(item) == 1:
            directive = item[DIRECTIVE]
            if directive not in _DIRECTIVES:
                raise PatchError(f"unknown patch strategy '{directive}'", f"{path}/{i}/{DIRECTIVE}")
            return directive, src[:i] + src[i + 1:]
    return "merge", src


def _walk_list(dest: list[Any] | None, src: list[Any] | None, schema: Schema, path: str) -> Any:
    if src is None:
        return dest
    try:
        key = mergekeys.list_key(schema, dest, src, path.lstrip("/").replace("/", "."))
    except ValueError as exc:
        raise PatchError(str(exc), path) from None
    if key is None:
        return copy.deepcopy(src)
    directive, src = _list_directive(src, path)
    if directive == "delete":
        return DELETE
    element_schema = mergekeys.element(schema)
    if directive == "replace" or dest is None:
        result = _merge_elements([], src, key, element_schema, path)
    else:
        result = _merge_elements(dest, src, key, element_schema, path)
    return result


def _merge_elements(dest: list[Any], src: list[Any], key: str, schema: Schema, path: str) -> list[Any]:
    """kyaml's associative merge with ``ListPrepend``: new patch elements first, then the resource's
    elements (merged with their patch element) in their own order."""
    if key == "":
        return _merge_scalars(dest, src)
    patch_by_key: dict[str, Any] = {}
    for item in src:
        k = _key_of(item, key)
        if k is not None:
            patch_by_key[k] = item
    dest_keys: set[str] = set()
    tail: list[Any] = []
    for i, item in enumerate(dest):
        k = _key_of(item, key)
        if k is None:
            if item not in (None, {}):
                tail.append(item)
            continue
        if k in dest_keys:
            continue
        dest_keys.add(k)
        merged = _merge_one(item, patch_by_key.get(k), k, key, schema, f"{path}/{i}")
        if merged is not None:
            tail.append(merged)
    head: list[Any] = []
    for i, item in enumerate(src):
        k = _key_of(item, key)
        if k is None:
            if item not in (None, {}):
                head.append(copy.deepcopy(item))
            continue
        if k in dest_keys or patch_by_key.get(k) is not item:
            continue
        merged = _merge_one(None, item, k, key, schema, f"{path}/{i}")
        if merged is not None:
            head.append(merged)
    return head + tail


def _merge_one(dest: Any, src: Any, k: str, key: str, schema: Schema, path: str) -> Any:
    value = _walk(dest, src, schema, path)
    if value is DELETE or value is None or value == {}:
        return None
    if isinstance(value, dict) and key not in value:
        value = {**value, key: _key_value(dest, src, key=key)}
    return value


def _key_of(item: Any, key: str) -> str | None:
    if not isinstance(item, dict) or item.get(key) is None:
        return None
    value = item[key]
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _key_value(*items: Any, key: str) -> Any:
    for item in items:
        if isinstance(item, dict) and key in item:
            return item[key]
    return None


def _merge_scalars(dest: list[Any], src: list[Any]) -> list[Any]:
    """A merging list of scalars (finalizers): new patch values first, then the resource's values."""
    seen = {repr(item) for item in dest}
    head: list[Any] = []
    for item in src:
        marker = repr(item)
        if item is None or marker in seen:
            continue
        seen.add(marker)
        head.append(copy.deepcopy(item))
    tail: list[Any] = []
    kept: set[str] = set()
    for item in dest:
        marker = repr(item)
        if marker not in kept:
            kept.add(marker)
            tail.append(item)
    return head + tail
