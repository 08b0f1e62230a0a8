"""ValidatingPolicy in evaluation mode ``Envoy`` or ``HTTP`` (kyverno-authz's authorization policies).

``object`` is the authorization request (an Envoy ``CheckRequest``, or the authz server's HTTP request);
``matchConditions`` and ``variables`` work as in the other modes. Each validation returns a
``CheckResponse`` (``envoy.Allowed().Response()``, ``http.Denied(reason).Response()`` ...) or ``null``;
validations run in order and the first non-null response decides; when all are null the request is
allowed. An evaluation error denies under ``failurePolicy: Fail`` and allows under ``Ignore``.

The decision is one rule response: ``pass`` when the request is allowed, ``fail`` when it is denied (the
denial's body, message or reason as message), ``error`` for an evaluation error under ``Fail``.
"""
from __future__ import annotations

from typing import Any

from verno.core.cel import Activation, CELError
from verno.core.cel.libs.authz_envoy import CHECK_RESPONSE_FIELDS as ENVOY_FIELDS
from verno.core.cel.libs.authz_envoy import GRPC_OK
from verno.core.cel.libs.authz_http import CHECK_RESPONSE_FIELDS as HTTP_FIELDS
from verno.core.cel.opaque import type_of
from verno.core.results import RuleResponse, Status

__all__ = ["AUTHZ_MODES", "ENVIRONMENTS", "PAYLOADS", "authz_rule", "check_output_type"]

#: evaluation mode -> the CEL environment of its expressions, and the Test payload kind it reads
ENVIRONMENTS = {"Envoy": "EnvoyValidatingPolicy", "HTTP": "HTTPValidatingPolicy"}
PAYLOADS = {"Envoy": "envoy", "HTTP": "http"}
AUTHZ_MODES = frozenset(ENVIRONMENTS)
RULE_TYPE = "Validation"
_EXAMPLES = {"Envoy": "envoy.Allowed().Response() or envoy.Denied(403).Response()",
             "HTTP": "http.Allowed().Response() or http.Denied(reason).Response()"}


class BadResponse(Exception):
    """A validation returned something that is not a CheckResponse of the mode."""


def check_output_type(mode: str, output_type: str) -> str:
    """``""`` when a validation of ``output_type`` can return a CheckResponse or null, else the problem."""
    if output_type in ("dyn", "null_type", "null") or output_type.lower().startswith("map"):
        return ""
    return f"a validation in {mode} mode returns a CheckResponse or null ({_EXAMPLES[mode]}), got {output_type}"


def _envoy_decision(value: dict[str, Any]) -> tuple[bool, str]:
    if not set(value) <= ENVOY_FIELDS:
        raise BadResponse(f"fields {sorted(set(value) - ENVOY_FIELDS)} are not CheckResponse fields")
    status = value.get("status") or {}
    code = status.get("code", GRPC_OK) if isinstance(status, dict) else None
    if isinstance(code, float) and code.is_integer():
        code = int(code)
    if isinstance(code, bool) or not isinstance(code, int):
        raise BadResponse("status.code is not an integer")
    if code == GRPC_OK:
        return True, status.get("message") or "request allowed"
    denied = value.get("denied_response") if isinstance(value.get("denied_response"), dict) else {}
    http_status = (denied.get("status") or {}).get("code") if isinstance(denied.get("status"), dict) else None
    message = denied.get("body") or status.get("message") or (
        f"request denied with HTTP status {http_status}" if http_status else f"request denied (gRPC code {code})")
    return False, str(message)


def _http_decision(value: dict[str, Any]) -> tuple[bool, str]:
    if len(value) != 1 or not set(value) <= HTTP_FIELDS:
        raise BadResponse("expected exactly one of ok and denied")
    if "ok" in value:
        return True, "request allowed"
    denied = value["denied"] if isinstance(value["denied"], dict) else {}
    return False, str(denied.get("reason") or "request denied")


def decision(mode: str, value: Any) -> tuple[bool, str]:
    """(allowed, message) of a validation's non-null result; raises :class:`BadResponse`."""
    kind = type_of(value)
    if kind:
        raise BadResponse(f"got a {kind}: end the expression with .Response()")
    if not isinstance(value, dict):
        raise BadResponse(f"got a {type(value).__name__} value")
    return (_envoy_decision if mode == "Envoy" else _http_decision)(value)


def _failed(policy: Any, message: str, index: int | None = None) -> RuleResponse:
    properties = {"cel.validationIndex": str(index)} if index is not None else {}
    if policy.failure_policy == "Ignore":
        return RuleResponse("", RULE_TYPE, Status.PASS,
                            f"request allowed: failurePolicy Ignore ignores the error: {message}",
                            properties=properties)
    return RuleResponse("", RULE_TYPE, Status.ERROR, f"error: {message}", properties=properties)


def authz_rule(policy: Any, variant: Any, payload: dict[str, Any]) -> RuleResponse:
    """The decision of ``policy`` (one compiled variant) for one authorization request."""
    values = {"object": payload}
    conditions = Activation(values)
    for name, program in variant.conditions:
        try:
            if conditions.evaluate(program) is not True:
                return RuleResponse("", RULE_TYPE, Status.SKIP, f"match condition {name!r} is false")
        except CELError as err:
            return _failed(policy, f"match condition {name!r}: {err.detail}")
    activation = Activation(values, variant.variables)
    for index, validation in enumerate(variant.validations):
        try:
            result = activation.evaluate(validation.program)
        except CELError as err:
            return _failed(policy, err.detail, index)
        if result is None:
            continue
        try:
            allowed, message = decision(policy.mode, result)
        except BadResponse as exc:
            return _failed(policy, f"validations[{index}] did not return a {policy.mode} CheckResponse "
                                   f"or null: {exc}", index)
        return RuleResponse("", RULE_TYPE, Status.PASS if allowed else Status.FAIL, message,
                            properties={"cel.validationIndex": str(index)})
    return RuleResponse("", RULE_TYPE, Status.PASS, "request allowed: no validation made a decision")
