"""MutatingPolicy evaluation: mutations, match conditions, variables, exceptions, autogen, mutateExisting."""
from __future__ import annotations

import pytest

from verno.core.errors import LoadError
from verno.core.results import Status

HEAD = """
apiVersion: policies.kyverno.io/v1
kind: MutatingPolicy
metadata: {name: m}
spec:
  matchConstraints:
    resourceRules: [{apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}]
"""
POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "dev", "labels": {"app": "a"}},
       "spec": {"containers": [{"name": "c", "image": "docker.io/nginx", "args": ["x"]},
                               {"name": "d", "image": "busybox"}]}}


def apply_config(expression: str, extra: str = "") -> str:
    return HEAD + extra + f"""
  mutations:
  - patchType: ApplyConfiguration
    applyConfiguration:
      expression: {expression!r}
"""


def test_apply_configuration_merges_maps_and_keyed_lists(mp):
    policy = mp.load(apply_config(
        "Object{metadata: Object.metadata{labels: {'team': 'x'}}, spec: Object.spec{containers: "
        "[Object.spec.containers{name: 'c', image: 'mirror/nginx'}]}}"))
    response = mp.run(policy, POD)
    rule = response.rules[0]
    assert rule.status == Status.PASS and rule.message == "success"
    out = response.patched_resource
    assert out["metadata"]["labels"] == {"app": "a", "team": "x"}
    assert out["spec"]["containers"] == [{"name": "c", "image": "mirror/nginx", "args": ["x"]},
                                         {"name": "d", "image": "busybox"}]
    assert POD["spec"]["containers"][0]["image"] == "docker.io/nginx"  # the input is not changed


def test_an_atomic_list_is_an_error_unless_server_side_apply_replaces_it(mp):
    expression = "Object{spec: Object.spec{containers: [Object.spec.containers{name: 'c', args: ['y']}]}}"
    rule = mp.run(mp.load(apply_config(expression)), POD).rules[0]
    assert rule.status == Status.ERROR
    assert "may not mutate atomic arrays, maps or structs: .spec.containers[0].args" in rule.message
    ssa = mp.load(apply_config(expression, "  evaluation: {useServerSideApply: true}\n"))
    out = mp.run(ssa, POD).patched_resource
    assert out["spec"]["containers"][0] == {"name": "c", "image": "docker.io/nginx", "args": ["y"]}


def test_json_patch_with_escaped_key_and_mutations_in_order(mp):
    policy = mp.load(HEAD + """
  mutations:
  - patchType: JSONPatch
    jsonPatch:
      expression: "[JSONPatch{op: 'add', path: '/metadata/labels/' + jsonpatch.escapeKey('example.com/t'), value: 'v'}]"
  - patchType: JSONPatch
    jsonPatch:
      expression: "[JSONPatch{op: 'add', path: '/metadata/labels/copy', value: object.metadata.labels['example.com/t']}]"
""")
    out = mp.run(policy, POD).patched_resource
    assert out["metadata"]["labels"] == {"app": "a", "example.com/t": "v", "copy": "v"}


def test_json_patch_failure_is_an_error(mp):
    policy = mp.load(HEAD + """
  mutations:
  - patchType: JSONPatch
    jsonPatch: {expression: "[JSONPatch{op: 'replace', path: '/spec/missing/x', value: 1}]"}
""")
    rule = mp.run(policy, POD).rules[0]
    assert rule.status == Status.ERROR and rule.message.startswith("failed to evaluate policy: ")


def test_match_conditions_see_variables_and_skip(mp):
    text = apply_config("Object{metadata: Object.metadata{labels: {'ok': 'y'}}}", """
  variables: [{name: ns, expression: "object.metadata.namespace"}]
  matchConditions: [{name: dev, expression: "variables.ns == 'dev'"}]
""")
    policy = mp.load(text)
    assert mp.run(policy, POD).rules[0].status == Status.PASS
    other = {**POD, "metadata": {**POD["metadata"], "namespace": "prod"}}
    rule = mp.run(policy, other).rules[0]
    assert (rule.status, rule.message) == (Status.SKIP, "skip")


