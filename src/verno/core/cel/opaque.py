"""Opaque CEL values (quantity, semver, ip, cidr, url, format, image ...) carried through the runtime.

The C++ runtime cannot hold a Python object, so an opaque value is a map ``{TAG: type, "v": payload}``
whose tag key contains a per-process random token: data from a resource or request can never forge one.
Functions receive the map back and :func:`unwrap` it, checking its type; anything else is CEL's
``no such overload``.
"""
from __future__ import annotations

import secrets

from verno.core.cel.library import FunctionError

__all__ = ["TAG", "is_opaque", "type_of", "unwrap", "wrap"]

TAG = f"@verno.cel.{secrets.token_hex(8)}"


def wrap(type_name: str, payload: object) -> dict:
    return {TAG: type_name, "v": payload}


def is_opaque(value: object, type_name: str | None = None) -> bool:
    return isinstance(value, dict) and TAG in value and (type_name is None or value[TAG] == type_name)


def type_of(value: object) -> str | None:
    return value[TAG] if isinstance(value, dict) and TAG in value else None


def unwrap(value: object, type_name: str, function: str) -> object:
    if not is_opaque(value, type_name):
        raise FunctionError(f"no such overload: {function} applied to {describe(value)}")
    return value["v"]


def describe(value: object) -> str:
    """The CEL type name of a Python value as the runtime hands it over."""
    kind = type_of(value)
    if kind:
        return kind
    return {bool: "bool", int: "int", float: "double", str: "string", bytes: "bytes", bytearray: "bytes",
            list: "list", dict: "map", type(None): "null_type"}.get(type(value), type(value).__name__)
