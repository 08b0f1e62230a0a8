"""What an install wires together, on 127.0.0.1: certificates from ``verno certs`` served by a real
``verno serve`` process, verified by a client that trusts only the CA and asks for the Service's name
(as the API server does), on every path ``verno webhook-config`` writes into the webhooks."""
from __future__ import annotations

import http.client
import json
import socket
import ssl
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import click
import pytest
import yaml
from click.testing import CliRunner

from verno.cli.main import cli

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "policies"
SERVICE, NAMESPACE = "verno", "verno-system"


def _cli(*args: Any) -> str:
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Client:
    def __init__(self, port: int, ca: Path):
        self.port = port
        self.ctx = ssl.create_default_context(cafile=str(ca))

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx, timeout=10)
        # the API server connects to the Service name: verify the certificate for it
        conn.sock = self.ctx.wrap_socket(socket.create_connection(("127.0.0.1", self.port), timeout=10),
                                         server_hostname=f"{SERVICE}.{NAMESPACE}.svc")
        try:
            data = json.dumps(body).encode() if body is not None else None
            conn.request(method, path, body=data, headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            raw = response.read()
            return response.status, (json.loads(raw) if raw else None)
        finally:
            conn.close()


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    if cli.get_command(click.Context(cli), "serve") is None:
        pytest.skip("verno serve is not registered")
    out = tmp_path_factory.mktemp("e2e")
    _cli("certs", "--service", SERVICE, "--namespace", NAMESPACE, "--out", out / "tls")
    config = _cli("webhook-config", "--service", SERVICE, "--namespace", NAMESPACE,
                  "--ca-bundle", out / "tls" / "ca.crt", "--policies", EXAMPLES)
    port = _free_port()
    exe = [sys.executable, "-c", "from verno.cli.main import main; main()"]
    proc = subprocess.Popen([*exe, "serve", "--policies", str(EXAMPLES), "--tls-cert", str(out / "tls" / "tls.crt"),
                             "--tls-key", str(out / "tls" / "tls.key"), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    client = Client(port, out / "tls" / "ca.crt")
    deadline = time.monotonic() + 30
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"verno serve exited: {proc.stderr.read().decode()[-2000:]}")
            try:
                if client.request("GET", "/health/readiness")[0] == 200:
                    break
            except (OSError, http.client.HTTPException):
                pass
            assert time.monotonic() < deadline, "verno serve did not become ready in 30 s"
            time.sleep(0.1)
        yield client, [d for d in yaml.safe_load_all(config) if d]
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _review(pod_image: str, namespace: str = "default") -> dict[str, Any]:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": namespace},
           "spec": {"containers": [{"name": "web", "image": pod_image}]}}
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": str(uuid.uuid4()), "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "resource": {"group": "", "version": "v1", "resource": "pods"},
        "requestKind": {"group": "", "version": "v1", "kind": "Pod"},
        "requestResource": {"group": "", "version": "v1", "resource": "pods"},
        "name": "web", "namespace": namespace, "operation": "CREATE",
        "userInfo": {"username": "dev", "groups": ["system:authenticated"]},
        "object": pod, "oldObject": None, "dryRun": False, "options": None}}


def test_health_over_tls_for_the_service_name(setup):
    client, _ = setup
    assert client.request("GET", "/health/liveness")[0] == 200


def test_a_client_that_does_not_trust_the_ca_is_refused(setup):
    client, _ = setup
    ctx = ssl.create_default_context()  # system CAs only
    with (socket.create_connection(("127.0.0.1", client.port), timeout=10) as raw,
          pytest.raises(ssl.SSLCertVerificationError)):
        ctx.wrap_socket(raw, server_hostname=f"{SERVICE}.{NAMESPACE}.svc")


def test_every_webhook_path_is_answered(setup):
    client, configs = setup
    paths = [w["clientConfig"]["service"]["path"] for doc in configs for w in doc["webhooks"]]
    assert paths == ["/validate/fail"]
    for path in paths:
        review = _review("nginx:latest")
        status, body = client.request("POST", path, review)
        assert status == 200, body
        response = body["response"]
        assert response["uid"] == review["request"]["uid"]
        assert response["allowed"] is False  # disallow-latest-tag is Enforce
        assert "disallow-latest-tag" in response["status"]["message"]
        review = _review("nginx:1.27")
        status, body = client.request("POST", path, review)
        assert status == 200 and body["response"]["uid"] == review["request"]["uid"]
