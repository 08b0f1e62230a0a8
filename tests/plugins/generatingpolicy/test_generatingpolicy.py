"""GeneratingPolicy: loading as the API server checks it, and what a trigger generates (as `kyverno test`
gives it), through the engine as every front end calls it."""
from __future__ import annotations

from importlib.metadata import entry_points

import pytest
import yaml

import verno.plugins.generatingpolicy as gpol
from verno.core.cel.offline import OfflineCelData
from verno.core.engine import Engine
from verno.core.errors import LoadError
from verno.core.loading import Document
from verno.core.policykinds import KindInputs
from verno.core.request import Request
from verno.core.results import Status
from verno.core.sources import Sources


@pytest.fixture(scope="module")
def engine() -> Engine:
    if any(ep.name == "generatingpolicy" for ep in entry_points(group="verno")):
        return Engine()
    return Engine([("generatingpolicy", gpol)])


def policy_doc(*generate, kind="GeneratingPolicy", variables=(), conditions=(), namespace=None, resources=("namespaces",)):
    meta = {"name": "gen"}
    if namespace:
        meta["namespace"] = namespace
    return {"apiVersion": "policies.kyverno.io/v1", "kind": kind, "metadata": meta,
            "spec": {"matchConstraints": {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"],
                                                             "resources": list(resources),
                                                             "operations": ["CREATE"]}]},
                     "variables": [{"name": n, "expression": e} for n, e in variables],
                     "matchConditions": [{"name": n, "expression": e} for n, e in conditions],
                     "generate": list(generate)}}


def load(engine, doc):
    return gpol.load(Document("policy.yaml", 0, doc), engine)


NS = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team", "labels": {"tier": "gold"}}}
SECRETS = [{"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "data": {"k": "dg=="},
            "metadata": {"name": f"s{i}", "namespace": "default", "uid": f"u{i}", "resourceVersion": "7",
                         "creationTimestamp": "2026-01-01T00:00:00Z",
                         "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "o", "uid": "x"}]}}
           for i in (1, 2)]


def run(engine, policy, obj=NS, *, exceptions=(), data=None):
    companions = {"policies.kyverno.io/PolicyException": [yaml.safe_load(e) for e in exceptions]} if exceptions else {}
    sources = Sources()
    sources.cel_data = data or OfflineCelData(resources=SECRETS)
    inputs = KindInputs(sources, companions, engine=engine)
    out = engine.evaluate_kinds([policy], Request(obj, None, "CREATE"), inputs)
    if not out:
        return None
    [rule] = out[0].rules
    return rule


def test_an_expression_generates_data_in_the_namespace_it_names(engine):
    policy = load(engine, policy_doc({"expression": (
        "generator.Apply(object.metadata.name, [{'apiVersion': 'v1', 'kind': 'ConfigMap', "
        "'metadata': {'name': 'settings'}, 'data': {'tier': object.metadata.labels.tier}}])")}))
    rule = run(engine, policy)
    assert (rule.name, rule.rule_type, rule.status, rule.message) == \
        ("gen", "Generation", Status.PASS, "policy evaluated successfully")
    assert rule.generated_resources == [{"apiVersion": "v1", "kind": "ConfigMap", "data": {"tier": "gold"},
                                         "metadata": {"name": "settings", "namespace": "team"}}]


def test_a_clone_from_a_list_leaves_the_sources_identity_behind(engine):
    policy = load(engine, policy_doc({"expression": "generator.apply(object.metadata.name, "
                                                    "[resource.List('v1', 'secrets', 'default')])"}))
    rule = run(engine, policy)
    assert [g["metadata"] for g in rule.generated_resources] == [{"name": "s1", "namespace": "team"},
                                                                 {"name": "s2", "namespace": "team"}]
    assert rule.generated_resources[0]["data"] == {"k": "dg=="}


def test_several_steps_and_nothing_generated(engine):
    empty = load(engine, policy_doc({"expression": "generator.Apply('x', [])"}))
    rule = run(engine, empty)
    assert rule.status is Status.PASS and rule.generated_resources == []
    two = load(engine, policy_doc({"expression": "generator.Apply('a', [{'kind': 'ConfigMap', 'metadata': {'name': 'a'}}])"},
                                  {"expression": "generator.Apply('b', [{'kind': 'ConfigMap', 'metadata': {'name': 'b'}}])"}))
    assert [(g["metadata"]["namespace"], g["metadata"]["name"]) for g in run(engine, two).generated_resources] == \
        [("a", "a"), ("b", "b")]


TEMPLATE = """apiVersion: v1
kind: ConfigMap
metadata:
  name: (( variables.name ))-config
  namespace: (( object.metadata.name ))
  labels: (( object.metadata.labels ))
data:
  count: "n=(( size(object.metadata.labels) ))"
  ready: (( has(object.metadata.labels) ))
  nested: "(( string(size([1, 2])) ))!"
"""


def test_a_template_with_placeholders(engine):
    policy = load(engine, policy_doc({"template": {"interpolate": "cel", "value": TEMPLATE}},
                                     variables=[("name", "object.metadata.name")]))
    [doc] = run(engine, policy).generated_resources
    assert doc["metadata"] == {"name": "team-config", "namespace": "team", "labels": {"tier": "gold"}}
    assert doc["data"] == {"count": "n=1", "ready": True, "nested": "2!"}


def test_a_plain_template_is_taken_as_written(engine):
    policy = load(engine, policy_doc({"template": {"value": TEMPLATE}}))
    [doc] = run(engine, policy).generated_resources
    assert doc["metadata"]["name"] == "(( variables.name ))-config"


def test_a_map_inside_a_longer_string_is_an_error(engine):
    value = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x-(( object.metadata.labels ))\n"
    rule = run(engine, load(engine, policy_doc({"template": {"interpolate": "cel", "value": value}})))
    assert rule.status is Status.ERROR and "must give a scalar" in rule.message


def test_an_evaluation_error_is_the_policys_error(engine):
    rule = run(engine, load(engine, policy_doc({"expression": "generator.Apply('x', [object.metadata.missing])"})))
    assert rule.status is Status.ERROR and rule.message.startswith("failed to evaluate policy: ")


def test_match_conditions(engine):
    doc = policy_doc({"expression": "generator.Apply('x', [])"}, conditions=[("gold", "object.metadata.labels.tier == 'gold'")])
    assert run(engine, load(engine, doc)).status is Status.PASS
    silver = {**NS, "metadata": {"name": "s", "labels": {"tier": "silver"}}}
    assert run(engine, load(engine, doc), silver) is None
    bad = policy_doc({"expression": "generator.Apply('x', [])"}, conditions=[("x", "object.metadata.nope == 1")])
    assert run(engine, load(engine, bad)).status is Status.ERROR


def test_unselected_triggers_get_no_response(engine):
    policy = load(engine, policy_doc({"expression": "generator.Apply('x', [])"}))
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "team"}}
    assert run(engine, policy, config) is None