def test_match_condition_error_is_an_error_whatever_the_failure_policy(mp):
    policy = mp.load(apply_config("Object{}", """
  failurePolicy: Ignore
  matchConditions: [{name: bad, expression: "object.spec.nope == 1"}]
"""))
    assert mp.run(policy, POD).rules[0].status == Status.ERROR


def test_exception_skips(mp):
    policy = mp.load(apply_config("Object{metadata: Object.metadata{labels: {'x': 'y'}}}"))
    exc = """
apiVersion: policies.kyverno.io/v1
kind: PolicyException
metadata: {name: e, namespace: dev}
spec:
  policyRefs: [{name: m, kind: MutatingPolicy}]
  matchConditions: [{name: all, expression: "true"}]
"""
    response = mp.run(policy, POD, exceptions=[exc])
    rule = response.rules[0]
    assert (rule.name, rule.status) == ("exception", Status.SKIP)
    assert response.patched_resource == POD


def test_unmatched_resource_gives_no_response(mp):
    policy = mp.load(apply_config("Object{}"))
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}
    assert mp.run(policy, cm) is None


def test_autogen_mutates_the_pod_template_of_a_deployment(mp):
    policy = mp.load(apply_config("Object{metadata: Object.metadata{labels: Object.metadata.labels{team: 'x'}}}"))
    deploy = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "dev"},
              "spec": {"template": {"metadata": {"labels": {"app": "a"}}, "spec": {"containers": []}}}}
    out = mp.run(policy, deploy).patched_resource
    assert out["spec"]["template"]["metadata"]["labels"] == {"app": "a", "team": "x"}
    assert "labels" not in out["metadata"]


def test_mutate_existing_patches_the_selected_targets(mp):
    policy = mp.load(apply_config("Object{metadata: Object.metadata{labels: {'m': 'y'}}}", """
  evaluation: {mutateExisting: {enabled: true}}
  targetMatchConstraints:
    resourceRules: [{apiGroups: [""], apiVersions: [v1], resources: [configmaps]}]
  targetMatchConditions: [{name: named, expression: "object.metadata.name != 'skip-me'"}]
"""))
    targets = [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": n, "namespace": "dev"}}
               for n in ("one", "skip-me")]
    response = mp.run(policy, POD, targets=targets)
    assert [r.patched_resource["metadata"] for r in response.rules] == \
        [{"name": "one", "namespace": "dev", "labels": {"m": "y"}}]
    assert response.patched_resource == POD


def test_namespaced_policy_mutates_its_namespace_only(mp):
    policy = mp.load(apply_config("Object{metadata: Object.metadata{labels: {'x': 'y'}}}")
                     .replace("kind: MutatingPolicy", "kind: NamespacedMutatingPolicy")
                     .replace("metadata: {name: m}", "metadata: {name: m, namespace: dev}"))
    assert mp.run(policy, POD).rules[0].status == Status.PASS
    assert mp.run(policy, {**POD, "metadata": {"name": "p", "namespace": "prod"}}) is None


@pytest.mark.parametrize("mutation, field", [
    ("{patchType: ApplyConfiguration, applyConfiguration: {expression: '[1]'}}",
     "spec.mutations[0].applyConfiguration.expression"),
    ("{patchType: JSONPatch, jsonPatch: {expression: 'Object{}'}}", "spec.mutations[0].jsonPatch.expression"),
    ("{patchType: JSONPatch, applyConfiguration: {expression: 'Object{}'}}", "spec.mutations[0]"),
])
def test_wrong_mutation_is_a_load_error_naming_the_field(mp, mutation, field):
    with pytest.raises(LoadError) as err:
        mp.load(HEAD + f"  mutations: [{mutation}]\n")
    assert err.value.field.startswith(field)


def test_policy_without_resource_rules_is_rejected(mp):
    with pytest.raises(LoadError) as err:
        mp.load(HEAD.replace("resourceRules:", "resourceRulez:") + "  mutations: []\n")
    assert "matchConstraints" in str(err.value)
