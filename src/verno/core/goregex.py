"""Go's ``regexp`` on RE2: one set of options, one compile cache, and syntax errors in Go's words.

RE2 is the engine Go's regexp package follows (linear time, the same syntax); only the error texts
differ, so they are reworded as Go's ``regexp.Compile`` gives them. Used by the JMESPath regex functions
and CEL's regex library.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any

import re2

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False

# RE2's error codes in the words of Go's regexp/syntax (the same parser rules, other names)
_GO_ERROR_CODES = {
    "invalid repetition size": "invalid repeat count",
    "bad repetition operator": "invalid nested repetition operator",
    "invalid perl operator": "invalid or unsupported Perl syntax",
    "missing )": "missing closing )",
    "missing ]": "missing closing ]",
    "no argument for repetition operator": "missing argument to repetition operator",
    "invalid named capture group": "invalid named capture",
}


class GoRegexError(ValueError):
    """A pattern Go's ``regexp.Compile`` rejects; the message is Go's."""


def go_syntax_error(reason: str, pattern: str) -> str:
    """RE2's ``code: expression`` as Go words it: ``error parsing regexp: code: `expr```."""
    if reason.startswith("pattern too large"):
        return f"error parsing regexp: expression too large: `{pattern}`"
    if reason == "trailing \\":
        return "error parsing regexp: trailing backslash at end of expression: ``"
    code, sep, expr = reason.partition(": ")
    if not sep:
        return f"error parsing regexp: {reason}"
    return f"error parsing regexp: {_GO_ERROR_CODES.get(code, code)}: `{expr}`"


@lru_cache(maxsize=2048)
def compile_go(pattern: str | bytes) -> Any:
    """The compiled pattern (cached; a bytes pattern matches UTF-8 bytes by byte offset), or GoRegexError."""
    try:
        return re2.compile(pattern, _OPTIONS)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        text = pattern.decode("utf-8", "replace") if isinstance(pattern, bytes) else pattern
        raise GoRegexError(go_syntax_error(str(reason), text)) from None
