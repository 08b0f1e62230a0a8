"""ValidatingPolicy in evaluation mode Envoy or HTTP: decisions on authorization requests."""
from __future__ import annotations

import pytest

from verno.core.results import Status

ENVOY = """apiVersion: policies.kyverno.io/v1
kind: ValidatingPolicy
metadata: {{name: envoy-authz}}
spec:
  evaluation: {{mode: Envoy}}
  failurePolicy: {failure}
  matchConditions:
  - name: api-only
    expression: object.attributes.request.http.path.startsWith("/api")
  variables:
  - name: header
    expression: object.attributes.request.http.headers[?"x-force-authorized"].orValue("")
  validations:
  - expression: 'variables.header == "broken" && 1 / 0 == 1 ? envoy.Allowed().Response() : null'
  - expression: 'variables.header == "yes" ? envoy.Allowed().Response() : null'
  - expression: 'variables.header == "" ? envoy.Denied(401).WithBody("missing header").Response() : null'
  - expression: 'variables.header == "forbid" ? envoy.Denied(403).Response() : null'
  - expression: 'variables.header == "builder" ? envoy.Allowed() : null'
"""


def request(path: str = "/api/pods", **headers: str) -> dict:
    return {"attributes": {"request": {"http": {"method": "GET", "path": path, "headers": headers}}}}


def decide(vp, policy, payload, kind="envoy"):
    response = vp.run(policy, payload, payload=kind)
    assert response is not None and len(response.rules) == 1
    return response.rules[0]


@pytest.fixture
def envoy(vp):
    return vp.load(ENVOY.format(failure="Fail"))


def test_first_non_null_response_decides(vp, envoy):
    rule = decide(vp, envoy, request(**{"x-force-authorized": "yes"}))
    assert (rule.status, rule.properties["cel.validationIndex"]) == (Status.PASS, "1")
    rule = decide(vp, envoy, request())
    assert (rule.status, rule.message, rule.properties["cel.validationIndex"]) == \
        (Status.FAIL, "missing header", "2")
    rule = decide(vp, envoy, request(**{"x-force-authorized": "forbid"}))
    assert (rule.status, rule.message) == (Status.FAIL, "request denied with HTTP status 403")


def test_all_null_allows(vp, envoy):
    rule = decide(vp, envoy, request(**{"x-force-authorized": "other"}))
    assert rule.status == Status.PASS and "no validation made a decision" in rule.message


def test_false_match_condition_skips(vp, envoy):
    assert decide(vp, envoy, request("/healthz")).status == Status.SKIP


@pytest.mark.parametrize("failure, status", [("Fail", Status.ERROR), ("Ignore", Status.PASS)])
def test_evaluation_error_follows_failure_policy(vp, failure, status):
    policy = vp.load(ENVOY.format(failure=failure))
    rule = decide(vp, policy, request(**{"x-force-authorized": "broken"}))
    assert rule.status == status and "division by zero" in rule.message


@pytest.mark.parametrize("failure, status", [("Fail", Status.ERROR), ("Ignore", Status.PASS)])
def test_a_builder_without_response_is_an_evaluation_error(vp, failure, status):
    policy = vp.load(ENVOY.format(failure=failure))
    rule = decide(vp, policy, request(**{"x-force-authorized": "builder"}))
    assert rule.status == status and "end the expression with .Response()" in rule.message


def test_match_condition_error_follows_failure_policy(vp):
    policy = vp.load(ENVOY.format(failure="Fail"))
    assert decide(vp, policy, {"attributes": {}}).status == Status.ERROR
    policy = vp.load(ENVOY.format(failure="Ignore"))
    assert decide(vp, policy, {"attributes": {}}).status == Status.PASS


def test_http_mode_decides_http_requests(vp):
    policy = vp.load("""apiVersion: policies.kyverno.io/v1alpha1
kind: ValidatingPolicy
metadata: {name: http-authz}
spec:
  evaluation: {mode: HTTP}
  validations:
  - expression: 'object.attributes.path == "/forbidden" ? http.Denied("not allowed").Response() : null'
  - expression: 'object.attributes.method == "GET" ? http.Allowed().Response() : null'
""")
    denied = decide(vp, policy, {"attributes": {"method": "GET", "path": "/forbidden"}}, "http")
    assert (denied.status, denied.message) == (Status.FAIL, "not allowed")
    assert decide(vp, policy, {"attributes": {"method": "GET", "path": "/"}}, "http").status == Status.PASS


def test_each_mode_reads_only_its_own_payloads(vp, envoy):
    assert vp.run(envoy, request(), payload="http") is None
    assert vp.run(envoy, request(), payload="json") is None
    assert vp.run(envoy, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}) is None
    json_policy = vp.load("""apiVersion: policies.kyverno.io/v1
kind: ValidatingPolicy
metadata: {name: json}
spec:
  evaluation: {mode: JSON}
  validations:
  - expression: "true"
""")
    assert vp.run(json_policy, request(), payload="envoy") is None
    assert vp.run(json_policy, request(), payload="json") is not None
