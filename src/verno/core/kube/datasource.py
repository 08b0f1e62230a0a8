"""``verno.core.sources.ClusterClient`` over :class:`~verno.core.kube.rest.Kube`: what configMap and apiCall
context entries (and CEL ``resource`` functions, ``paramRef``) read from a live cluster.

Failures are :class:`~verno.core.errors.ContextLoadError` saying ``returned HTTP <code>`` (what the CEL data
libraries tell a missing object and a refusal by) or, without an answer, ``failed: <why>``."""
from __future__ import annotations

from typing import Any

from verno.core.kube.rest import APIError, Kube
from verno.core.errors import ContextLoadError


class KubeDataSource:
    """``verno.core.sources.ClusterClient`` over the API server; ``namespace`` is verno's own (where bare
    Secret names are read)."""

    def __init__(self, kube: Kube, namespace: str = ""):
        self.kube, self.namespace = kube, namespace

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        try:
            return self.kube.request(method, path, body=body)
        except APIError as exc:
            if exc.code:
                raise ContextLoadError(f"API call {method} {path} returned HTTP {exc.code}") from None
            raise ContextLoadError(f"API call {method} {path} failed: {exc}") from None

    def _get_or_none(self, path: str) -> dict[str, Any] | None:
        try:
            return self.kube.request("GET", path)
        except APIError as exc:
            if exc.not_found:
                return None
            raise ContextLoadError(f"API call GET {path} returned HTTP {exc.code}" if exc.code
                                   else f"API call GET {path} failed: {exc}") from None

    def get_configmap(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self._get_or_none(f"/api/v1/namespaces/{namespace}/configmaps/{name}")

    def get_secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self._get_or_none(f"/api/v1/namespaces/{namespace}/secrets/{name}")

    def raw_get(self, url_path: str) -> Any:
        return self._call("GET", url_path)

    def raw_post(self, url_path: str, body: Any) -> Any:
        return self._call("POST", url_path, body)
