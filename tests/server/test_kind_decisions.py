"""The webhook's decisions for policies of plugin-registered kinds (ValidatingPolicy, VAP ...)."""
from __future__ import annotations

from dataclasses import dataclass, field

from verno.core.request import Request
from verno.core.results import PolicyResponse, RuleResponse, Status
from verno.server.decide import failed_decision, validate_decision
from verno.server.policies import Snapshot

POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "a"}}


@dataclass
class Kind:
    name: str
    actions: frozenset = frozenset({"Deny"})
    failure_policy: str = "Fail"
    stage: str = "validating-policy"
    admission: bool = True
    kind: str = "ValidatingPolicy"
    api_version: str = "policies.kyverno.io/v1"
    namespace: str = ""
    source: str = ""
    annotations: dict = field(default_factory=dict)
    report_source: str = "KyvernoValidatingPolicy"
    background: bool = True

    @property
    def document(self):
        return {"kind": self.kind, "metadata": {"name": self.name}, "spec": {"actions": sorted(self.actions)}}

    @property
    def validation_actions(self):
        return self.actions

    @property
    def key(self):
        return self.name

    def evaluate(self, request, inputs, *, payload=False):  # pragma: no cover - decisions only
        return None


def response(policy, status, message="bad"):
    return PolicyResponse(policy, POD, [RuleResponse("", "Validation", status, message)])


def test_deny_blocks_with_kyvernos_message_and_warn_warns():
    deny, warn, audit = Kind("deny"), Kind("warn", frozenset({"Warn"})), Kind("audit", frozenset({"Audit"}))
    d = validate_decision(Snapshot(), Request(POD), [response(deny, Status.FAIL, "no host path"),
                                                     response(warn, Status.ERROR, "no such key: x"),
                                                     response(audit, Status.FAIL)])
    assert not d.allowed and d.code == 400
    assert d.message == "Policy deny failed: no host path"
    assert d.warnings == ["Policy warn error: no such key: x"]
    ok = validate_decision(Snapshot(), Request(POD), [response(deny, Status.PASS), response(audit, Status.FAIL)])
    assert ok.allowed and not ok.warnings


def test_an_error_under_deny_blocks_whatever_the_failure_policy():
    ignore = Kind("lenient", failure_policy="Ignore")
    d = validate_decision(Snapshot(), Request(POD), [response(ignore, Status.ERROR, "division by zero")])
    assert not d.allowed and d.message == "Policy lenient error: division by zero"


def test_routes_serve_kind_policies_by_stage_and_failure_policy():
    kinds = [Kind("v"), Kind("i", failure_policy="Ignore"), Kind("m", stage="mutating-policy"),
             Kind("off", admission=False)]
    snap = Snapshot.build([], [], 1, kinds, {"x/Y": [{"a": 1}]}, stage_of=lambda k: k.stage)
    assert [k.name for k in snap.kinds_for("validate")] == ["v", "i"]
    assert [k.name for k in snap.kinds_for("validate/fail")] == ["v"]
    assert [k.name for k in snap.kinds_for("validate/ignore")] == ["i"]
    assert [k.name for k in snap.kinds_for("mutate")] == ["m"]
    assert snap.policy_count == 3 and snap.companions == {"x/Y": [{"a": 1}]}
    # the digest covers kind policies and companions
    other = Snapshot.build([], [], 1, kinds, {"x/Y": [{"a": 2}]}, stage_of=lambda k: k.stage)
    assert other.digest != snap.digest
    assert Snapshot.build([], [], 1, kinds, {"x/Y": [{"a": 1}]}, stage_of=lambda k: k.stage).digest == snap.digest


def test_without_an_answer_kind_policies_decide_by_failure_policy():
    d = failed_decision([], Request(POD), "timed out", [Kind("strict"), Kind("lenient", failure_policy="Ignore")])
    assert not d.allowed and "strict" in d.message and "lenient" not in d.message
    assert d.warnings and "lenient" in d.warnings[0]
    assert failed_decision([], Request(POD), "timed out", [Kind("lenient", failure_policy="Ignore")]).allowed
