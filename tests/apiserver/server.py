"""The stand-in API server: `APIServer(...).start()` serves plain HTTP on 127.0.0.1 from a thread."""
from __future__ import annotations

import json
import sys
import threading
from collections import deque
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

from .admission import Admission
from .authz import Authorizer, Denial
from .collector import Collector
from .handler import ADMIN, Handler
from .operations import Operations
from .resources import ResourceType, Registry, builtins_for
from .status import APIError
from .store import Store

DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away (a killed process) is normal; anything else is printed."""
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)


class APIServer:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, service_map: dict[str, str] | None = None,
                 history: int = 5000, watch_timeout: float = 1800.0, bookmark_interval: float = 60.0,
                 verbose: bool = False, kubernetes_minor: int = 36) -> None:
        #: the built-in kinds are served at the versions Kubernetes 1.<kubernetes_minor> serves them
        self.registry = Registry(builtins=builtins_for(kubernetes_minor))
        self.store = Store(self.registry, history)
        self.admission = Admission(self.store, self.registry, service_map)
        self.operations = Operations(self.store, self.admission)
        self.collector = Collector(self.store)
        self.authorizer = Authorizer()
        self.watch_timeout = watch_timeout
        self.bookmark_interval = bookmark_interval
        self.verbose = verbose
        #: the audit log: (verb, path) of every request served, newest last (bounded)
        self.audit: deque[tuple[str, str]] = deque(maxlen=20000)
        handler = type("BoundHandler", (Handler,), {"app": self})
        self.httpd = _HTTPServer((host, port), handler)
        self.host, self.port = self.httpd.server_address[:2]
        self.address = f"{self.host}:{self.port}"
        self.url = f"http://{self.address}"
        self._thread: threading.Thread | None = None
        for name in DEFAULT_NAMESPACES:
            self.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})

    # -- lifecycle -----------------------------------------------------------------------------------------
    def start(self) -> "APIServer":
        self.collector.start()
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="apiserver", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self.collector.start()
        self.httpd.serve_forever()

    def stop(self) -> None:
        self.store.close_watches()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.collector.stop()

    def __enter__(self) -> "APIServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def write_kubeconfig(self, path: Path | str) -> Path:
        """A kubeconfig for kubectl and the Python client (JSON is YAML); token auth over plain HTTP."""
        path = Path(path)
        path.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "stand-in", "preferences": {},
            "clusters": [{"name": "stand-in", "cluster": {"server": self.url}}],
            "users": [{"name": "admin", "user": {"token": "stand-in-admin-token"}}],
            "contexts": [{"name": "stand-in", "context": {"cluster": "stand-in", "user": "admin",
                                                          "namespace": "default"}}],
        }, indent=1))
        return path

    # -- helpers for tests and --load ----------------------------------------------------------------------
    def resource_for(self, obj: dict[str, Any]) -> ResourceType:
        rt = self.registry.by_kind(obj.get("apiVersion", ""), obj.get("kind", ""))
        if rt is None or rt.api_version != obj.get("apiVersion"):
            raise APIError(404, f'no matches for kind "{obj.get("kind")}" in version "{obj.get("apiVersion")}"',
                           "NotFound")
        return rt

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Create an object as the cluster admin would (through admission)."""
        rt = self.resource_for(obj)
        namespace = (obj.get("metadata") or {}).get("namespace") or ("default" if rt.namespaced else "")
        return self.operations.create(rt, namespace, obj, False, dict(ADMIN), [])

    def get(self, api_version: str, kind: str, name: str, namespace: str = "") -> dict[str, Any] | None:
        rt = self.resource_for({"apiVersion": api_version, "kind": kind})
        return self.store.get(rt.group_resource, (namespace if rt.namespaced else "", name))

    def deny(self, verb: str, group: str, plural: str, namespace: str = "", user: str = "") -> Denial:
        """Refuse ``verb`` on ``group``/``plural`` (in ``namespace``, or everywhere; to ``user``, or to everyone)
        with a 403 Forbidden; SubjectAccessReviews answer the same."""
        return self.authorizer.deny(verb, group, plural, namespace, user)

    def allow(self, denial: Denial) -> None:
        self.authorizer.allow(denial)

    def compact(self) -> None:
        """Drop the watch history: a watch from an older resourceVersion gets 410 Expired."""
        self.store.compact()

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Wait until garbage collection and namespace cleanup have settled."""
        self.collector.wait_idle(timeout)
