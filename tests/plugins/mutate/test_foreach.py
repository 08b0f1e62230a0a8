from __future__ import annotations

from mutate_helpers import pod

from verno.core.results import Status


def test_descending_order_keeps_element_index(run) -> None:
    resource = pod(containers=[{"name": "a"}, {"name": "b"}, {"name": "c"}])
    mutate = {"foreach": [{
        "list": "request.object.spec.containers",
        "order": "Descending",
        "patchesJson6902": "- {op: remove, path: '/spec/containers/{{elementIndex}}'}",
        "preconditions": {"all": [{"key": "{{element.name}}", "operator": "NotEquals", "value": "b"}]},
    }]}
    out = run(mutate, resource)
    # removing from the end first keeps the indices of earlier elements valid
    assert out.rules[0].status == Status.PASS
    assert out.rules[0].patched_resource["spec"]["containers"] == [{"name": "b"}]


def test_ascending_patches_are_cumulative(run) -> None:
    resource = pod(containers=[{"name": "a", "image": "docker.io/a"}, {"name": "b", "image": "docker.io/b"}])
    mutate = {"foreach": [{
        "list": "request.object.spec.containers",
        "patchStrategicMerge": {"spec": {"containers": [
            {"name": "{{element.name}}", "image": "{{regex_replace_all('^docker.io', element.image, 'mirror')}}"}]}},
    }, {
        "list": "request.object.spec.containers",
        "patchesJson6902": "- {op: add, path: '/spec/containers/{{elementIndex}}/env', value: [{name: I, value: '{{element.image}}'}]}",
    }]}
    containers = run(mutate, resource).rules[0].patched_resource["spec"]["containers"]
    assert [c["image"] for c in containers] == ["mirror/a", "mirror/b"]
    # the second entry sees the object the first one produced
    assert [c["env"][0]["value"] for c in containers] == ["mirror/a", "mirror/b"]


def test_nested_foreach_with_context(run) -> None:
    resource = pod(containers=[{"name": "a", "env": [{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}]}])
    mutate = {"foreach": [{
        "list": "request.object.spec.containers",
        "foreach": [{
            "list": "element0.env",
            "context": [{"name": "suffix", "variable": {"value": "-s"}}],
            "patchStrategicMerge": {"spec": {"containers": [{
                "name": "{{element0.name}}",
                "env": [{"name": "{{element1.name}}", "value": "{{element1.value}}{{suffix}}"}]}]}},
        }],
    }]}
    env = run(mutate, resource).rules[0].patched_resource["spec"]["containers"][0]["env"]
    assert env == [{"name": "X", "value": "1-s"}, {"name": "Y", "value": "2-s"}]


def test_nothing_changed_is_skip_and_bad_list_is_error(run) -> None:
    mutate = {"foreach": [{"list": "request.object.spec.containers",
                           "patchStrategicMerge": {"spec": {"containers": [{"(name)": "{{element.name}}",
                                                                            "+(image)": "x"}]}}}]}
    out = run(mutate, pod(containers=[{"name": "a", "image": "y"}]))
    assert (out.rules[0].status, out.rules[0].message) == (Status.SKIP, "no patches applied")
    out = run({"foreach": [{"list": "request.object.spec.nope",
                            "patchesJson6902": "- {op: add, path: /a, value: 1}"}]}, pod())
    assert out.rules[0].status == Status.ERROR and "failed to evaluate list" in out.rules[0].message