def test_a_namespaced_policy_generates_in_its_namespace(engine):
    doc = policy_doc({"expression": "generator.Apply([{'kind': 'ConfigMap', 'metadata': {'name': 'c'}}])"},
                     kind="NamespacedGeneratingPolicy", namespace="team", resources=("configmaps",))
    policy = load(engine, doc)
    mine = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "t", "namespace": "team"}}
    [doc_out] = run(engine, policy, mine).generated_resources
    assert doc_out["metadata"] == {"name": "c", "namespace": "team"}
    other = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "t", "namespace": "prod"}}
    assert run(engine, policy, other) is None
    two_args = policy_doc({"expression": "generator.Apply('x', [])"}, kind="NamespacedGeneratingPolicy",
                          namespace="team", resources=("configmaps",))
    with pytest.raises(LoadError, match=r"spec.generate\[0\].expression"):
        load(engine, two_args)


EXCEPTION = """
apiVersion: policies.kyverno.io/v1
kind: PolicyException
metadata: {name: not-team}
spec:
  policyRefs: [{name: gen, kind: GeneratingPolicy}]
  matchConditions:
  - {name: team, expression: "object.metadata.name == 'team'"}
"""


def test_an_exception_exempts_the_trigger(engine):
    policy = load(engine, policy_doc({"expression": "generator.Apply('x', [{'kind': 'ConfigMap'}])"}))
    rule = run(engine, policy, exceptions=[EXCEPTION])
    assert rule.status is Status.SKIP and rule.generated_resources == []


@pytest.mark.parametrize("generate, field, words", [
    ({"expression": "'x'"}, "spec.generate[0].expression", "bool"),
    ({"expression": "generator.Apply('x', [])", "template": {"value": "a: 1"}}, "spec.generate[0]", "exactly one"),
    ({}, "spec.generate[0]", "exactly one"),
    ({"template": {"interpolate": "cel", "value": "kind: A\nmetadata: {name: (( object.a + ))}\n"}},
     "spec.generate[0].template.value", "syntax"),
    ({"template": {"interpolate": "cel", "value": "kind: A\n(( object.x )): 1\n"}},
     "spec.generate[0].template.value", "mapping key"),
    ({"template": {"interpolate": "cel", "value": "kind: A\nname: (( object.x\n"}},
     "spec.generate[0].template.value", "unterminated"),
    ({"template": {"value": "- a\n- b\n"}}, "spec.generate[0].template.value", "must be an object"),
    ({"template": {"value": "a: [\n"}}, "spec.generate[0].template.value", "not YAML"),
])
def test_load_errors_name_the_field(engine, generate, field, words):
    with pytest.raises(LoadError) as info:
        load(engine, policy_doc(generate))
    assert field in str(info.value) and words.lower() in str(info.value).lower(), str(info.value)


def test_no_generate_entry_or_no_constraints_is_an_error(engine):
    with pytest.raises(LoadError, match="spec.generate"):
        load(engine, policy_doc())
    doc = policy_doc({"expression": "generator.Apply('x', [])"})
    del doc["spec"]["matchConstraints"]
    with pytest.raises(LoadError, match="spec.matchConstraints"):
        load(engine, doc)


def test_the_generator_outside_a_generate_step_is_an_error(engine):
    from verno.core.cel import Activation, CELEvaluationError, environment_for

    program = environment_for("GeneratingPolicy").compile("generator.Apply('x', [])")
    with pytest.raises(CELEvaluationError, match="only a GeneratingPolicy's generate expressions"):
        program.evaluate(Activation({}))
    with pytest.raises(Exception, match="undeclared reference"):
        environment_for("ValidatingPolicy").compile("generator.Apply('x', [])")
