"""The API server's error answers: `Status` objects raised as `APIError` and turned into HTTP replies."""
from __future__ import annotations

from typing import Any

REASONS = {400: "BadRequest", 403: "Forbidden", 404: "NotFound", 405: "MethodNotAllowed", 409: "Conflict",
           410: "Expired", 415: "UnsupportedMediaType", 422: "Invalid", 500: "InternalError"}


class APIError(Exception):
    """An error answer; `status` is the Status body sent to the client."""

    def __init__(self, code: int, message: str, reason: str | None = None, details: dict | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.status: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                       "message": message, "reason": REASONS.get(code, "") if reason is None else reason,
                                       "code": code}
        if details is not None:
            self.status["details"] = details


def qualified(plural: str, group: str) -> str:
    """`configmaps` or `clusterpolicies.kyverno.io`, as the API server names a resource in messages."""
    return f"{plural}.{group}" if group else plural


def not_found(plural: str, group: str, name: str) -> APIError:
    return APIError(404, f'{qualified(plural, group)} "{name}" not found', "NotFound",
                    {"name": name, "group": group, "kind": plural})


def unknown_resource() -> APIError:
    return APIError(404, "the server could not find the requested resource", "NotFound", {})


def already_exists(plural: str, group: str, name: str) -> APIError:
    return APIError(409, f'{qualified(plural, group)} "{name}" already exists', "AlreadyExists",
                    {"name": name, "group": group, "kind": plural})


def conflict(plural: str, group: str, name: str, why: str = "the object has been modified; please apply your "
             "changes to the latest version and try again") -> APIError:
    return APIError(409, f'Operation cannot be fulfilled on {qualified(plural, group)} "{name}": {why}', "Conflict",
                    {"name": name, "group": group, "kind": plural})


def invalid(kind: str, group: str, name: str, causes: list[tuple[str, str]]) -> APIError:
    """422 Invalid; `causes` are (field, message) pairs, message already in the field.ErrorList form."""
    texts = [f"{field}: {msg}" for field, msg in causes]
    joined = texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"
    qualified_kind = f"{kind}.{group}" if group else kind
    return APIError(422, f'{qualified_kind} "{name}" is invalid: {joined}', "Invalid",
                    {"name": name, "group": group, "kind": kind,
                     "causes": [{"reason": _cause_reason(msg), "message": msg, "field": field}
                                for field, msg in causes]})


def _cause_reason(message: str) -> str:
    for prefix, reason in (("Invalid value", "FieldValueInvalid"), ("Required value", "FieldValueRequired"),
                           ("Unsupported value", "FieldValueNotSupported"), ("Forbidden", "FieldValueForbidden"),
                           ("Duplicate value", "FieldValueDuplicate"), ("Too long", "FieldValueTooLong")):
        if message.startswith(prefix):
            return reason
    return "FieldValueInvalid"


def bad_request(message: str) -> APIError:
    return APIError(400, message, "BadRequest")


def forbidden(plural: str, group: str, name: str, why: str) -> APIError:
    subject = f'{qualified(plural, group)} "{name}"' if name else qualified(plural, group)
    return APIError(403, f"{subject} is forbidden: {why}", "Forbidden", {"name": name, "group": group, "kind": plural})


def expired(requested: int | str, oldest: int) -> APIError:
    return APIError(410, f"too old resource version: {requested} ({oldest})", "Expired")


def internal(message: str) -> APIError:
    return APIError(500, f"Internal error occurred: {message}", "InternalError",
                    {"causes": [{"message": message}]})


def success(plural: str, group: str, name: str, uid: str) -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
            "details": {"name": name, "group": group, "kind": plural, "uid": uid}}
