"""An example verno plugin: one condition operator and one JMESPath function.

Installed, it is found through the ``verno`` entry-point group (see ``pyproject.toml``); every
:class:`verno.core.engine.Engine` then has ``StartsWith`` among its operators and ``reverse_string``
among its JMESPath functions.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from verno.core.hookspecs import hookimpl


def starts_with(key: Any, value: Any) -> bool:
    """``StartsWith``: the key string starts with the value string (or one of a list of strings).

    Like Kyverno's own operators, an operand of the wrong type makes the condition false.
    """
    if not isinstance(key, str):
        return False
    if isinstance(value, str):
        return key.startswith(value)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return any(key.startswith(v) for v in value)
    return False


def reverse_string(s: str) -> str:
    """``reverse_string(s)``: the characters of ``s`` in reverse order."""
    return s[::-1]


@hookimpl
def verno_register_operators(register: Callable[..., None]) -> None:
    register("StartsWith", starts_with)


@hookimpl
def verno_register_jmespath_functions(register: Callable[..., None]) -> None:
    register("reverse_string", reverse_string, [["string"]],
             description="Returns the string with its characters in reverse order", returns="string")
