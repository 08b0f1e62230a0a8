"""The built-in variables every rule sees: ``request``, ``serviceAccountName``, ``images``, Values."""
from __future__ import annotations

from typing import Any

from verno.core.request import Request
from verno.core.sources import Sources

SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"


def service_account(user_info: dict[str, Any] | None) -> tuple[str, str]:
    """(name, namespace) of the requesting ServiceAccount, or ("", "")."""
    username = (user_info or {}).get("username") or ""
    if not username.startswith(SERVICE_ACCOUNT_PREFIX):
        return "", ""
    parts = username[len(SERVICE_ACCOUNT_PREFIX):].split(":")
    if len(parts) != 2:
        return "", ""
    return parts[1], parts[0]


def images_of(request: Request) -> dict[str, Any]:
    """``images`` for the request's resource, computed once per resource."""
    cached = request.cache.get("images")
    if cached is None or cached[0] is not request.resource:
        from verno.core.images import extract_images

        cached = (request.resource, extract_images(request.resource))
        request.cache["images"] = cached
    return cached[1]


def base_context(request: Request, sources: Sources, policy_name: str) -> dict[str, Any]:
    """The JSON context a policy's rules start from for one resource."""
    from verno.core.context import Context

    sa_name, sa_namespace = service_account(request.user_info)
    ctx = Context({
        "request": request.request_variable(),
        "serviceAccountName": sa_name,
        "serviceAccountNamespace": sa_namespace,
        "images": images_of(request),
    })
    for key, value in sources.global_values.items():
        ctx.add_variable(key, value)
    for key, value in sources.resource_values(policy_name, request.name).items():
        ctx.add_variable(key, value)
    return ctx.data
