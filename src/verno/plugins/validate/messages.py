"""Validate rule messages, worded as Kyverno words them."""
from __future__ import annotations

from typing import Any

from verno.core.errors import VernoError


def resolved_message(rc: Any, message: str) -> str | None:
    """The rule message with variables substituted; None when substitution fails."""
    if not message or ("{{" not in message and "$(" not in message):
        return message
    try:
        out = rc.substitute(message)
    except VernoError:
        return None
    return out if isinstance(out, str) else "the produced message didn't resolve to a string, check your policy definition."


def passed(rule_name: str) -> str:
    return f"validation rule '{rule_name}' passed."


def pattern_failure(rc: Any, rule_name: str, message: str, path: str, reason: str) -> str:
    """``validation error: <message>. rule <r> failed at path <p>`` (Kyverno's buildErrorMessage)."""
    if not message:
        if path:
            return f"validation error: rule {rule_name} failed at path {path}"
        return f"validation error: rule {rule_name} execution error: {reason}"
    msg = resolved_message(rc, message)
    if msg is None:
        return f"validation error: variables substitution error in rule {rule_name} execution error: {reason}"
    if not msg.endswith("."):
        msg += "."
    if path:
        return f"validation error: {msg} rule {rule_name} failed at path {path}"
    return f"validation error: {msg} rule {rule_name} execution error: {reason}"


def any_pattern_failure(rc: Any, message: str, errors: list[str]) -> str:
    joined = " ".join(errors)
    if not message:
        return f"validation error: {joined}"
    msg = resolved_message(rc, message)
    if msg is None:
        msg = message
    if msg.endswith("."):
        return f"validation error: {msg} {joined}"
    return f"validation error: {msg}. {joined}"


def deny_failure(rc: Any, rule_name: str, message: str, condition_messages: str) -> str:
    if not message and not condition_messages:
        return f"validation error: rule {rule_name} failed"
    joined = "; ".join(x for x in (message, condition_messages) if x)
    out = resolved_message(rc, joined)
    return joined if out is None else out
