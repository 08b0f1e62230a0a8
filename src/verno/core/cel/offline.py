"""The data Kyverno's CEL data libraries read offline (``verno test``), as Kyverno's CLI serves it.

:class:`OfflineCelData` implements :class:`~verno.core.cel.datasources.CelData` from what a Test gives
(K: ``pkg/cel/libs/fake_context.go``, ``http_mock.go``):

* a ``cli.kyverno.io/v1alpha1`` Context file (:func:`load_context_file`): ``spec.resources`` are indexed
  by group/version/resource (the resource name guessed from the kind as Kubernetes guesses it,
  ``NetworkPolicy`` -> ``networkpolicies``), namespace and name. ``resource.Get`` of a missing object is
  ``null``; ``resource.List`` of a resource with no object at all is an error; ``List`` returns
  ``{items: [...]}`` of exactly that namespace (``""``: cluster-scoped objects) and ignores the label
  selector; ``resource.Post`` and ``resource.ToGVR`` are not available offline (Kyverno's CLI does not
  implement them either). ``spec.images`` answer ``image.GetMetadata`` for the exact reference written.
* ``apiCallResponses``: ``http.Get``/``http.Post`` of a mocked URL return ``{body, statusCode}``, looked up
  as ``METHOD:url`` then ``url``. An unmocked URL is fetched only when ``--allow-egress`` names its host,
  through the egress fence (HTTPS, at most 2,000,000 bytes, the egress timeout); otherwise the call fails
  saying what to mock. Kyverno's CLI would reach the network.
* ``globalContextEntries``: ``globalContext.Get(name)`` is the entry's value (``null`` for an unknown
  entry); with projections the value is ``{projection: value}`` and ``Get(name, projection)`` picks one.

Numbers in HTTP bodies, mocks and image metadata are doubles, as Go's JSON decoding into ``any`` gives them.
"""
from __future__ import annotations

import json
import ssl
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from verno.core.cel.library import FunctionError
from verno.core.cel.libs.kyverno_encoding import as_go_json
from verno.core.egress import STRICT, EgressPolicy
from verno.core.errors import LoadError
from verno.core.loaders.offline_cluster import guess_resource
from verno.core.loading import iter_file_documents, validate_model
from verno.core.models.contextfile import ContextFile

__all__ = ["MAX_RESPONSE_BYTES", "OfflineCelData", "global_context_values", "http_mocks", "load_context_file"]

#: the most an HTTP call may answer (Kyverno's default ``--maxAPICallResponseLength``)
MAX_RESPONSE_BYTES = 2_000_000


def load_context_file(path: str) -> ContextFile:
    """The single ``cli.kyverno.io/v1alpha1`` Context document of ``path`` (a LoadError naming the file,
    document and field otherwise)."""
    docs = list(iter_file_documents(path))
    if len(docs) != 1:
        raise LoadError(path, f"expected one Context document, found {len(docs)}")
    return validate_model(ContextFile, docs[0])


def _group_version(api_version: str, function: str) -> tuple[str, str]:
    """apimachinery's ``ParseGroupVersion``."""
    if api_version.count("/") > 1:
        raise FunctionError(f"{function}: unexpected GroupVersion string: {api_version}")
    group, _, version = api_version.rpartition("/")
    return group, version


def _group_resource(group: str, resource: str) -> str:
    return f"{resource}.{group}" if group else resource


