"""core/policykinds.py: a plugin registers a policy kind; policy sets load it; the engine runs it by stage."""
from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from verno.core.engine import Engine
from verno.core.errors import LoadError, PluginError, PluginFailure
from verno.core.hookspecs import hookimpl
from verno.core.policykinds import STAGES, KindInputs, KindPolicy, PolicyKind
from verno.core.policyset import load_policy_set
from verno.core.request import Request
from verno.core.results import PolicyResponse, RuleResponse, Status
from verno.core.sources import Sources


@dataclass
class LabelPolicy:
    """A toy kind: requires a label; ``stamp`` (a mutating toy) adds one."""

    name: str
    label: str
    stamp: bool = False
    kind: str = "RequireLabel"
    api_version: str = "acme.example/v1"
    namespace: str = ""
    source: str = ""
    document: dict = field(default_factory=dict)
    annotations: dict = field(default_factory=dict)
    report_source: str = "AcmeRequireLabel"
    failure_policy: str = "Fail"
    validation_actions: frozenset = frozenset({"Deny"})
    admission: bool = True
    background: bool = True
    seen: list = field(default_factory=list)

    @property
    def key(self) -> str:
        return self.name

    def evaluate(self, request, inputs, *, payload=False):
        obj = request.resource
        self.seen.append((dict((obj.get("metadata") or {}).get("labels") or {}), len(inputs.companions)))
        if self.label == "boom":
            raise ZeroDivisionError("bad")
        if obj.get("kind") != "Pod":
            return None
        if self.stamp:
            patched = {**obj, "metadata": {**obj["metadata"], "labels": {self.label: "yes"}}}
            return PolicyResponse(self, obj, [RuleResponse("", "Mutation", Status.PASS)], patched_resource=patched)
        ok = self.label in ((obj.get("metadata") or {}).get("labels") or {})
        return PolicyResponse(self, obj, [RuleResponse("", "Validation", Status.PASS if ok else Status.FAIL,
                                                       "" if ok else f"label {self.label} missing")])


def _load(doc, engine):
    spec = doc.data.get("spec") or {}
    if "label" not in spec:
        raise LoadError(doc.source, "a label is required", document=doc.index, field="spec.label")
    return LabelPolicy(doc.data["metadata"]["name"], spec["label"], doc.data["kind"] == "StampLabel",
                       kind=doc.data["kind"], source=doc.source)


def _check_waiver(doc, engine):
    if "reason" in doc.data:
        raise LoadError(doc.source, "waivers have no reason", document=doc.index, field="reason")


class AcmePlugin:
    @hookimpl
    def verno_register_policy_kinds(self, register):
        register(PolicyKind("acme.example", frozenset({"RequireLabel"}), "validating-policy", _load,
                            companions=frozenset({"acme.example/LabelWaiver"}), check_companion=_check_waiver))
        register(PolicyKind("acme.example", frozenset({"StampLabel"}), "mutating-policy", _load))


POLICIES = """
apiVersion: acme.example/v1
kind: RequireLabel
metadata: {name: need-team}
spec: {label: team}
---
apiVersion: acme.example/v1
kind: LabelWaiver
metadata: {name: w}
---
apiVersion: acme.example/v1
kind: StampLabel
metadata: {name: stamp-team}
spec: {label: team}
"""


def _engine():
    return Engine([("acme", AcmePlugin())])


def test_a_registered_kind_loads_with_its_companions(tmp_path):
    (tmp_path / "p.yaml").write_text(POLICIES)
    engine = _engine()
    ps = load_policy_set(engine, [str(tmp_path / "p.yaml")])
    assert [p.key for p in ps.kind_policies] == ["need-team", "stamp-team"]
    assert list(ps.companions) == ["acme.example/LabelWaiver"]
    assert isinstance(ps.kind_policies[0], KindPolicy)
    assert ps.policy_count == 2 and ps.policies == []
    assert engine.plugin_summary()[0]["policy_kinds"] == ["acme.example/RequireLabel", "acme.example/StampLabel"]


def test_without_the_plugin_the_kind_is_an_error(tmp_path):
    (tmp_path / "p.yaml").write_text(POLICIES)
    with pytest.raises(LoadError, match="RequireLabel .* is not a policy"):
        load_policy_set(Engine(load_entrypoints=False), [str(tmp_path / "p.yaml")])


