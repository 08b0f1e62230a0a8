"""Certificate rotation swaps only matching pairs; SIGHUP reloads, SIGTERM drains (``--workers 1``)."""
from __future__ import annotations

import concurrent.futures
import copy
import json
import shutil
import signal
import ssl
import time
from pathlib import Path

import httpx

from certs import write_self_signed
from serverproc import VernoServer, admission_request, eventually

DATA = Path(__file__).parent / "data"
POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
       "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}


def _handshake(srv: VernoServer, ca_pem: bytes) -> bool:
    ctx = ssl.create_default_context(cadata=ca_pem.decode())
    try:
        with httpx.Client(base_url=srv.base, verify=ctx, timeout=5) as client:
            return client.get("/health/liveness").status_code == 200
    except (httpx.TransportError, ssl.SSLError):
        return False


def test_half_rotated_certificate_keeps_the_old_pair_serving(tmp_path):
    srv = VernoServer(tmp_path, ["--policies", str(DATA / "policies"), "--evaluators", "1"])
    try:
        srv.wait_ready()
        old_pem = srv.cert_pem
        # a new certificate arrives before its key
        staged = tmp_path / "staged"
        staged.mkdir()
        new_pem = write_self_signed(staged / "tls.crt", staged / "tls.key", common_name="verno-rotated")
        shutil.copyfile(staged / "tls.crt", srv.cert)
        eventually(lambda: "do not load as a pair" in srv.logs(), timeout=10)
        for _ in range(3):  # every new handshake still gets the old pair
            assert _handshake(srv, old_pem)
            time.sleep(0.5)
        mismatch = [json.loads(line) for line in srv.logs().splitlines()
                    if line.startswith("{") and "do not load as a pair" in line]
        assert len(mismatch) == 1 and mismatch[0]["level"] == "error"  # logged once, not every second
        # the key arrives: the new pair serves
        shutil.copyfile(staged / "tls.key", srv.key)
        eventually(lambda: _handshake(srv, new_pem), timeout=10)
        assert not _handshake(srv, old_pem)
    finally:
        srv.stop()


def _expensive_review(items: int) -> dict:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "big", "namespace": "default"},
          "data": {"items": ",".join(str(i) for i in range(items))}}
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": admission_request(cm)}


def test_sighup_reloads_policies_and_certificate_without_stopping(tmp_path):
    policies = tmp_path / "policies"
    shutil.copytree(DATA / "policies", policies)
    srv = VernoServer(tmp_path, ["--policies", str(policies), "--workers", "1", "--evaluators", "1"])
    try:
        srv.wait_ready()
        assert srv.review("/validate", admission_request(copy.deepcopy(POD)))["allowed"] is False
        srv.proc.send_signal(signal.SIGHUP)
        eventually(lambda: "received SIGHUP" in srv.logs(), timeout=10)
        eventually(lambda: srv.logs().count("certificate reloaded") >= 1, timeout=10)
        time.sleep(0.5)
        assert srv.proc.poll() is None, srv.logs()
        # the keep-alive connection opened before SIGHUP still answers
        assert srv.review("/validate", admission_request(copy.deepcopy(POD)))["allowed"] is False
        # policies reloaded: the parent and the evaluation process each loaded them again
        assert srv.logs().count('"policies loaded"') >= 4
    finally:
        code = srv.stop()
    assert code in (0, -15), srv.logs()


def test_sigterm_drains_a_request_in_flight(tmp_path):
    srv = VernoServer(tmp_path, ["--policies", str(DATA / "policies"), "--policies", str(DATA / "expensive"),
                                 "--timeout", "4", "--evaluators", "1"])
    try:
        srv.wait_ready()
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            # about 1 s of evaluation (a 180-item nested foreach)
            future = pool.submit(srv.client.post, "/validate", json=_expensive_review(180))
            time.sleep(0.3)
            srv.proc.send_signal(signal.SIGTERM)
            resp = future.result(timeout=20)
        assert resp.status_code == 200
        answer = resp.json()["response"]
        assert answer["allowed"] is True, answer  # evaluated to the end, not cut off
        srv.proc.wait(20)
        assert "Application shutdown complete" in srv.logs()
    finally:
        srv.stop()
