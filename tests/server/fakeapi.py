"""A small stand-in for the Kubernetes API server: list and watch of the collections verno watches,
ConfigMap and Secret reads, and a few paths for apiCall context entries (one slow, one failing).

Plain HTTP on 127.0.0.1; watches stream one JSON event per line, as the API server does.
"""
from __future__ import annotations

import json
import queue
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

COLLECTIONS = {
    "/apis/kyverno.io/v1/clusterpolicies": "clusterpolicies",
    "/apis/kyverno.io/v1/policies": "policies",
    "/apis/kyverno.io/v2/policyexceptions": "policyexceptions",
    "/api/v1/namespaces": "namespaces",
    "/apis/policies.kyverno.io/v1/validatingpolicies": "validatingpolicies",
    "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies": "validatingadmissionpolicies",
    "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings": "validatingadmissionpolicybindings",
}
LIST_KINDS = {"clusterpolicies": ("kyverno.io/v1", "ClusterPolicyList"), "policies": ("kyverno.io/v1", "PolicyList"),
              "policyexceptions": ("kyverno.io/v2", "PolicyExceptionList"), "namespaces": ("v1", "NamespaceList"),
              "validatingpolicies": ("policies.kyverno.io/v1", "ValidatingPolicyList"),
              "validatingadmissionpolicies": ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicyList"),
              "validatingadmissionpolicybindings": ("admissionregistration.k8s.io/v1",
                                                    "ValidatingAdmissionPolicyBindingList")}


class FakeAPI:
    def __init__(self) -> None:
        self.objects: dict[str, dict[str, dict[str, Any]]] = {c: {} for c in COLLECTIONS.values()}
        self.configmaps: dict[tuple[str, str], dict[str, Any]] = {}
        self.secrets: dict[tuple[str, str], dict[str, Any]] = {}
        self.version = 1
        self.watchers: dict[str, list[queue.Queue]] = {c: [] for c in COLLECTIONS.values()}
        self.lock = threading.Lock()
        self.slow_seconds = 30.0
        self.requests: list[str] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                api.handle(self)

            def do_POST(self) -> None:
                api.handle(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    # -- state -----------------------------------------------------------------------------------------
    def put(self, collection: str, obj: dict[str, Any]) -> None:
        with self.lock:
            self.version += 1
            obj = json.loads(json.dumps(obj))
            obj.setdefault("metadata", {})["resourceVersion"] = str(self.version)
            key = _key(obj)
            event = "MODIFIED" if key in self.objects[collection] else "ADDED"
            self.objects[collection][key] = obj
            self._notify(collection, event, obj)

    def delete(self, collection: str, key: str) -> None:
        with self.lock:
            self.version += 1
            obj = self.objects[collection].pop(key)
            self._notify(collection, "DELETED", obj)

    def _notify(self, collection: str, event: str, obj: dict[str, Any]) -> None:
        for q in self.watchers[collection]:
            q.put({"type": event, "object": obj})

    def close(self) -> None:
        for qs in self.watchers.values():
            for q in qs:
                q.put(None)
        self.server.shutdown()
        self.server.server_close()

    # -- HTTP ------------------------------------------------------------------------------------------
    def handle(self, h: BaseHTTPRequestHandler) -> None:
        url = urlparse(h.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        self.requests.append(url.path)
        if h.command == "POST":
            length = int(h.headers.get("content-length") or 0)
            h.rfile.read(length)
        collection = COLLECTIONS.get(url.path)
        if collection and query.get("watch") in ("true", "1", "True"):
            return self._watch(h, collection, float(query.get("timeoutSeconds") or 300))
        if collection:
            api_version, kind = LIST_KINDS[collection]
            with self.lock:
                items = list(self.objects[collection].values())
                doc = {"apiVersion": api_version, "kind": kind, "metadata": {"resourceVersion": str(self.version)},
                       "items": items}
            return _send(h, 200, doc)
        parts = url.path.strip("/").split("/")
        if len(parts) == 6 and parts[:3] == ["api", "v1", "namespaces"] and parts[4] in ("configmaps", "secrets"):
            cm = (self.configmaps if parts[4] == "configmaps" else self.secrets).get((parts[3], parts[5]))
            if cm is None:
                return _send(h, 404, {"kind": "Status", "code": 404, "reason": "NotFound"})
            return _send(h, 200, cm)
        if url.path == "/apis/example.com/v1/slow":
            time.sleep(self.slow_seconds)
            return _send(h, 200, {"ok": True})
        if url.path == "/apis/example.com/v1/broken":
            return _send(h, 500, {"kind": "Status", "code": 500, "message": "broken on purpose"})
        if url.path == "/apis/example.com/v1/quota":
            return _send(h, 200, {"limit": 2})
        return _send(h, 404, {"kind": "Status", "code": 404, "reason": "NotFound"})

    def _watch(self, h: BaseHTTPRequestHandler, collection: str, timeout: float) -> None:
        q: queue.Queue = queue.Queue()
        with self.lock:
            self.watchers[collection].append(q)
        try:
            h.send_response(200)
            h.send_header("Content-Type", "application/json")
            h.send_header("Transfer-Encoding", "chunked")
            h.end_headers()
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                try:
                    ev = q.get(timeout=0.2)
                except queue.Empty:
                    continue
                if ev is None:
                    break
                line = (json.dumps(ev) + "\n").encode()
                h.wfile.write(f"{len(line):x}\r\n".encode() + line + b"\r\n")
                h.wfile.flush()
            h.wfile.write(b"0\r\n\r\n")
            h.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            with self.lock:
                self.watchers[collection].remove(q)
            h.close_connection = True

    def kubeconfig(self, path: Path) -> Path:
        path.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "fake",
            "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
            "users": [{"name": "fake", "user": {"token": "test-token"}}],
            "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake"}}],
        }))
        return path


def _key(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    return f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else meta["name"]


def _send(h: BaseHTTPRequestHandler, status: int, doc: Any) -> None:
    body = json.dumps(doc).encode()
    h.send_response(status)
    h.send_header("Content-Type", "application/json")
    h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    h.wfile.write(body)
