"""The controller's health endpoints and Prometheus metrics, over plain HTTP from a daemon thread.

``/health/liveness``: 200 while the process runs. ``/health/readiness``: 200 once the replica reached the API
server's Lease (leading and working, or waiting as a candidate). ``/metrics``: the text format.
"""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class Counter:
    def __init__(self, name: str, help_: str, labels: tuple[str, ...] = ()):
        self.name, self.help, self.labels = name, help_, labels
        self._values: dict[tuple[str, ...], float] = {}
        self._lock = threading.Lock()

    def inc(self, *values: str, by: float = 1.0) -> None:
        with self._lock:
            self._values[values] = self._values.get(values, 0.0) + by

    def value(self, *values: str) -> float:
        with self._lock:
            return self._values.get(values, 0.0)

    def render(self, kind: str = "counter") -> list[str]:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} {kind}"]
        with self._lock:
            items = sorted(self._values.items())
        for values, number in items:
            label = ",".join(f'{k}="{_escape(v)}"' for k, v in zip(self.labels, values))
            lines.append(f"{self.name}{{{label}}} {number:g}" if label else f"{self.name} {number:g}")
        return lines


class Metrics:
    def __init__(self, queue_depth: Callable[[], int], leader: Callable[[], bool]):
        self.queue_depth, self.leader = queue_depth, leader
        self.requests = Counter("verno_controller_update_requests_total",
                                "UpdateRequests processed, by result (completed, failed, given_up).", ("result",))
        self.writes = Counter("verno_controller_downstream_writes_total",
                              "Downstream objects written, by action (created, updated, deleted).", ("action",))
        self.denied = Counter("verno_controller_permission_denied_total",
                              "403 Forbidden answers to the controller's writes, by verb, kind and namespace.",
                              ("verb", "kind", "namespace"))
        self.mutations = Counter("verno_controller_mutate_existing_writes_total",
                                 "mutateExisting targets, by result (patched, skipped, conflict).", ("result",))
        self.reconcile_seconds = Counter("verno_controller_reconcile_seconds_total",
                                         "Seconds spent processing UpdateRequests.")
        self.reconciles = Counter("verno_controller_reconciles_total", "UpdateRequests processed (any result).")
        #: counters other parts of the controller add (background scans)
        self.extra: list[Counter] = []

    def render(self) -> str:
        lines = [
            "# HELP verno_controller_queue_depth UpdateRequests waiting to be processed.",
            "# TYPE verno_controller_queue_depth gauge",
            f"verno_controller_queue_depth {self.queue_depth()}",
            "# HELP verno_controller_leader 1 while this replica holds the Lease.",
            "# TYPE verno_controller_leader gauge",
            f"verno_controller_leader {1 if self.leader() else 0}",
        ]
        for counter in (self.requests, self.writes, self.denied, self.mutations, self.reconcile_seconds,
                        self.reconciles, *self.extra):
            lines.extend(counter.render())
        return "\n".join(lines) + "\n"


def serve(host: str, port: int, metrics: Metrics, ready: Callable[[], bool]) -> ThreadingHTTPServer:
    """Start the endpoints; the server's ``server_address`` holds the port bound."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, fmt: str, *args: object) -> None:
            return

        def _send(self, code: int, body: str, content_type: str = "application/json") -> None:
            data = body.encode()
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/health/liveness":
                self._send(200, json.dumps({"status": "ok"}))
            elif path == "/health/readiness":
                ok = ready()
                self._send(200 if ok else 503, json.dumps({"status": "ready" if ok else "not ready"}))
            elif path == "/metrics":
                self._send(200, metrics.render(), CONTENT_TYPE)
            else:
                self._send(404, json.dumps({"error": f"no route {path}"}))

    httpd = ThreadingHTTPServer((host, port), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, name="verno-controller-http", daemon=True).start()
    return httpd
