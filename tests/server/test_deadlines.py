"""``--timeout`` holds whatever the engine is doing, and expensive requests cannot starve others.

The expensive policy (data/expensive) runs a nested foreach over a ConfigMap's comma-separated items:
2,000 items are 4 million inner iterations, about two minutes of evaluation. Before evaluations ran
in processes that the deadline stops, a few such requests held every evaluation thread for minutes.
"""
from __future__ import annotations

import concurrent.futures
import copy
import json
import time
from pathlib import Path

import pytest

from serverproc import VernoServer, admission_request

DATA = Path(__file__).parent / "data"
TIMEOUT = 1.0
POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
       "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}


def expensive_configmap(items: int = 2000) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "big", "namespace": "default"},
            "data": {"items": ",".join(str(i) for i in range(items))}}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    work = tmp_path_factory.mktemp("deadlines")
    srv = VernoServer(work, ["--policies", str(DATA / "policies"), "--policies", str(DATA / "expensive"),
                             "--timeout", str(TIMEOUT), "--evaluators", "2"])
    try:
        srv.wait_ready()
        yield srv
    finally:
        srv.stop()


def _timed_review(srv: VernoServer, obj: dict, source: str = "127.0.0.1") -> tuple[float, dict]:
    import httpx

    transport = httpx.HTTPTransport(verify=srv.ssl_context(), local_address=source)
    with httpx.Client(base_url=srv.base, transport=transport, timeout=30) as client:
        body = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": admission_request(obj)}
        started = time.monotonic()
        resp = client.post("/validate", json=body)
        took = time.monotonic() - started
    assert resp.status_code == 200, resp.text
    doc = resp.json()
    assert doc["response"]["uid"] == body["request"]["uid"]
    return took, doc["response"]


def test_expensive_request_is_answered_by_failure_policy_at_the_deadline(server):
    took, answer = _timed_review(server, expensive_configmap())
    assert took < TIMEOUT + 0.5
    assert answer["allowed"] is False
    assert "expensive-items" in answer["status"]["message"]
    assert f"within the {TIMEOUT:g}s timeout" in answer["status"]["message"]


def test_unrelated_requests_keep_their_deadline_while_expensive_requests_arrive(server):
    """Expensive requests from one client (127.0.0.2), more at once than there are evaluation processes,
    keep arriving for a few seconds; unrelated violating Pods from another client sent meanwhile are all
    answered within the timeout and never allowed (by the rule, or by failurePolicy when no evaluation
    process was free in time); once the expensive requests stop, the Pods are evaluated again."""
    stop_at = time.monotonic() + 4
    unrelated: list[tuple[float, dict]] = []

    def expensive_load() -> int:
        sent = 0
        while time.monotonic() < stop_at:
            took, answer = _timed_review(server, expensive_configmap(), source="127.0.0.2")
            assert took < TIMEOUT + 0.5 and answer["allowed"] is False
            sent += 1
        return sent

    def unrelated_load() -> None:
        while time.monotonic() < stop_at:
            unrelated.append(_timed_review(server, copy.deepcopy(POD)))
            time.sleep(0.05)

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        attackers = [pool.submit(expensive_load) for _ in range(3)]
        victim = pool.submit(unrelated_load)
        victim.result()
        assert sum(a.result() for a in attackers) >= 6
    latencies = sorted(took for took, _ in unrelated)
    assert len(latencies) >= 3
    assert latencies[-1] < TIMEOUT + 0.5, latencies  # answered at the deadline (client-side time adds a little)
    assert all(answer["allowed"] is False for _, answer in unrelated)
    # afterwards the replacements evaluate again: the rule's own message, not failurePolicy's
    deadline = time.monotonic() + 20
    while True:
        _, answer = _timed_review(server, copy.deepcopy(POD))
        assert answer["allowed"] is False
        if "require-app-label" in answer["status"]["message"] and "could not evaluate" not in answer["status"]["message"]:
            break
        assert time.monotonic() < deadline, answer
        time.sleep(0.2)
    stopped = [json.loads(line) for line in server.logs().splitlines()
               if line.startswith("{") and "evaluation process stopped" in line]
    assert stopped and "passed its deadline" in stopped[0]["reason"]