def http_mocks(api_call_responses: Mapping[tuple[str, str], Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """A Test's ``apiCallResponses`` (``(method, url) -> {statusCode, body}``, as ``Sources`` holds them) as
    the CEL http mocks: ``METHOD:url`` (or ``url`` when no method is given) -> ``{body, statusCode}``."""
    out: dict[str, dict[str, Any]] = {}
    for (method, url), response in api_call_responses.items():
        key = f"{method}:{url}" if method else url
        out[key] = {"body": as_go_json(response.get("body")), "statusCode": int(response.get("statusCode") or 200)}
    return out


def global_context_values(entries: Iterable[Any], search: Callable[[str, Any], Any], *,
                          load_files: Callable[[list[str]], list[Any]] | None = None) -> dict[str, Any]:
    """``globalContextEntries`` (``GlobalContextEntryMock`` models) as the values ``globalContext.Get``
    reads: ``data`` (or ``resources``, or the objects of ``resourceFiles`` read by ``load_files``), narrowed
    by ``fieldPath``, then ``{projection name: value}`` when the entry has projections. ``search`` is a
    JMESPath search (``engine.jmespath.search``)."""
    out: dict[str, Any] = {}
    for entry in entries:
        if entry.data is not None:
            value: Any = entry.data
        elif entry.resource_files:
            if load_files is None:
                raise LoadError(entry.name, "globalContextEntries resourceFiles need a file loader")
            value = load_files(list(entry.resource_files))
        else:
            value = list(entry.resources)
        if entry.field_path:
            value = search(entry.field_path, value)
        if entry.projections:
            value = {p.name: (search(p.path, value) if p.path else value) for p in entry.projections}
        out[entry.name] = as_go_json(value)
    return out


class OfflineCelData:
    """The CEL data of one Test (see the module docstring). ``egress``/``egress_timeout`` are the run's
    ``--allow-egress`` policy and timeout (nothing is reached by default)."""

    def __init__(self, *, resources: Iterable[Mapping[str, Any]] = (), images: Iterable[Mapping[str, Any]] = (),
                 http_mocks: Mapping[str, Any] | None = None, global_context: Mapping[str, Any] | None = None,
                 egress: EgressPolicy = STRICT, egress_timeout: float = 10.0, offline: bool = True):
        #: (group, version, resource) -> namespace -> name -> object
        self._resources: dict[tuple[str, str, str], dict[str, dict[str, dict[str, Any]]]] = {}
        for obj in resources:
            if not isinstance(obj, Mapping) or not isinstance(obj.get("apiVersion"), str) \
                    or not isinstance(obj.get("kind"), str):
                continue  # no address to read it by (its own loading reports what is wrong with it)
            group, _, version = str(obj["apiVersion"]).rpartition("/")
            gvr = (group, version, guess_resource(str(obj["kind"])))
            metadata = obj.get("metadata") or {}
            by_ns = self._resources.setdefault(gvr, {})
            by_ns.setdefault(str(metadata.get("namespace") or ""), {})[str(metadata.get("name") or "")] = dict(obj)
        self._images = {str(entry["image"]): as_go_json(dict(entry)) for entry in images}
        self._mocks = dict(http_mocks or {})
        self._global = dict(global_context or {})
        self._egress = egress
        self._timeout = egress_timeout
        self._clients: dict[str, Any] = {}
        #: whether a refused URL should be mocked in a Test (offline) or allowed with --allow-egress (serve)
        self._offline = offline
        self._rbac: Any = None  # built on the first authorizer check

    @classmethod
    def from_context(cls, context: ContextFile | None, **kwargs: Any) -> OfflineCelData:
        """From a loaded Context file (or none) and the other inputs of :meth:`__init__`."""
        if context is None:
            return cls(**kwargs)
        images = [image.model_dump(by_alias=True, exclude_unset=True) for image in context.spec.images]
        return cls(resources=context.spec.resources, images=images, **kwargs)

    # -- resource --------------------------------------------------------------------------------------
    def resource_get(self, api_version: str, resource: str, namespace: str, name: str) -> dict[str, Any] | None:
        group, version = _group_version(api_version, "resource.Get")
        return self._resources.get((group, version, resource), {}).get(namespace, {}).get(name)

    def resource_list(self, api_version: str, resource: str, namespace: str,
                      labels: Mapping[str, str] | None) -> dict[str, Any]:
        group, version = _group_version(api_version, "resource.List")
        objects = self._resources.get((group, version, resource))
        if objects is None:
            raise FunctionError(f"{_group_resource(group, resource)} resource not found: give the objects in "
                                "the spec.resources of the Test's context file")
        return {"items": list(objects.get(namespace, {}).values())}

    def resource_post(self, api_version: str, resource: str, namespace: str,
                      data: Mapping[str, Any]) -> dict[str, Any]:
        raise FunctionError(f"resource.Post({api_version}, {resource}) is not available offline (Kyverno's CLI "
                            "does not implement it either): test this policy against a cluster")

    def to_gvr(self, api_version: str, kind: str) -> tuple[str, str, str]:
        raise FunctionError(f"resource.ToGVR({api_version}, {kind}) is not available offline (Kyverno's CLI "
                            "does not implement it either): write the resource name, as in "
                            f"resource.List('{api_version}', '{guess_resource(kind)}', namespace)")

    # -- authorizer ------------------------------------------------------------------------------------
    def authorize(self, attributes: Any, extra: Mapping[str, Any]) -> Any:
        """Kubernetes' RBAC over the Roles, ClusterRoles and bindings among the given objects."""
        from verno.core.rbac import Decision

        if self._rbac is None:
            from verno.core.rbac import RBAC

            self._rbac = RBAC(obj for by_ns in self._resources.values() for objs in by_ns.values()
                              for obj in objs.values())
        if self._rbac.empty:
            return Decision(False, error="no RBAC bindings to decide with: give the Roles or ClusterRoles and "
                                         "their bindings among the Test's clusterResources or in its Context "
                                         "file's spec.resources")
        return self._rbac.authorize(attributes)

    # -- http ------------------------------------------------------------------------------------------
    def _mock(self, method: str, url: str) -> Any:
        for key in (f"{method}:{url}", url):
            if key in self._mocks:
                return self._mocks[key]
        return None

    def http_get(self, url: str, headers: Mapping[str, str], ca_bundle: str) -> Any:
        mock = self._mock("GET", url)
        return mock if mock is not None else self._fetch("GET", url, None, headers, ca_bundle)

    def http_post(self, url: str, body: Any, headers: Mapping[str, str], ca_bundle: str) -> Any:
        mock = self._mock("POST", url)
        return mock if mock is not None else self._fetch("POST", url, body, headers, ca_bundle)

    def _fetch(self, method: str, url: str, body: Any, headers: Mapping[str, str], ca_bundle: str) -> Any:
        import httpx

        from verno.core import egress_http
        from verno.core.egress import EgressDenied

        function = f"http.{method.capitalize()}"
        host = ""
        try:
            parsed = httpx.URL(url)
            host = parsed.host
        except (httpx.InvalidURL, TypeError):
            raise FunctionError(f"{function}: {url!r} is not a valid URL") from None
        if not self._egress or not egress_http.opted_in(self._egress, url):
            mock = f"mock it in the Test's apiCallResponses (url: {url}, method: {method}) or " if self._offline else ""
            raise FunctionError(f"{function} {url}: verno reaches a URL only when --allow-egress names its host; "
                                f"{mock}allow it with --allow-egress {host or 'HOST'}")
        send = {str(k): str(v) for k, v in headers.items()}
        content = None
        if method == "POST":
            from verno.core.cel.libs.kyverno_encoding import marshal

            content = marshal(body).encode()
            send.setdefault("Content-Type", "application/json")
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        try:
            reply = egress_http.fetch(self._client(ca_bundle), method, parsed, headers=send, content=content,
                                      plain_http=self._egress.plain_http_allowed(parsed.host, port),
                                      max_bytes=MAX_RESPONSE_BYTES, deadline=self._timeout)
        except EgressDenied as exc:
            raise FunctionError(f"{function} {url}: {exc}") from None
        except egress_http.TooLarge:
            raise FunctionError(f"{function} {url}: the answer is larger than {MAX_RESPONSE_BYTES} bytes") from None
        except egress_http.Unreachable:
            raise FunctionError(f"{function}: could not reach {host}") from None
        except (httpx.InvalidURL, httpx.LocalProtocolError, ValueError) as exc:
            raise FunctionError(f"{function} {url}: the request cannot be sent: {exc}") from None
        try:
            decoded = as_go_json(json.loads(reply.content)) if reply.content.strip() else None
        except ValueError:
            raise FunctionError(f"{function}: the answer of {host} is not JSON") from None
        if isinstance(decoded, dict):
            return {**decoded, "statusCode": reply.status_code}
        return {"body": decoded, "statusCode": reply.status_code}

    def _client(self, ca_bundle: str) -> Any:
        from verno.core import egress_http

        client = self._clients.get(ca_bundle)
        if client is None:
            verify: ssl.SSLContext | bool = True
            if ca_bundle:
                try:
                    verify = ssl.create_default_context(cadata=ca_bundle)
                except (ssl.SSLError, ValueError) as exc:
                    raise FunctionError(f"http.Client: the CA bundle cannot be read: {exc}") from None
            client = egress_http.client(self._egress, public=False, verify=verify, timeout=self._timeout)
            self._clients[ca_bundle] = client
        return client

    # -- globalContext, image --------------------------------------------------------------------------
    def global_context(self, name: str, projection: str) -> Any:
        if name not in self._global:
            return None
        data = self._global[name]
        if projection and isinstance(data, dict):
            if projection not in data:
                raise FunctionError(f"projection {projection!r} not found in global context entry {name!r}")
            return data[projection]
        return data

    def image_metadata(self, image: str) -> dict[str, Any]:
        if image not in self._images:
            raise FunctionError(f"image data for {image} not found in the context: add it to spec.images of "
                                "the Test's context file (the image exactly as written)")
        return self._images[image]
