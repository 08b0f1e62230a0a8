"""API access over the official client's ``ApiClient`` (kubeconfig or in-cluster credentials, TLS), with
discovery from kind to resource and watch streams.

Every failure is an ``APIError`` carrying the Status's code, reason and message (connection failures are
code 0), so callers tell NotFound, Conflict, AlreadyExists, Forbidden and Expired apart.
"""
from __future__ import annotations

import json
import threading
import urllib.parse
from dataclasses import dataclass
from typing import Any, Iterator

from kubernetes import client as k8s
from kubernetes import config as k8s_config

from verno.core.errors import VernoError

JSON = "application/json"
APPLY_PATCH = "application/apply-patch+yaml"


class APIError(Exception):
    def __init__(self, code: int, reason: str, message: str):
        super().__init__(message or reason or f"HTTP {code}")
        self.code, self.reason, self.message = code, reason, message

    @property
    def not_found(self) -> bool:
        return self.code == 404

    @property
    def conflict(self) -> bool:
        return self.code == 409


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(self, namespace: str = "", name: str = "", subresource: str = "") -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{urllib.parse.quote(namespace, safe='')}"
        base += f"/{self.plural}"
        if name:
            base += f"/{urllib.parse.quote(name, safe='')}"
        if subresource:
            base += f"/{subresource}"
        return base


class ClusterConfigError(VernoError):
    """The cluster's credentials cannot be read (a bad kubeconfig, no service account)."""


def api_client(kubeconfig: str | None, in_cluster: bool, context: str | None = None) -> k8s.ApiClient:
    """A client for the cluster of ``kubeconfig`` (``$KUBECONFIG`` or ``~/.kube/config`` when None) and its
    ``context`` (the current one when None), or of the in-cluster service account."""
    configuration = k8s.Configuration()
    try:
        if in_cluster:
            k8s_config.load_incluster_config(client_configuration=configuration)
        else:
            k8s_config.load_kube_config(config_file=kubeconfig, context=context or None,
                                        client_configuration=configuration)
    except Exception as exc:  # ConfigException, YAML errors, missing files
        where = "the in-cluster service account" if in_cluster else f"kubeconfig {kubeconfig or '(default)'}"
        if context and not in_cluster:
            where += f" (context {context})"
        raise ClusterConfigError(f"cannot use {where}: {exc}") from None
    return k8s.ApiClient(configuration)


def _error(status: int, reason: str, data: bytes) -> APIError:
    try:
        doc = json.loads(data or b"{}")
    except ValueError:
        doc = {}
    if not isinstance(doc, dict):
        doc = {}
    return APIError(status, str(doc.get("reason") or reason or ""), str(doc.get("message") or ""))