def test_loader_errors_name_the_file_and_field(tmp_path):
    (tmp_path / "p.yaml").write_text("apiVersion: acme.example/v1\nkind: RequireLabel\nmetadata: {name: x}\n")
    with pytest.raises(LoadError) as err:
        load_policy_set(_engine(), [str(tmp_path / "p.yaml")])
    assert "spec.label" in str(err.value) and "p.yaml" in str(err.value)


def test_a_companion_is_checked_when_loaded(tmp_path):
    (tmp_path / "p.yaml").write_text(POLICIES.replace("metadata: {name: w}", "metadata: {name: w}\nreason: x"))
    with pytest.raises(LoadError) as err:
        load_policy_set(_engine(), [str(tmp_path / "p.yaml")])
    assert "p.yaml (document 2): reason: waivers have no reason" in str(err.value)


def test_stages_run_in_kyverno_order_and_chain_mutations(tmp_path):
    (tmp_path / "p.yaml").write_text(POLICIES)
    engine = _engine()
    ps = load_policy_set(engine, [str(tmp_path / "p.yaml")])
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}
    inputs = KindInputs(Sources(), ps.companions)
    responses = engine.evaluate_kinds(ps.kind_policies, Request(pod), inputs)
    # the mutating stage ran first although the validating policy was loaded first, and its patch was seen
    assert [r.policy.key for r in responses] == ["stamp-team", "need-team"]
    assert responses[1].rules[0].status == Status.PASS
    assert ps.kind_policies[0].seen == [({"team": "yes"}, 1)]
    assert inputs.engine is engine
    # without the mutating policy the label is missing
    alone = engine.evaluate_kinds(ps.kind_policies[:1], Request(pod), KindInputs(Sources()))
    assert alone[0].rules[0].status == Status.FAIL


def test_a_policy_that_does_not_apply_gives_no_response(tmp_path):
    (tmp_path / "p.yaml").write_text(POLICIES)
    engine = _engine()
    ps = load_policy_set(engine, [str(tmp_path / "p.yaml")])
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}
    assert engine.evaluate_kinds(ps.kind_policies, Request(cm), KindInputs(Sources())) == []


def test_a_raising_policy_names_the_plugin():
    engine = _engine()
    with pytest.raises(PluginFailure, match="plugin acme.*RequireLabel evaluation.*ZeroDivisionError"):
        engine.evaluate_kinds([LabelPolicy("x", "boom")], Request({"kind": "Pod", "metadata": {}}),
                              KindInputs(Sources()))


def test_a_kind_registered_twice_names_both_plugins():
    with pytest.raises(PluginError, match="both plugin acme and plugin other"):
        Engine([("acme", AcmePlugin()), ("other", AcmePlugin())])


def test_a_stage_must_be_known():
    with pytest.raises(ValueError, match="not one of"):
        PolicyKind("a", frozenset({"B"}), "somewhere", _load)
    assert STAGES.index("mutating-policy") < STAGES.index("validating-policy")


def test_the_built_in_kinds_offer_everything_a_kind_policy_must(tmp_path):
    """The CLI, reports, the webhook and webhook-config read these attributes of every kind policy."""
    (tmp_path / "p.yaml").write_text("""apiVersion: policies.kyverno.io/v1
kind: ValidatingPolicy
metadata: {name: v}
spec:
  matchConstraints: {resourceRules: [{apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}]}
  validations: [{expression: "true"}]
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: a}
spec:
  matchConstraints: {resourceRules: [{apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}]}
  validations: [{expression: "true"}]
""")
    ps = load_policy_set(Engine(), [str(tmp_path / "p.yaml")])
    assert [p.kind for p in ps.kind_policies] == ["ValidatingPolicy", "ValidatingAdmissionPolicy"]
    for policy in ps.kind_policies:
        assert isinstance(policy, KindPolicy)
        assert policy.document["metadata"]["name"] == policy.name


def test_the_stage_order_is_computed_once_per_policy_list(tmp_path):
    (tmp_path / "p.yaml").write_text(POLICIES)
    engine = _engine()
    ps = load_policy_set(engine, [str(tmp_path / "p.yaml")])
    calls = []
    original = engine.stage_of
    engine.stage_of = lambda p: calls.append(p) or original(p)
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}
    for _ in range(3):
        engine.evaluate_kinds(ps.kind_policies, Request(pod), KindInputs(Sources()))
    assert len(calls) == len(ps.kind_policies)
