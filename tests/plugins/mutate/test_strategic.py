from __future__ import annotations

import copy

import pytest
from mutate_helpers import pod

from verno.core.results import Status
from verno.plugins.mutate.anchors import PatchError
from verno.plugins.mutate.strategic import strategic_merge


def test_containers_merge_by_name_and_new_ones_come_first() -> None:
    resource = pod(containers=[{"name": "a", "image": "a:1"}, {"name": "b", "image": "b:1"}])
    out = strategic_merge(resource, {"spec": {"containers": [{"name": "b", "image": "b:2"},
                                                             {"name": "side", "image": "s"}]}})
    assert out["spec"]["containers"] == [{"name": "side", "image": "s"}, {"name": "a", "image": "a:1"},
                                         {"name": "b", "image": "b:2"}]
    assert resource["spec"]["containers"][1]["image"] == "b:1"  # input untouched


def test_env_by_name_volume_mounts_by_mount_path_ports_by_container_port() -> None:
    resource = pod(containers=[{
        "name": "c",
        "env": [{"name": "A", "value": "1"}],
        "volumeMounts": [{"name": "data", "mountPath": "/data"}],
        "ports": [{"name": "http", "containerPort": 80}],
    }])
    patch = {"spec": {"containers": [{
        "name": "c",
        "env": [{"name": "A", "value": "2"}, {"name": "B", "value": "3"}],
        "volumeMounts": [{"name": "data", "mountPath": "/other"}],
        "ports": [{"name": "web", "containerPort": 80, "protocol": "TCP"}],
    }]}}
    c = strategic_merge(resource, patch)["spec"]["containers"][0]
    assert c["env"] == [{"name": "B", "value": "3"}, {"name": "A", "value": "2"}]
    # same name, different mountPath: a second mount, not a replacement
    assert c["volumeMounts"] == [{"name": "data", "mountPath": "/other"}, {"name": "data", "mountPath": "/data"}]
    assert c["ports"] == [{"name": "web", "containerPort": 80, "protocol": "TCP"}]


def test_tolerations_and_args_are_replaced() -> None:
    resource = pod(containers=[{"name": "c", "args": ["a", "b"]}], tolerations=[{"key": "x", "operator": "Exists"}])
    out = strategic_merge(resource, {"spec": {"tolerations": [{"key": "y", "operator": "Exists"}],
                                              "containers": [{"name": "c", "args": ["z"]}]}})
    assert out["spec"]["tolerations"] == [{"key": "y", "operator": "Exists"}]
    assert out["spec"]["containers"][0]["args"] == ["z"]


def test_deployment_template_and_finalizers() -> None:
    deploy = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "finalizers": ["a"]},
              "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "x"}]}}}}
    out = strategic_merge(deploy, {"metadata": {"finalizers": ["b", "a"]},
                                   "spec": {"template": {"spec": {"containers": [{"name": "c", "tty": True}]}}}})
    assert out["metadata"]["finalizers"] == ["b", "a"]
    assert out["spec"]["template"]["spec"]["containers"] == [{"name": "c", "image": "x", "tty": True}]


def test_custom_resource_lists_merge_by_name_only() -> None:
    cr = {"apiVersion": "example.io/v1", "kind": "Thing", "metadata": {"name": "t"},
          "spec": {"items": [{"name": "a", "v": 1}], "ports": [{"port": 1}]}}
    out = strategic_merge(cr, {"spec": {"items": [{"name": "a", "v": 2}], "ports": [{"port": 2}]}})
    assert out["spec"]["items"] == [{"name": "a", "v": 2}]
    assert out["spec"]["ports"] == [{"port": 2}]


def test_null_deletes_a_key() -> None:
    resource = pod(containers=[{"name": "c"}], hostNetwork=True)
    out = strategic_merge(resource, {"spec": {"hostNetwork": None}, "metadata": {"labels": {"a": None, "b": "1"}}})
    assert "hostNetwork" not in out["spec"]
    assert out["metadata"]["labels"] == {"b": "1"}


