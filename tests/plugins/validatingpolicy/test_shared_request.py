"""Policies evaluating one request share what they read alike: the namespace and match key are found once,
and a policy whose checks were all evaluated ahead and true passes without evaluating anything again."""
from __future__ import annotations

import yaml

import verno.plugins.validatingpolicy.policy as vpol_policy
from verno.core.policykinds import KindInputs
from verno.core.request import Request
from verno.core.results import Status
from verno.core.sources import Sources

TEMPLATE = """apiVersion: policies.kyverno.io/v1
kind: ValidatingPolicy
metadata: {{name: check-{i}}}
spec:
  matchConstraints:
    resourceRules:
    - apiGroups: [""]
      apiVersions: [v1]
      operations: [CREATE]
      resources: [pods]
  validations:
  - expression: "object.spec.containers.all(c, c.?securityContext.?runAsUser.orValue(1) != {i})"
    message: "uid {i} is not allowed"
"""


def _pod(uid):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "ns"},
            "spec": {"containers": [{"name": "a", "image": "x", "securityContext": {"runAsUser": uid}}]}}


def _run(engine, policies, uid):
    inputs = KindInputs(Sources(), {}, namespaces={"ns": {"metadata": {"name": "ns"}}}, engine=engine)
    return engine.evaluate_kinds(policies, Request(_pod(uid)), inputs)


def _policies(vp, count=4):
    return [vp.load(TEMPLATE.format(i=i)) for i in range(count)]


def test_the_match_key_of_a_request_is_found_once_for_all_its_policies(vp, monkeypatch):
    policies = _policies(vp)
    calls = []
    real = vpol_policy.verdict_key
    monkeypatch.setattr(vpol_policy, "verdict_key", lambda request: calls.append(1) or real(request))
    responses = _run(vp.engine, policies, 7)
    assert [r.rules[0].status for r in responses] == [Status.PASS] * 4
    assert len(calls) == 1


def test_checks_evaluated_ahead_and_true_pass_without_another_evaluation(vp, monkeypatch):
    policies = _policies(vp)
    _run(vp.engine, policies, 7)  # the first request teaches what follows the first check
    made = []
    real = vpol_policy.Activation
    monkeypatch.setattr(vpol_policy, "Activation", lambda *a, **k: made.append(1) or real(*a, **k))
    responses = _run(vp.engine, policies, 9)
    assert [r.rules[0].status for r in responses] == [Status.PASS] * 4
    assert len(made) == 1  # the first policy's, which evaluated every check ahead
    made.clear()
    responses = _run(vp.engine, policies, 2)  # a failing check takes the full path, with its message
    assert [r.rules[0].status for r in responses] == [Status.PASS, Status.PASS, Status.FAIL, Status.PASS]
    assert responses[2].rules[0].message == "uid 2 is not allowed"
    assert responses[2].rules[0].properties == {"cel.validationIndex": "0"}
