"""``apiCall`` context entries: a Kubernetes API path or an external service, then JMESPath.

Offline the response comes from a Test's ``apiCallResponses`` mock; without a mock or a cluster the
entry is left to a Values file, as Kyverno's CLI does.
"""
from __future__ import annotations

import json
from typing import Any

from verno.core.errors import ContextLoadError, VernoError
from verno.core.loaders.run import SKIP, apply_jmespath


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
    except ContextLoadError:
        if default is not None:
            return default
        raise
    if body is SKIP:
        return SKIP
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
    cluster = rc.sources.cluster
    if cluster is not None and url_path:
        data = {d["key"]: d.get("value") for d in call.get("data") or []}
        return cluster.raw_post(url_path, data) if method == "POST" else cluster.raw_get(url_path)
    return SKIP
