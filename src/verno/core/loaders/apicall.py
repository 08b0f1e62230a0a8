"""``apiCall`` context entries: a Kubernetes API path or an external service, then JMESPath.

The response comes from a Test's ``apiCallResponses`` mock, else from the cluster for a ``urlPath``
(offline: the objects a Test gives, see :mod:`verno.core.loaders.offline_cluster`), else, for a
``service.url``, from the service itself, but only when ``--allow-egress`` names its host (or its
addresses): the call goes through the egress fence (:mod:`verno.core.egress_http`), HTTPS only unless an
``http://`` entry names the host, ``caBundle`` as the only trusted roots, redirects to HTTPS only, at most
2,000,000 bytes within the request deadline, no credentials of verno's own. When the data cannot be had,
a value a Values file gives the entry stands, else the entry's ``default``, else the rule errors saying
what to provide. A failed call uses ``default`` when there is one, as in Kyverno, and is otherwise
Kyverno's ``failed to fetch data for APICall`` error; what a service answers never appears in an error.

A namespaced Policy reads only its own namespace through ``urlPath`` (Kyverno's rule) and calls no
service (Kyverno gates HTTP from namespaced policies behind an opt-in that verno does not offer).
"""
from __future__ import annotations

import functools
import json
import os
import posixpath
import re
import ssl
import threading
from typing import Any
from urllib.parse import unquote

from verno.core.errors import ContextLoadError, VernoError
from verno.core.loaders.run import Unavailable, apply_jmespath

#: Kyverno's default ``--maxAPICallResponseLength``
MAX_RESPONSE_BYTES = 2_000_000
_NAMESPACED_PATH = re.compile(r"^/(?:api/[^/]+|apis/[^/]+/[^/]+)/namespaces/([^/]+)(?:/|$)")
#: headers a policy may not set: they would change where or how the request goes
_RESERVED_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection", "upgrade",
                               "proxy-authorization", "te", "trailer"})


def load(settings: dict[str, Any], rc) -> Any:
    jmes_path = settings.get("jmesPath") or ""
    call = rc.substitute({k: v for k, v in settings.items() if k != "jmesPath"})
    method = call.get("method") or "GET"
    url_path = call.get("urlPath") or ""
    service = call.get("service") or {}
    url = service.get("url") or ""
    default = call.get("default")
    try:
        body = _fetch(rc, method, url_path, url, call)
    except ContextLoadError as exc:
        if default is not None:
            return default
        raise ContextLoadError(f"failed to fetch data for APICall: {exc}") from None
    if isinstance(body, Unavailable):
        return Unavailable(body.need, default)
    if not jmes_path:
        return body
    try:
        return apply_jmespath(rc, jmes_path, body)
    except VernoError as exc:
        if default is not None:
            return default
        raise ContextLoadError(f"failed to apply JMESPath {jmes_path} to the API response: {exc}") from None


def _policy_namespace(rc) -> str:
    return getattr(rc.policy, "namespace", "") or ""


def check_namespace(url_path: str, policy_namespace: str) -> None:
    """A namespaced Policy reads only its own namespace (Kyverno's messages)."""
    if not policy_namespace:
        return
    clean = posixpath.normpath(unquote(url_path.split("?", 1)[0]))
    found = _NAMESPACED_PATH.match(clean)
    if found is None:
        raise ContextLoadError(f"path {clean} does not contain a namespace segment, which is required for "
                               "namespaced policies")
    if found.group(1) != policy_namespace:
        raise ContextLoadError(f"path {clean} refers to namespace {found.group(1)}, which is different from the "
                               f"policy namespace {policy_namespace}")


def _fetch(rc, method: str, url_path: str, url: str, call: dict[str, Any]) -> Any:
    target = url_path or url
    if url_path:
        check_namespace(url_path, _policy_namespace(rc))
    mock = rc.sources.api_call_responses.get((method, target))
    if mock is not None:
        status = int(mock.get("statusCode") or 200)
        body = mock.get("body")
        if status >= 300:
            raise ContextLoadError(f"API call {method} {target} returned HTTP {status}: {json.dumps(body)}")
        return body
    if not url_path:
        if not url:
            raise ContextLoadError("apiCall needs a urlPath or a service.url")
        egress = getattr(rc.sources, "egress", None)
        from verno.core.egress_http import opted_in

        if egress and opted_in(egress, url):
            if _policy_namespace(rc):
                raise ContextLoadError(f"service {url} is not called for a namespaced Policy: only a ClusterPolicy "
                                       "may call services")
            return call_service(egress, method, url, call, timeout=getattr(rc.sources, "egress_timeout", 10.0))
        return Unavailable(f"apiCall {method} {url}: verno calls a service only when --allow-egress names its host; "
                           f"mock the response in the Test's apiCallResponses (url: {url}, method: {method}), give "
                           "this entry's value in a Values file, or allow the call with --allow-egress "
                           f"{_host_of(url) or 'HOST'}")
    cluster = rc.sources.cluster or rc.sources.offline_cluster
    if cluster is None:
        return Unavailable(f"apiCall {method} {url_path} needs a cluster: give the objects in the Test's "
                           f"clusterResources, mock the response in apiCallResponses (urlPath: {url_path}), or give "
                           "this entry's value in a Values file")
    data = {d.get("key"): d.get("value") for d in call.get("data") or [] if isinstance(d, dict)}
    return cluster.raw_post(url_path, data) if method == "POST" else cluster.raw_get(url_path)