def test_patch_delete_and_replace_directives() -> None:
    resource = pod(containers=[{"name": "a", "image": "a", "resources": {"limits": {"cpu": "1"}}},
                               {"name": "b", "image": "b"}])
    out = strategic_merge(resource, {"spec": {"containers": [{"name": "b", "$patch": "delete"}]}})
    assert [c["name"] for c in out["spec"]["containers"]] == ["a"]
    out = strategic_merge(resource, {"spec": {"containers": [
        {"name": "a", "resources": {"$patch": "replace", "requests": {"cpu": "2"}}}]}})
    assert out["spec"]["containers"][0]["resources"] == {"requests": {"cpu": "2"}}
    out = strategic_merge(resource, {"spec": {"containers": [{"$patch": "replace"}, {"name": "z", "image": "z"}]}})
    assert out["spec"]["containers"] == [{"name": "z", "image": "z"}]
    out = strategic_merge(resource, {"metadata": {"$patch": "delete"}})
    assert "metadata" not in out


def test_unknown_directive_and_kind_mismatch_are_errors() -> None:
    with pytest.raises(PatchError, match="unknown patch strategy 'bogus'.*/spec/\\$patch"):
        strategic_merge(pod(), {"spec": {"$patch": "bogus"}})
    with pytest.raises(PatchError, match="/spec/containers"):
        strategic_merge(pod(), {"spec": {"containers": {"name": "x"}}})


def test_rule_errors_name_rule_and_path(run) -> None:
    out = run({"patchStrategicMerge": {"spec": {"containers": {"name": "x"}}}}, pod())
    rr = out.rules[0]
    assert rr.status == Status.ERROR
    assert "mutate rule r" in rr.message and "/spec/containers" in rr.message
    out = run({"patchStrategicMerge": {"spec": {"$patch": "nope"}}}, pod())
    assert out.rules[0].status == Status.ERROR and "unknown patch strategy" in out.rules[0].message


def test_pass_message_and_patched_resource(run) -> None:
    resource = pod()
    out = run({"patchStrategicMerge": {"metadata": {"labels": {"team": "a"}}}}, copy.deepcopy(resource))
    rr = out.rules[0]
    assert (rr.status, rr.message) == (Status.PASS, "mutated Pod/web in namespace default")
    assert rr.patched_resource["metadata"]["labels"] == {"team": "a"}
    assert out.patched_resource == rr.patched_resource


def test_no_change_is_skip(run) -> None:
    out = run({"patchStrategicMerge": {"metadata": {"name": "web"}}}, pod())
    assert (out.rules[0].status, out.rules[0].message) == (Status.SKIP, "no patches applied")


def test_variables_and_at(run) -> None:
    resource = pod(containers=[{"name": "c", "image": "nginx"}])
    resource["metadata"]["labels"] = {"app": "x"}
    out = run({"patchStrategicMerge": {"metadata": {"labels": {"copy": "{{request.object.metadata.name}}",
                                                               "app": "{{@}}-suffix"}}}}, resource)
    assert out.rules[0].patched_resource["metadata"]["labels"] == {"app": "x-suffix", "copy": "web"}


def test_mutation_is_seen_by_validate(engine) -> None:
    from verno.core.models.policy import Policy
    from verno.core.request import Request

    pol = Policy.model_validate({
        "apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy", "metadata": {"name": "p"},
        "spec": {"rules": [
            {"name": "v", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
             "validate": {"pattern": {"spec": {"securityContext": {"runAsNonRoot": True}}}}},
            {"name": "m", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
             "mutate": {"patchStrategicMerge": {"spec": {"securityContext": {"+(runAsNonRoot)": True}}}}},
        ]},
    })
    out = engine.evaluate([engine.prepare(pol)], Request(pod()))
    assert {r.name: r.status for r in out[0].rules} == {"m": Status.PASS, "v": Status.PASS}
