"""Rules that cannot be evaluated are answered by their policy's failurePolicy, within --timeout."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from serverproc import VernoServer, admission_request

DATA = Path(__file__).parent / "data"
TIMEOUT = 3.0


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = VernoServer(tmp_path_factory.mktemp("broken"),
                      ["--policies", str(DATA / "broken"), "--timeout", str(TIMEOUT)])
    try:
        srv.wait_ready()
        yield srv
    finally:
        srv.stop()


def obj(kind: str) -> dict:
    return {"apiVersion": "v1", "kind": kind, "metadata": {"name": "x", "namespace": "default"}}


def test_fail_policy_denies_with_a_clear_message(server):
    started = time.monotonic()
    response = server.review("/validate", admission_request(obj("ConfigMap")))
    assert time.monotonic() - started < TIMEOUT + 5  # a bound, not a speed check
    assert response["allowed"] is False
    message = response["status"]["message"]
    assert "resource ConfigMap/default/x was blocked due to the following policies" in message
    assert "broken-fail:" in message
    assert "bad-context: 'verno could not evaluate this rule (failurePolicy Fail): failed to load context:" in message


def test_ignore_policy_allows_with_a_warning(server):
    started = time.monotonic()
    response = server.review("/validate", admission_request(obj("Secret")))
    assert time.monotonic() - started < TIMEOUT + 5
    assert response["allowed"] is True
    [warning] = response["warnings"]
    assert warning.startswith("policy broken-ignore.bad-context: verno could not evaluate this rule; "
                              "allowed by failurePolicy Ignore: failed to load context:")


def test_fail_route_only_serves_fail_policies(server):
    assert server.review("/validate/ignore", admission_request(obj("ConfigMap")))["allowed"] is True
    assert server.review("/validate/fail", admission_request(obj("ConfigMap")))["allowed"] is False
    assert "warnings" not in server.review("/validate/fail", admission_request(obj("Secret")))


def test_errors_are_counted_and_server_healthy(server):
    text = server.client.get("/metrics").text
    assert 'verno_policy_rule_results_total{endpoint="validate",policy="broken-fail",rule="bad-context",' \
           'result="error"}' in text
    assert server.client.get("/health/readiness").status_code == 200
