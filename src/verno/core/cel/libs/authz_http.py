"""kyverno-authz's ``http`` library (HTTP-mode ValidatingPolicy): build the authz server's HTTP
``CheckResponse``.

``http.Allowed()`` and ``http.Denied(reason)`` start a response (tagged maps,
:mod:`verno.core.cel.opaque`); ``.WithHeader(k, v)`` adds a header (values of one key accumulate);
``.Response()`` gives the CheckResponse as a map: ``{"ok": {"headers": {k: [v...]}}}`` or
``{"denied": {"reason": r, "headers": {...}}}``.

This ``http`` is not Kyverno's ``http.Get``/``http.Post`` (``kyverno.http``): that library belongs to the
Kubernetes-mode environments, this one to the HTTP-mode environment only.
"""
from __future__ import annotations

from typing import Any

from verno.core.cel.library import FunctionError, Library
from verno.core.cel.opaque import describe, is_opaque, wrap

__all__ = ["ALLOWED", "CHECK_RESPONSE_FIELDS", "DENIED", "libraries"]

ALLOWED, DENIED = "http.AllowedResponse", "http.DeniedResponse"
CHECK_RESPONSE_FIELDS = frozenset({"ok", "denied"})
D = "dyn"


def _builder(value: Any, function: str) -> tuple[str, dict[str, Any]]:
    for kind in (ALLOWED, DENIED):
        if is_opaque(value, kind):
            payload = dict(value["v"])
            payload["headers"] = {k: list(v) for k, v in (payload.get("headers") or {}).items()}
            return kind, payload
    raise FunctionError(f"no such overload: {function} applied to {describe(value)}")


def _with_header(value: Any, key: str, header_value: str) -> dict:
    kind, payload = _builder(value, "WithHeader")
    payload["headers"].setdefault(key, []).append(header_value)
    return wrap(kind, payload)


def _response(value: Any) -> dict:
    kind, payload = _builder(value, "Response")
    return {"ok": payload} if kind == ALLOWED else {"denied": payload}


def libraries() -> list[Library]:
    lib = Library("authz.http")
    lib.fn("http.Allowed", [], D, lambda: wrap(ALLOWED, {"headers": {}}))
    lib.fn("http.Denied", ["string"], D, lambda reason: wrap(DENIED, {"reason": reason, "headers": {}}))
    lib.fn("WithHeader", [D, "string", "string"], D, _with_header, member=True)
    lib.fn("Response", [D], D, _response, member=True)
    return [lib]