# -- service calls ------------------------------------------------------------------------------------------
def _host_of(url: str) -> str:
    import httpx

    try:
        return httpx.URL(url).host
    except (httpx.InvalidURL, TypeError):
        return ""


def call_service(egress, method: str, url: str, call: dict[str, Any], *, timeout: float = 10.0) -> Any:
    """One service call through the egress fence; the JSON it answers, or a ContextLoadError."""
    import httpx

    from verno.core import egress_http
    from verno.core.egress import EgressDenied

    if method not in ("GET", "POST"):
        raise ContextLoadError(f"invalid request type {method} for APICall")
    service = call.get("service") or {}
    headers = _headers(service.get("headers"))
    content = None
    if method == "POST":
        data = {d.get("key"): d.get("value") for d in call.get("data") or [] if isinstance(d, dict)}
        content = json.dumps(data).encode()
        headers.setdefault("Content-Type", "application/json")
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        raise ContextLoadError(f"service URL {url!r} is not a valid URL") from None
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    client = _client(os.getpid(), egress, _ca_bundle(service.get("caBundle")), float(timeout))
    try:
        reply = egress_http.fetch(client, method, parsed, headers=headers, content=content,
                                  plain_http=egress.plain_http_allowed(parsed.host, port),
                                  max_bytes=MAX_RESPONSE_BYTES, deadline=timeout)
    except EgressDenied as exc:
        raise ContextLoadError(f"service {url}: {exc}") from None
    except egress_http.TooLarge:
        raise ContextLoadError(f"response length must be less than max allowed response length of "
                               f"{MAX_RESPONSE_BYTES}") from None
    except egress_http.Unreachable:
        raise ContextLoadError(f"could not reach service {parsed.host}") from None
    except (httpx.InvalidURL, httpx.LocalProtocolError, ValueError) as exc:  # headers httpx refuses to send
        raise ContextLoadError(f"service {url}: the request cannot be sent: {exc}") from None
    if not 200 <= reply.status_code < 300:
        egress_http.log.debug("service %s answered %s: %r", parsed.host, reply.status_code, reply.content[:512])
        raise ContextLoadError(f"HTTP {reply.status_code} {reply.reason}".rstrip())
    try:
        return reply.json()
    except ValueError:
        raise ContextLoadError(f"the answer of service {parsed.host} is not JSON") from None


def _headers(raw: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for i, header in enumerate(raw or []):
        if not isinstance(header, dict) or not isinstance(header.get("key"), str) \
                or not isinstance(header.get("value"), str):
            raise ContextLoadError(f"service.headers[{i}] needs a string key and value")
        key = header["key"]
        if key.lower() in _RESERVED_HEADERS:
            raise ContextLoadError(f"service.headers[{i}]: header {key} cannot be set by a policy")
        out[key] = header["value"]
    return out


def _ca_bundle(pem: Any) -> str | None:
    if pem in (None, ""):
        return None
    if not isinstance(pem, str) or "-----BEGIN CERTIFICATE-----" not in pem:
        raise ContextLoadError("service.caBundle holds no PEM certificate")
    return pem


_client_lock = threading.Lock()


def _client(pid: int, egress, ca_bundle: str | None, timeout: float):
    """A pooled client per process, egress policy, CA bundle and timeout (a few are kept)."""
    with _client_lock:
        return _cached_client(pid, egress, ca_bundle, timeout)


@functools.lru_cache(maxsize=16)
def _cached_client(pid: int, egress, ca_bundle: str | None, timeout: float):
    from verno.core import egress_http

    verify: ssl.SSLContext | bool = True
    if ca_bundle is not None:
        try:
            verify = ssl.create_default_context(cadata=ca_bundle)  # the bundle only, as Kyverno does
        except (ssl.SSLError, ValueError):
            raise ContextLoadError("service.caBundle holds no valid PEM certificate") from None
    return egress_http.client(egress, public=False, verify=verify, timeout=timeout)
