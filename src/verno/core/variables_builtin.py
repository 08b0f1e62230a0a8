"""The built-in variables every rule sees: ``request``, ``serviceAccountName``, ``images``, Values."""
from __future__ import annotations

from typing import Any

from verno.core.context import Context
from verno.core.images import ImageError, extract_images
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


def images_of(request: Request, extractors: Any = None, search: Any = None) -> dict[str, Any] | None:
    """``images`` for the request's resource (None when it has none or an image is invalid).

    Computed once per resource for the built-in kinds; rules with ``imageExtractors`` compute their own.
    """
    key = "images" if extractors is None else f"images:{id(extractors)}"
    cached = request.cache.get(key)
    if cached is None or cached[0] is not request.resource:
        try:
            images = extract_images(request.resource, extractors, search=search) or None
        except ImageError:
            images = None  # Kyverno fails only a rule that uses ``images``: it is then unknown
        cached = (request.resource, images)
        request.cache[key] = cached
    return cached[1]


def base_context(request: Request, sources: Sources, policy_name: str, *, with_images: bool = True) -> Context:
    """The JSON context a policy's rules start from for one resource."""
    base = request.cache.get("base")
    if base is None or base[0] is not request.resource:
        sa_name, sa_namespace = service_account(request.user_info)
        base = (request.resource, {
            "request": request.request_variable(),
            "serviceAccountName": sa_name,
            "serviceAccountNamespace": sa_namespace,
        })
        request.cache["base"] = base
    ctx = Context(base[1])
    if with_images:
        images = images_of(request)
        if images:
            ctx.set("images", images)
    for key, value in sources.global_values.items():
        ctx.add_variable(key, value)
    if sources.values is not None:
        for key, value in sources.resource_values(policy_name, request.name).items():
            ctx.add_variable(key, value)
    return ctx
