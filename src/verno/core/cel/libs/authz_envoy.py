"""kyverno-authz's ``envoy`` library (Envoy-mode ValidatingPolicy): build an Envoy ``CheckResponse``.

``envoy.Allowed()`` and ``envoy.Denied(code)`` start an ``OkHttpResponse`` / ``DeniedHttpResponse``;
``envoy.Header(k, v)`` and ``envoy.QueryParam(k, v)`` make a ``HeaderValueOption`` / ``QueryParameter``.
Builders (tagged maps, :mod:`verno.core.cel.opaque`) take ``WithHeader``, ``WithBody`` (denied),
``WithoutHeader``, ``WithResponseHeader``, ``WithQueryParam``, ``WithoutQueryParam`` (ok) and
``KeepEmptyValue`` (header), and ``.Response()`` gives the ``CheckResponse`` as a map with the proto's
field names: ``status`` (gRPC code 0 OK, 7 PERMISSION_DENIED), ``ok_response`` or ``denied_response``
(``status.code`` the HTTP status, ``headers``, ``body``), ``dynamic_metadata``. ``WithMessage`` and
``WithMetadata`` set ``status.message`` and ``dynamic_metadata`` on a CheckResponse.
"""
from __future__ import annotations

from typing import Any

from verno.core.cel.library import FunctionError, Library
from verno.core.cel.opaque import describe, is_opaque, unwrap, wrap

__all__ = ["CHECK_RESPONSE_FIELDS", "DENIED", "GRPC_OK", "GRPC_PERMISSION_DENIED", "HEADER", "OK", "QUERY",
           "libraries"]

OK, DENIED = "envoy.OkHttpResponse", "envoy.DeniedHttpResponse"
HEADER, QUERY = "envoy.HeaderValueOption", "envoy.QueryParameter"
GRPC_OK, GRPC_PERMISSION_DENIED = 0, 7
CHECK_RESPONSE_FIELDS = frozenset({"status", "ok_response", "denied_response", "dynamic_metadata"})
D = "dyn"
_INT32_MAX = 2**31 - 1


def _copy(builder: dict[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, list) else v for k, v in builder.items()}


def _allowed() -> dict:
    return wrap(OK, {})


def _denied(code: int) -> dict:
    if not 0 <= code <= _INT32_MAX:
        raise FunctionError(f"envoy.Denied: HTTP status code {code} is out of range")
    return wrap(DENIED, {"status": {"code": code}})


def _header(key: str, value: str) -> dict:
    return wrap(HEADER, {"header": {"key": key, "value": value}})


def _query(key: str, value: str) -> dict:
    return wrap(QUERY, {"key": key, "value": value})


def _keep_empty(option: Any, keep: bool = True) -> dict:
    payload = dict(unwrap(option, HEADER, "KeepEmptyValue"))  # type: ignore[arg-type]
    payload["keep_empty_value"] = keep
    return wrap(HEADER, payload)


def _builder(value: Any, function: str, *kinds: str) -> tuple[str, dict[str, Any]]:
    for kind in kinds:
        if is_opaque(value, kind):
            return kind, _copy(value["v"])
    raise FunctionError(f"no such overload: {function} applied to {describe(value)}")


def _append(value: Any, function: str, field: str, item: Any, *kinds: str) -> dict:
    kind, payload = _builder(value, function, *kinds)
    payload[field] = payload.get(field, []) + [item]
    return wrap(kind, payload)


def _with_header(value: Any, option: Any) -> dict:
    return _append(value, "WithHeader", "headers", unwrap(option, HEADER, "WithHeader"), OK, DENIED)


def _with_header_kv(value: Any, key: str, header_value: str) -> dict:
    return _with_header(value, _header(key, header_value))


def _with_response_header(value: Any, option: Any) -> dict:
    return _append(value, "WithResponseHeader", "response_headers_to_add",
                   unwrap(option, HEADER, "WithResponseHeader"), OK)


def _without_header(value: Any, name: str) -> dict:
    return _append(value, "WithoutHeader", "headers_to_remove", name, OK)


def _with_query(value: Any, param: Any) -> dict:
    return _append(value, "WithQueryParam", "query_parameters_to_set", unwrap(param, QUERY, "WithQueryParam"), OK)


def _without_query(value: Any, name: str) -> dict:
    return _append(value, "WithoutQueryParam", "query_parameters_to_remove", name, OK)


def _with_body(value: Any, body: str) -> dict:
    kind, payload = _builder(value, "WithBody", DENIED)
    payload["body"] = body
    return wrap(kind, payload)


def _response(value: Any) -> dict:
    kind, payload = _builder(value, "Response", OK, DENIED)
    if kind == OK:
        return {"status": {"code": GRPC_OK}, "ok_response": payload}
    return {"status": {"code": GRPC_PERMISSION_DENIED}, "denied_response": payload}


def _check_response(value: Any, function: str) -> dict[str, Any]:
    if not isinstance(value, dict) or is_opaque(value) or not set(value) <= CHECK_RESPONSE_FIELDS:
        raise FunctionError(f"no such overload: {function} applied to {describe(value)} (expected a "
                            "CheckResponse: call .Response() first)")
    return dict(value)


def _with_message(value: Any, message: str) -> dict:
    response = _check_response(value, "WithMessage")
    response["status"] = {**(response.get("status") or {}), "message": message}
    return response


def _with_metadata(value: Any, metadata: dict) -> dict:
    response = _check_response(value, "WithMetadata")
    response["dynamic_metadata"] = metadata
    return response


def libraries() -> list[Library]:
    lib = Library("authz.envoy")
    lib.fn("envoy.Allowed", [], D, _allowed)
    lib.fn("envoy.Denied", ["int"], D, _denied)
    lib.fn("envoy.Header", ["string", "string"], D, _header)
    lib.fn("envoy.QueryParam", ["string", "string"], D, _query)
    lib.fn("KeepEmptyValue", [D], D, _keep_empty, member=True)
    lib.fn("KeepEmptyValue", [D, "bool"], D, _keep_empty, member=True)
    lib.fn("WithHeader", [D, D], D, _with_header, member=True)
    lib.fn("WithHeader", [D, "string", "string"], D, _with_header_kv, member=True)
    lib.fn("WithResponseHeader", [D, D], D, _with_response_header, member=True)
    lib.fn("WithResponseHeader", [D, "string", "string"], D,
           lambda v, k, x: _with_response_header(v, _header(k, x)), member=True)
    lib.fn("WithoutHeader", [D, "string"], D, _without_header, member=True)
    lib.fn("WithQueryParam", [D, D], D, _with_query, member=True)
    lib.fn("WithQueryParam", [D, "string", "string"], D, lambda v, k, x: _with_query(v, _query(k, x)),
           member=True)
    lib.fn("WithoutQueryParam", [D, "string"], D, _without_query, member=True)
    lib.fn("WithBody", [D, "string"], D, _with_body, member=True)
    lib.fn("Response", [D], D, _response, member=True)
    # dyn, not map: a CheckResponse is a message in kyverno-authz, so ``cond ? x.Response() : null`` checks
    lib.fn("WithMessage", [D, "string"], D, _with_message, member=True)
    lib.fn("WithMetadata", [D, "map(string, dyn)"], D, _with_metadata, member=True)
    return [lib]
