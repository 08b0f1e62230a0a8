"""How large a value one JMESPath function call may produce.

Every function result is checked where functions are dispatched (:func:`verno.core.jmespath.build_functions`
wraps each one, standard and registered alike): a string longer than :func:`max_function_result`
characters, or a list or object with more entries, is a function error naming the function, so the rule
reports an error instead of the process running out of memory. Functions that could build a far larger
value before returning (replacements, ``random()``) stop as soon as they pass the same limit.

The default, 3 MiB (3 x 2^20), is the largest request body the Kubernetes API server accepts: no value
read from one admission request or resource is larger, so only an amplifying expression (a replacement
template repeated per match, a generated pattern) gets there. ``VERNO_MAX_FUNCTION_RESULT`` (a positive
integer) sets another limit.
"""
from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

from verno.core.errors import JMESPathError

__all__ = ["DEFAULT_MAX_FUNCTION_RESULT", "ENV", "check_result", "max_function_result", "too_large"]

ENV = "VERNO_MAX_FUNCTION_RESULT"
DEFAULT_MAX_FUNCTION_RESULT = 3 * 1024 * 1024


@lru_cache(maxsize=8)
def _parse(raw: str | None) -> int:
    if raw is None or raw.strip() == "":
        return DEFAULT_MAX_FUNCTION_RESULT
    try:
        value = int(raw.strip())
    except ValueError:
        value = 0
    if value <= 0:
        raise JMESPathError(f"{ENV} must be a positive integer (a number of characters), not {raw!r}")
    return value


def max_function_result() -> int:
    """The most characters (of a string) or entries (of a list or object) a function may return."""
    return _parse(os.environ.get(ENV))


def too_large(function: str, detail: str = "the result is too large") -> JMESPathError:
    """The error for a function whose result passes (or would pass) the limit; ``detail`` says how."""
    return JMESPathError(f"JMESPath function '{function}': {detail} (the limit is {max_function_result()} "
                         f"characters or entries; set {ENV} to change it)")


def check_result(function: str, value: Any) -> Any:
    """``value``, unless it passes the limit (then a function error naming ``function``)."""
    if isinstance(value, (str, list, dict)):
        size = len(value)
        if size > max_function_result():
            unit = "characters" if isinstance(value, str) else "entries"
            raise too_large(function, f"the result is too large: {size} {unit}")
    return value
