"""Kyverno's ``kyverno.transform`` library: ``listObjToMap(keys, values, keyField, valueField)`` (also
``transform.listObjToMap``): ``{keys[i][keyField]: values[i][valueField]}`` for lists of maps of equal
length, with Kyverno's error texts."""
from __future__ import annotations

from typing import Any

from verno.core.cel.library import FunctionError, Library

__all__ = ["libraries", "list_obj_to_map"]


def list_obj_to_map(keys: list, values: list, key_field: str, value_field: str) -> dict[str, Any]:
    if len(keys) != len(values):
        raise FunctionError(f"listObjToMap must take lists of equal length. list1: {len(keys)}, "
                            f"list2: {len(values)}")
    out: dict[str, Any] = {}
    for entry, other in zip(keys, values):
        if not isinstance(entry, dict):
            raise FunctionError("object cannot be handled as a map string to any in the key object list")
        key = entry.get(key_field)
        if not isinstance(key, str):
            raise FunctionError("the passed key name cannot be handled as a string in the key object list")
        if not isinstance(other, dict):
            raise FunctionError("object cannot be handled as a map string to any in the value object list")
        out[key] = other.get(value_field)
    return out


def libraries() -> list[Library]:
    lib = Library("kyverno.transform")
    params = ["list(dyn)", "list(dyn)", "string", "string"]
    lib.fn("listObjToMap", params, "map(dyn, dyn)", list_obj_to_map, overload_id="kyverno.list_of_object_to_map")
    lib.fn("transform.listObjToMap", params, "map(dyn, dyn)", list_obj_to_map,
           overload_id="kyverno.transform.list_of_object_to_map")
    return [lib]
