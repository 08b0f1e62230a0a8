"""``apiCall`` context entries: a Kubernetes API path or an external service, then JMESPath.

The response comes from a Test's ``apiCallResponses`` mock, else from the cluster for a ``urlPath``
(offline: the objects a Test gives, see :mod:`verno.core.loaders.offline_cluster`). verno calls no
external service. When the data cannot be had, a value a Values file gives the entry stands, else the
entry's ``default``, else the rule errors saying what to provide. A failed call uses ``default`` when
there is one, as in Kyverno, and is otherwise Kyverno's ``failed to fetch data for APICall`` error.
"""
from __future__ import annotations

import json
from typing import Any

from verno.core.errors import ContextLoadError, VernoError
from verno.core.loaders.run import Unavailable, apply_jmespath


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


def _fetch(rc, method: str, url_path: str, url: str, call: dict[str, Any]) -> Any:
    target = url_path or url
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
        return Unavailable(f"apiCall {method} {url}: verno calls no external service; mock the response in the "
                           f"Test's apiCallResponses (url: {url}, method: {method}), or give this entry's value "
                           "in a Values file")
    cluster = rc.sources.cluster or rc.sources.offline_cluster
    if cluster is None:
        return Unavailable(f"apiCall {method} {url_path} needs a cluster: give the objects in the Test's "
                           f"clusterResources, mock the response in apiCallResponses (urlPath: {url_path}), or give "
                           "this entry's value in a Values file")
    data = {d.get("key"): d.get("value") for d in call.get("data") or [] if isinstance(d, dict)}
    return cluster.raw_post(url_path, data) if method == "POST" else cluster.raw_get(url_path)
