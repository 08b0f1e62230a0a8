"""Run a real ``verno serve`` subprocess on a free 127.0.0.1 port, and talk to it over TLS."""
from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from certs import write_self_signed


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class VernoServer:
    def __init__(self, workdir: Path, args: list[str], *, env: dict[str, str] | None = None,
                 preexec_fn: Any = None):
        self.workdir = workdir
        self.cert, self.key = workdir / "tls.crt", workdir / "tls.key"
        self.cert_pem = write_self_signed(self.cert, self.key)
        self.port = free_port()
        self.base = f"https://127.0.0.1:{self.port}"
        self.log_path = workdir / "server.log"
        cmd = [sys.executable, "-m", "verno", "serve", "--tls-cert", str(self.cert), "--tls-key", str(self.key),
               "--host", "127.0.0.1", "--port", str(self.port), *args]
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT,
                                     env={**os.environ, **(env or {})}, preexec_fn=preexec_fn)
        self.client = httpx.Client(base_url=self.base, verify=self.ssl_context(), timeout=30)

    def ssl_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cadata=self.cert_pem.decode())
        return ctx

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"verno serve exited ({self.proc.returncode}):\n{self.logs()}")
            try:
                if self.client.get("/health/readiness").status_code == 200:
                    return
            except (httpx.TransportError, ssl.SSLError):
                pass
            time.sleep(0.05)
        raise RuntimeError(f"verno serve not ready within {timeout}s:\n{self.logs()}")

    def tls_socket(self, timeout: float = 5.0) -> ssl.SSLSocket:
        """A TLS connection to the server, handshake done, nothing sent."""
        raw = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        return self.ssl_context().wrap_socket(raw, server_hostname="127.0.0.1")

    def rss_mib(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS")

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")

    def review(self, path: str, request: dict[str, Any]) -> dict[str, Any]:
        body = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}
        resp = self.client.post(path, json=body)
        assert resp.status_code == 200, resp.text
        doc = resp.json()
        assert doc["apiVersion"] == "admission.k8s.io/v1" and doc["kind"] == "AdmissionReview"
        assert doc["response"]["uid"] == request["uid"]
        return doc["response"]

    def stop(self) -> int:
        self.client.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()
        return self.proc.returncode


def admission_request(obj: dict[str, Any] | None, operation: str = "CREATE", *, old: dict[str, Any] | None = None,
                      **extra: Any) -> dict[str, Any]:
    """An admission.k8s.io/v1 AdmissionRequest for ``obj`` (or ``old`` on DELETE)."""
    subject = obj if obj is not None else old or {}
    api_version = subject.get("apiVersion", "v1")
    group, _, version = api_version.rpartition("/")
    kind = subject.get("kind", "")
    meta = subject.get("metadata") or {}
    req: dict[str, Any] = {
        "uid": str(uuid.uuid4()),
        "kind": {"group": group, "version": version, "kind": kind},
        "resource": {"group": group, "version": version, "resource": kind.lower() + "s"},
        "name": meta.get("name", ""),
        "namespace": meta.get("namespace", ""),
        "operation": operation,
        "userInfo": {"username": "alice", "groups": ["system:authenticated"]},
        "object": obj,
        "oldObject": old,
        "dryRun": False,
    }
    req.update(extra)
    return req


def closed_within(sock: ssl.SSLSocket | socket.socket, seconds: float) -> float | None:
    """Seconds until the server closed ``sock`` (reading returns nothing or fails), or None if still open."""
    started = time.monotonic()
    sock.settimeout(0.2)
    while time.monotonic() - started < seconds:
        try:
            if sock.recv(1024) == b"":
                return time.monotonic() - started
        except (socket.timeout, TimeoutError):
            continue
        except (ConnectionError, ssl.SSLError, OSError):
            return time.monotonic() - started
    return None


def eventually(check: Any, timeout: float = 20.0, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


def decode_json(text: str) -> Any:
    return json.loads(text)