class Kube:
    """REST calls against one API server; ``timeout`` bounds every call but watches."""

    def __init__(self, api: k8s.ApiClient, timeout: float = 30.0):
        self.api, self.timeout = api, timeout
        self._resources: dict[tuple[str, str], Resource] = {}
        self._lock = threading.Lock()

    @property
    def host(self) -> str:
        """The API server's address, as the credentials name it."""
        return str(getattr(self.api.configuration, "host", "") or "")

    # -- raw ------------------------------------------------------------------------------------------
    def _send(self, method: str, path: str, query: dict[str, Any] | None = None, body: Any = None,
              timeout: Any = None, content_type: str = JSON) -> Any:
        headers = {"Accept": JSON, "Content-Type": content_type}
        if query:
            path = f"{path}?{urllib.parse.urlencode({k: v for k, v in query.items() if v not in (None, '')})}"
        try:
            params = self.api.param_serialize(method=method, resource_path=path, header_params=headers,
                                              body=body, auth_settings=["BearerToken"])
            return self.api.call_api(*params, _request_timeout=timeout or self.timeout)
        except Exception as exc:  # connection refused, reset, timeouts
            raise APIError(0, "ConnectionError", f"{method} {path}: {exc}") from None

    def request(self, method: str, path: str, query: dict[str, Any] | None = None, body: Any = None,
                content_type: str = JSON) -> Any:
        resp = self._send(method, path, query, body, content_type=content_type)
        try:
            data = resp.read()
        except Exception as exc:
            raise APIError(0, "ConnectionError", f"{method} {path}: {exc}") from None
        if not 200 <= resp.status < 300:
            raise _error(resp.status, resp.reason, data)
        try:
            return json.loads(data) if data else {}
        except ValueError:
            raise APIError(resp.status, "BadResponse", f"{method} {path}: the answer is not JSON") from None

    # -- discovery ------------------------------------------------------------------------------------
    def resource(self, api_version: str, kind: str) -> Resource:
        """The resource serving ``kind`` in ``api_version`` (discovery, cached; re-read once when unknown)."""
        key = (api_version, kind)
        with self._lock:
            found = self._resources.get(key)
        if found is not None:
            return found
        group, _, version = api_version.rpartition("/")
        path = f"/apis/{group}/{version}" if group else f"/api/{version}"
        missing = APIError(404, "NotFound", f'no matches for kind "{kind}" in version "{api_version}"')
        try:
            listing = self.request("GET", path)
        except APIError as exc:
            if exc.not_found:  # the group/version itself is not served
                raise missing from None
            raise
        for entry in listing.get("resources") or []:
            if "/" in str(entry.get("name")) or entry.get("kind") != kind:
                continue
            res = Resource(group, version, str(entry["name"]), kind, bool(entry.get("namespaced")))
            with self._lock:
                self._resources[key] = res
            return res
        raise missing

    def served(self, group: str, kind: str, versions: tuple[str, ...]) -> Resource:
        """The resource serving ``kind`` in the first of ``versions`` of ``group`` the cluster serves (a
        MutatingAdmissionPolicy is ``v1beta1`` before Kubernetes 1.36, a Kyverno CRD may stop at ``v1beta1``);
        404 when none serves it."""
        last: APIError | None = None
        for version in versions:
            try:
                return self.resource(f"{group}/{version}" if group else version, kind)
            except APIError as exc:
                if not exc.not_found:
                    raise
                last = exc
        raise last or APIError(404, "NotFound", f'no matches for kind "{kind}" in group "{group}"')

    # -- objects --------------------------------------------------------------------------------------
    def resources_matching(self, group: str, version: str, plural: str) -> list[Resource]:
        """The resources served under ``group``/``version``/``plural`` (each may be ``*``): discovery, no
        subresources. A group or version the cluster does not serve gives none."""
        versions: list[tuple[str, str]] = []
        if group in ("", "*"):
            for v in (self.request("GET", "/api").get("versions") or []):
                versions.append(("", str(v)))
        if group != "":
            for g in (self.request("GET", "/apis").get("groups") or []):
                if group in ("*", g.get("name")):
                    versions.extend((str(g.get("name")), str(v.get("version"))) for v in g.get("versions") or [])
        out: list[Resource] = []
        for g, v in versions:
            if version not in ("*", v):
                continue
            try:
                listing = self.request("GET", f"/apis/{g}/{v}" if g else f"/api/{v}")
            except APIError as exc:
                if exc.not_found:
                    continue
                raise
            for entry in listing.get("resources") or []:
                name = str(entry.get("name"))
                if "/" in name or plural not in ("*", name) or "list" not in (entry.get("verbs") or ["list"]):
                    continue
                out.append(Resource(g, v, name, str(entry.get("kind")), bool(entry.get("namespaced"))))
        return out

    # -- objects --------------------------------------------------------------------------------------
    def get(self, res: Resource, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            return self.request("GET", res.path(namespace, name))
        except APIError as exc:
            if exc.not_found:
                return None
            raise

    def list(self, res: Resource, namespace: str = "", label_selector: str = "") -> dict[str, Any]:
        return self.request("GET", res.path(namespace), {"labelSelector": label_selector})

    def list_items(self, res: Resource, namespace: str = "", page: int = 500) -> Iterator[dict[str, Any]]:
        """Every object of ``res`` (in ``namespace`` when given), read ``page`` at a time (``limit`` and
        ``continue``), each with its ``apiVersion`` and ``kind`` (a list's items may leave them out)."""
        token = ""
        while True:
            listed = self.request("GET", res.path(namespace), {"limit": page, "continue": token})
            for item in listed.get("items") or []:
                if isinstance(item, dict):
                    yield {"apiVersion": res.api_version, "kind": res.kind, **item}
            token = str((listed.get("metadata") or {}).get("continue") or "")
            if not token:
                return

    def create(self, res: Resource, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.request("POST", res.path(namespace), body=body)

    def replace(self, res: Resource, namespace: str, body: dict[str, Any], subresource: str = "") -> dict[str, Any]:
        name = (body.get("metadata") or {}).get("name") or ""
        return self.request("PUT", res.path(namespace, name, subresource), body=body)

    def apply(self, res: Resource, namespace: str, body: dict[str, Any], field_manager: str,
              force: bool = True) -> dict[str, Any]:
        """Server-side apply of ``body`` (created when absent) as ``field_manager``; ``force`` takes over
        fields another manager owns."""
        name = (body.get("metadata") or {}).get("name") or ""
        query = {"fieldManager": field_manager, "force": "true" if force else ""}
        return self.request("PATCH", res.path(namespace, name), query, body=json.dumps(body),
                            content_type=APPLY_PATCH)

    def delete(self, res: Resource, namespace: str, name: str, uid: str = "") -> None:
        body: dict[str, Any] = {"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": "Background"}
        if uid:
            body["preconditions"] = {"uid": uid}
        try:
            self.request("DELETE", res.path(namespace, name), body=body)
        except APIError as exc:
            if not exc.not_found:
                raise

    def watch(self, res: Resource, resource_version: str, *, label_selector: str = "",
              timeout_seconds: int = 300) -> Iterator[dict[str, Any]]:
        """Watch events from ``resource_version`` until the server closes the stream. An expired start
        point raises APIError 410, whether as an ERROR event or as the reply's status."""
        query = {"watch": "true", "resourceVersion": resource_version, "labelSelector": label_selector,
                 "timeoutSeconds": timeout_seconds, "allowWatchBookmarks": "true"}
        resp = self._send("GET", res.path(), query, timeout=(self.timeout, timeout_seconds + 30))
        raw = resp.response
        try:
            if not 200 <= resp.status < 300:
                raise _error(resp.status, resp.reason, raw.read())
            pending = b""
            for chunk in raw.stream(65536, decode_content=True):
                pending += chunk
                while b"\n" in pending:
                    line, pending = pending.split(b"\n", 1)
                    if not line.strip():
                        continue
                    event = json.loads(line)
                    if event.get("type") == "ERROR":
                        status = event.get("object") or {}
                        raise APIError(int(status.get("code") or 500), str(status.get("reason") or ""),
                                       str(status.get("message") or ""))
                    yield event
        except APIError:
            raise
        except Exception as exc:  # the stream broke
            raise APIError(0, "ConnectionError", f"watch {res.plural}: {exc}") from None
        finally:
            raw.release_conn()
