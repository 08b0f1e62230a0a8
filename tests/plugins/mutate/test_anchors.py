from __future__ import annotations

import copy

import pytest
from mutate_helpers import pod

from verno.core.results import Status
from verno.plugins.mutate.anchors import ConditionFailed, GlobalConditionFailed, preprocess

ADD_DEFAULTS = {"patchStrategicMerge": {
    "metadata": {"labels": {"+(team)": "platform"}},
    "spec": {"containers": [{"(name)": "*", "+(imagePullPolicy)": "IfNotPresent"}]},
}}


def test_add_if_not_present_keeps_existing_values() -> None:
    resource = pod(containers=[{"name": "a", "imagePullPolicy": "Always"}])
    resource["metadata"]["labels"] = {"team": "web"}
    out = preprocess({"metadata": {"labels": {"+(team)": "x", "+(tier)": "y"}}}, resource)
    assert out == {"metadata": {"labels": {"tier": "y"}}}


def test_condition_binds_patch_to_each_matching_element() -> None:
    resource = pod(containers=[{"name": "a", "image": "nginx"}, {"name": "b", "image": "redis"}])
    out = preprocess({"spec": {"containers": [{"(image)": "nginx", "imagePullPolicy": "Always"}]}}, resource)
    assert out == {"spec": {"containers": [{"imagePullPolicy": "Always", "name": "a"}]}}


def test_condition_outside_list_drops_the_patch() -> None:
    with pytest.raises(ConditionFailed):
        preprocess({"metadata": {"(name)": "other", "labels": {"a": "b"}}}, pod())


def test_global_anchor_in_list_drops_the_patch_when_nothing_matches() -> None:
    patch = {"metadata": {"annotations": {"+(evict)": "true"}}, "spec": {"volumes": [{"<(emptyDir)": {}}]}}
    with pytest.raises(GlobalConditionFailed):
        preprocess(patch, pod(volumes=[{"name": "v", "hostPath": {"path": "/x"}}]))
    out = preprocess(patch, pod(volumes=[{"name": "v", "emptyDir": {}}]))
    assert out == {"metadata": {"annotations": {"evict": "true"}}}


def test_rule_with_global_anchor(run) -> None:
    mutate = {"patchStrategicMerge": {"metadata": {"annotations": {"+(evict)": "true"}},
                                      "spec": {"volumes": [{"<(emptyDir)": {}}]}}}
    out = run(mutate, pod(containers=[{"name": "c"}], volumes=[{"name": "v", "hostPath": {"path": "/x"}}]))
    assert out.rules[0].status == Status.SKIP
    out = run(mutate, pod(containers=[{"name": "c"}], volumes=[{"name": "v", "emptyDir": {}}]))
    assert out.rules[0].status == Status.PASS
    assert out.rules[0].patched_resource["metadata"]["annotations"] == {"evict": "true"}
    assert out.rules[0].patched_resource["spec"]["volumes"] == [{"name": "v", "emptyDir": {}}]


def test_conditional_anchor_per_container(run) -> None:
    resource = pod(containers=[{"name": "a", "image": "nginx:1"}, {"name": "b", "image": "redis:1"}])
    out = run({"patchStrategicMerge": {"spec": {"containers": [
        {"(image)": "nginx*", "securityContext": {"runAsNonRoot": True}}]}}}, resource)
    containers = out.rules[0].patched_resource["spec"]["containers"]
    assert containers == [{"name": "a", "image": "nginx:1", "securityContext": {"runAsNonRoot": True}},
                          {"name": "b", "image": "redis:1"}]


@pytest.mark.parametrize("containers", [
    [{"name": "a"}],
    [{"name": "a", "imagePullPolicy": "Always"}, {"name": "b"}],
    [{"name": "a"}, {"name": "b"}, {"name": "c", "imagePullPolicy": "Never"}],
])
def test_add_if_not_present_is_idempotent(run, containers) -> None:
    first = run(ADD_DEFAULTS, pod(containers=copy.deepcopy(containers)))
    assert first.rules[0].status == Status.PASS
    mutated = first.rules[0].patched_resource
    again = run(ADD_DEFAULTS, copy.deepcopy(mutated))
    assert (again.rules[0].status, again.rules[0].message) == (Status.SKIP, "no patches applied")
    assert again.patched_resource == mutated
