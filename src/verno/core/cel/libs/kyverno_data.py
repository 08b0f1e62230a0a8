"""Kyverno's data libraries, reading through the evaluation's bound :class:`~verno.core.cel.datasources.CelData`:

* ``kyverno.resource`` (cluster-scoped policies): ``resource.List(apiVersion, resource, namespace[, labels])``,
  ``resource.List(gvr, namespace[, labels])``, ``resource.Get(apiVersion, resource, namespace, name)``,
  ``resource.Get(gvr, namespace, name)``, ``resource.Post(apiVersion, resource[, namespace], data)``,
  ``resource.ToGVR(apiVersion, kind)``;
* ``kyverno.resource.namespaced`` (namespaced policies): the same without the namespace argument, pinned to
  the namespace bound with the data (``List(apiVersion, resource[, labels])``, ``Get(apiVersion, resource,
  name)``, ``Post(apiVersion, resource, data)``);
* ``kyverno.http``: ``http.Get(url[, headers])``, ``http.Post(url, body[, headers])``, ``http.Client(caBundle)``
  whose result has the same ``Get``/``Post``;
* ``kyverno.globalcontext``: ``globalContext.Get(name[, projection])``;
* ``kyverno.imagedata``: ``image.GetMetadata(image)``.

Every function exists in PascalCase and camelCase (``resource.get``), as in Kyverno's libraries from 1.18.
In Kyverno these are members of handle variables (``resource``, ``http`` ...); here they are qualified
global functions, which read the same in an expression. ``resource.Get`` is declared ``dyn`` (Kyverno:
``map(string, dyn)``) because the runtime cannot return ``null`` for a map-typed function.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from verno.core.cel.datasources import current
from verno.core.cel.library import FunctionError, Library
from verno.core.cel.opaque import unwrap, wrap

__all__ = ["libraries"]

D = "dyn"
S = "string"
OBJECT = "map(string, dyn)"
LABELS = "map(string, string)"
GVR = "kyverno.GVR"
HTTP_CLIENT = "kyverno.http.Client"


def _camel(name: str) -> str:
    return name[0].lower() + name[1:]


def _both(lib: Library, qualified: str, params: list[str], result: str, impl: Callable[..., object], *,
          member: bool = False, oid: str) -> None:
    """Declare ``qualified`` (``resource.Get``) and its camelCase twin (``resource.get``)."""
    prefix, _, name = qualified.rpartition(".")
    for spelled, suffix in ((name, "pascal"), (_camel(name), "camel")):
        full = f"{prefix}.{spelled}" if prefix else spelled
        lib.fn(full, params, result, impl, member=member, overload_id=f"kyverno.{oid}_{suffix}")


# ------------------------------------------------------------------------------------------ resource
def _gvr(value: object, function: str) -> tuple[str, str]:
    """(apiVersion, resource) of an opaque GVR."""
    gvr = unwrap(value, GVR, function)
    group, version, resource = gvr["group"], gvr["version"], gvr["resource"]  # type: ignore[index]
    return (f"{group}/{version}" if group else version), resource


def _namespace(function: str) -> str:
    namespace = current(function).namespace
    if not namespace:
        raise FunctionError(f"{function}: a namespaced policy's evaluation has no namespace bound")
    return namespace


def _list(api_version: str, resource: str, namespace: str, labels: dict | None = None) -> dict:
    return current("resource.List").data.resource_list(api_version, resource, namespace, labels)


def _get(api_version: str, resource: str, namespace: str, name: str) -> dict | None:
    return current("resource.Get").data.resource_get(api_version, resource, namespace, name)


def _post(api_version: str, resource: str, namespace: str, data: dict) -> dict:
    return current("resource.Post").data.resource_post(api_version, resource, namespace, data)


def _to_gvr(api_version: str, kind: str) -> dict:
    group, version, resource = current("resource.ToGVR").data.to_gvr(api_version, kind)
    return wrap(GVR, {"group": group, "version": version, "resource": resource})


def resource_library() -> Library:
    lib = Library("kyverno.resource")
    _both(lib, "resource.List", [S, S, S], OBJECT, _list, oid="resource_list_string_string_string")
    _both(lib, "resource.List", [S, S, S, LABELS], OBJECT, _list, oid="resource_list_string_string_string_map")
    _both(lib, "resource.List", [D, S], OBJECT, lambda g, ns: _list(*_gvr(g, "resource.List"), ns),
          oid="list_resources_gvr_string")
    _both(lib, "resource.List", [D, S, LABELS], OBJECT,
          lambda g, ns, labels: _list(*_gvr(g, "resource.List"), ns, labels), oid="list_resources_gvr_string_map")
    _both(lib, "resource.Get", [S, S, S, S], D, _get, oid="resource_get_string_string_string_string")
    _both(lib, "resource.Get", [D, S, S], D, lambda g, ns, name: _get(*_gvr(g, "resource.Get"), ns, name),
          oid="resource_get_gvr_string_string")
    _both(lib, "resource.Post", [S, S, S, OBJECT], OBJECT, _post, oid="resource_post_string_string_string_map")
    _both(lib, "resource.Post", [S, S, OBJECT], OBJECT, lambda a, r, data: _post(a, r, "", data),
          oid="resource_post_string_string_map")
    _both(lib, "resource.ToGVR", [S, S], D, _to_gvr, oid="convert_to_gvr_string_string")
    return lib


def namespaced_resource_library() -> Library:
    lib = Library("kyverno.resource.namespaced")

    def ns_list(api_version: str, resource: str, labels: dict | None = None) -> dict:
        return _list(api_version, resource, _namespace("resource.List"), labels)

    def ns_get(api_version: str, resource: str, name: str) -> dict | None:
        return _get(api_version, resource, _namespace("resource.Get"), name)

    _both(lib, "resource.List", [S, S], OBJECT, ns_list, oid="ns.resource_list_string_string")
    _both(lib, "resource.List", [S, S, LABELS], OBJECT, ns_list, oid="ns.resource_list_string_string_map")
    _both(lib, "resource.List", [D], OBJECT, lambda g: ns_list(*_gvr(g, "resource.List")),
          oid="ns.list_resources_gvr")
    _both(lib, "resource.List", [D, LABELS], OBJECT, lambda g, labels: ns_list(*_gvr(g, "resource.List"), labels),
          oid="ns.list_resources_gvr_map")
    _both(lib, "resource.Get", [S, S, S], D, ns_get, oid="ns.resource_get_string_string_string")
    _both(lib, "resource.Get", [D, S], D, lambda g, name: ns_get(*_gvr(g, "resource.Get"), name),
          oid="ns.resource_get_gvr_string")
    _both(lib, "resource.Post", [S, S, OBJECT], OBJECT,
          lambda a, r, data: _post(a, r, _namespace("resource.Post"), data), oid="ns.resource_post_string_string_map")
    _both(lib, "resource.ToGVR", [S, S], D, _to_gvr, oid="ns.convert_to_gvr_string_string")
    return lib


# ---------------------------------------------------------------------------------------------- http
def _http_get(url: str, headers: dict | None = None, ca_bundle: str = "") -> Any:
    return current("http.Get").data.http_get(url, headers or {}, ca_bundle)


def _http_post(url: str, body: Any, headers: dict | None = None, ca_bundle: str = "") -> Any:
    return current("http.Post").data.http_post(url, body, headers or {}, ca_bundle)


def _client(ca_bundle: str) -> dict:
    return wrap(HTTP_CLIENT, {"caBundle": ca_bundle})


def _ca(client: object, function: str) -> str:
    return unwrap(client, HTTP_CLIENT, function)["caBundle"]  # type: ignore[index]


def http_library() -> Library:
    lib = Library("kyverno.http")
    _both(lib, "http.Get", [S], D, _http_get, oid="http_get_string")
    _both(lib, "http.Get", [S, LABELS], D, _http_get, oid="http_get_string_headers")
    _both(lib, "http.Post", [S, D], D, _http_post, oid="http_post_string_any")
    _both(lib, "http.Post", [S, D, LABELS], D, _http_post, oid="http_post_string_any_headers")
    _both(lib, "http.Client", [S], D, _client, oid="http_client_string")
    # a client's own Get/Post (``http.Client(ca).Get(url)``)
    _both(lib, "Get", [D, S], D, lambda c, url: _http_get(url, None, _ca(c, "Get")), member=True,
          oid="http_client_get_string")
    _both(lib, "Get", [D, S, LABELS], D, lambda c, url, h: _http_get(url, h, _ca(c, "Get")), member=True,
          oid="http_client_get_string_headers")
    _both(lib, "Post", [D, S, D], D, lambda c, url, body: _http_post(url, body, None, _ca(c, "Post")),
          member=True, oid="http_client_post_string_any")
    _both(lib, "Post", [D, S, D, LABELS], D, lambda c, url, body, h: _http_post(url, body, h, _ca(c, "Post")),
          member=True, oid="http_client_post_string_any_headers")
    return lib


# ------------------------------------------------------------------------------ globalContext, image
def _global(name: str, projection: str = "") -> Any:
    return current("globalContext.Get").data.global_context(name, projection)


def globalcontext_library() -> Library:
    lib = Library("kyverno.globalcontext")
    _both(lib, "globalContext.Get", [S], D, _global, oid="globalcontext_get_string")
    _both(lib, "globalContext.Get", [S, S], D, _global, oid="globalcontext_get_string_string")
    return lib


def imagedata_library() -> Library:
    lib = Library("kyverno.imagedata")
    _both(lib, "image.GetMetadata", [S], D,
          lambda ref: current("image.GetMetadata").data.image_metadata(ref), oid="imagedata_get_string")
    return lib


def libraries() -> list[Library]:
    return [resource_library(), namespaced_resource_library(), http_library(), globalcontext_library(),
            imagedata_library()]
