"""Kyverno's ``kyverno.random`` library: ``random()`` (8 characters of ``[0-9a-z]``) and
``random(pattern)`` (a string matching the regular expression, as goregen generates one), also as
``random.random(...)``. The pattern must be one Go's ``regexp`` accepts (Go's error words otherwise);
generation is bounded by :func:`verno.core.limits.max_function_result` (:mod:`verno.core.regen`)."""
from __future__ import annotations

import random as _random

from verno.core.cel.library import FunctionError, Library
from verno.core.goregex import GoRegexError, compile_go
from verno.core.regen import generate

__all__ = ["libraries", "random_string"]

_RNG = _random.SystemRandom()
DEFAULT_PATTERN = "[0-9a-z]{8}"


def random_string(pattern: str = DEFAULT_PATTERN) -> str:
    try:
        compile_go(pattern)
    except GoRegexError as exc:
        raise FunctionError(str(exc)) from None
    try:
        return generate(pattern, _RNG)
    except ValueError as exc:
        raise FunctionError(str(exc)) from None


def libraries() -> list[Library]:
    lib = Library("kyverno.random")
    for name, prefix in (("random", "kyverno.random"), ("random.random", "kyverno.random.random")):
        lib.fn(name, ["string"], "string", random_string, overload_id=f"{prefix}_string")
        lib.fn(name, [], "string", random_string, overload_id=f"{prefix}_default")
    return [lib]
