"""Collection functions: ``lookup``, ``items``, ``object_from_lists``."""
from __future__ import annotations

from typing import Any

from verno.core.jmespath.functions._go import arg_type_error, fn_error, iface_to_string, is_number
from verno.core.jmespath.functions._spec import OA, SN, A, S, Spec


def lookup(collection: dict[str, Any] | list[Any], key: Any) -> Any:
    """The value at ``key`` of an object, or at index ``key`` of an array (null when out of range)."""
    if isinstance(collection, dict):
        if not isinstance(key, str):
            raise arg_type_error("lookup", 2, "String")
        return collection.get(key)
    if not is_number(key):
        raise arg_type_error("lookup", 2, "Number")
    if float(key) != int(key):
        raise fn_error("lookup", f"argument #2: expected an integer number but got: {key}")
    index = int(key)
    if index < 0 or index >= len(collection):
        return None
    return collection[index]


def items(collection: dict[str, Any] | list[Any], key_name: str, value_name: str) -> list[dict[str, Any]]:
    """An object as ``[{keyName: k, valName: v}]`` sorted by key; an array uses its indexes as keys."""
    if isinstance(collection, dict):
        return [{key_name: k, value_name: collection[k]} for k in sorted(collection)]
    return [{key_name: i, value_name: v} for i, v in enumerate(collection)]


def object_from_lists(keys: list[Any], values: list[Any]) -> dict[str, Any]:
    """Pair ``keys`` with ``values``; keys beyond the values get null."""
    out: dict[str, Any] = {}
    for i, raw in enumerate(keys):
        key = iface_to_string(raw)
        if key is None:
            raise arg_type_error("object_from_lists", 1, "StringArray")
        out[key] = values[i] if i < len(values) else None
    return out


FUNCTIONS = [
    Spec("lookup", lookup, [OA, SN], "any",
         "returns the value corresponding to the given key/index in the given object/array"),
    Spec("items", items, [OA, S, S], "array",
         "converts a map or array to an array of objects where each key:value is an item in the array"),
    Spec("object_from_lists", object_from_lists, [A, A], "object",
         "converts a pair of lists containing keys and values to an object"),
]
