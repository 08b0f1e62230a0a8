"""The official Python client against the stand-in: writes, metadata, errors, patches, selectors, dry run."""
from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from kubernetes import client, dynamic


def cm(name: str, **labels: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels},
            "data": {"k": "v"}}


def deployment(name: str, pod_spec: dict | None = None, replicas: int = 1, **meta) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, **meta},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": pod_spec or {"containers": [{"name": "c", "image": "nginx"}]}}}}


def error(call, *args, **kwargs) -> tuple[int, dict]:
    with pytest.raises(client.ApiException) as info:
        call(*args, **kwargs)
    return info.value.status, json.loads(info.value.body)


def test_create_sets_server_metadata_and_a_global_resource_version(api_client):
    v1 = client.CoreV1Api(api_client)
    a = v1.create_namespaced_config_map("default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="a")))
    b = v1.create_namespaced_secret("default", {"metadata": {"name": "b"}, "stringData": {"x": "y"}})
    assert len(a.metadata.uid) == 36 and a.metadata.creation_timestamp is not None
    assert int(b.metadata.resource_version) == int(a.metadata.resource_version) + 1
    gen = v1.create_namespaced_config_map("default", {"metadata": {"generateName": "gen-"}})
    assert gen.metadata.name.startswith("gen-") and len(gen.metadata.name) == 9
    apps = client.AppsV1Api(api_client)
    dep = apps.create_namespaced_deployment("default", deployment("d"))
    assert dep.metadata.generation == 1
    assert apps.patch_namespaced_deployment("d", "default", {"spec": {"replicas": 2}}).metadata.generation == 2
    assert apps.patch_namespaced_deployment("d", "default", {"metadata": {"labels": {"x": "1"}}}
                                            ).metadata.generation == 2


def test_error_bodies_are_status_objects(api_client):
    v1 = client.CoreV1Api(api_client)
    v1.create_namespaced_config_map("default", cm("x"))
    code, body = error(v1.create_namespaced_config_map, "default", cm("x"))
    assert (code, body["reason"], body["message"]) == (409, "AlreadyExists", 'configmaps "x" already exists')
    assert body["details"] == {"name": "x", "group": "", "kind": "configmaps"}
    code, body = error(v1.read_namespaced_config_map, "nope", "default")
    assert (code, body["reason"], body["message"]) == (404, "NotFound", 'configmaps "nope" not found')
    code, body = error(v1.create_namespaced_config_map, "missing", cm("y"))
    assert (code, body["message"]) == (404, 'namespaces "missing" not found')
    code, body = error(v1.create_namespaced_config_map, "default", cm("Bad_Name"))
    assert code == 422 and body["reason"] == "Invalid"
    assert body["message"].startswith('ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": '
                                      "a lowercase RFC 1123 subdomain")
    assert body["details"]["causes"][0]["field"] == "metadata.name"
    code, body = error(v1.create_namespaced_config_map, "default", {**cm("z"), "metadata": {"name": "z",
                                                                                          "namespace": "other"}})
    assert (code, body["message"]) == (400, "the namespace of the provided object does not match the namespace "
                                             "sent on the request")
    code, body = error(v1.delete_namespace, "default")
    assert (code, body["message"]) == (403, 'namespaces "default" is forbidden: this namespace may not be deleted')


def test_stale_resource_version_conflicts_and_identical_update_is_a_no_op(api_client):
    v1 = client.CoreV1Api(api_client)
    first = v1.create_namespaced_config_map("default", cm("c"))
    stale = first.metadata.resource_version
    second = v1.patch_namespaced_config_map("c", "default", {"data": {"k": "w"}})
    body = client.ApiClient().sanitize_for_serialization(first)
    code, status = error(v1.replace_namespaced_config_map, "c", "default", body)
    assert code == 409 and status["reason"] == "Conflict"
    assert status["message"] == ('Operation cannot be fulfilled on configmaps "c": the object has been modified; '
                                 "please apply your changes to the latest version and try again")
    code, _ = error(v1.patch_namespaced_config_map, "c", "default", {"metadata": {"resourceVersion": stale}})
    assert code == 409
    same = client.ApiClient().sanitize_for_serialization(second)
    again = v1.replace_namespaced_config_map("c", "default", same)
    assert again.metadata.resource_version == second.metadata.resource_version
    del same["metadata"]["resourceVersion"]  # unconditional update
    assert v1.replace_namespaced_config_map("c", "default", {**same, "data": {"k": "u"}}).data == {"k": "u"}


def test_three_patch_kinds_and_server_side_apply(api_client):
    apps = client.AppsV1Api(api_client)
    pod_spec = {"containers": [{"name": "a", "image": "a:1", "env": [{"name": "X", "value": "1"}]},
                               {"name": "b", "image": "b:1"}]}
    apps.create_namespaced_deployment("default", deployment("web", pod_spec, finalizers=["x/y"]))
    # strategic merge: containers merge by name, env by name, finalizers are a set
    smp = {"metadata": {"finalizers": ["x/z"]}, "spec": {"template": {"spec": {"containers": [
        {"name": "b", "image": "b:2"}, {"name": "a", "env": [{"name": "Y", "value": "2"}]}]}}}}
    dep = apps.patch_namespaced_deployment("web", "default", smp)
    containers = dep.spec.template.spec.containers
    assert [(c.name, c.image) for c in containers] == [("a", "a:1"), ("b", "b:2")]
    assert [e.name for e in containers[0].env] == ["X", "Y"]
    assert dep.metadata.finalizers == ["x/y", "x/z"]
    delete = {"spec": {"template": {"spec": {"containers": [{"name": "b", "$patch": "delete"}]}}}}
    dep = apps.patch_namespaced_deployment("web", "default", delete)
    assert [c.name for c in dep.spec.template.spec.containers] == ["a"]
    # JSON merge patch: lists replaced whole, null deletes
    merge = {"metadata": {"finalizers": None}, "spec": {"template": {"spec": {"containers": [
        {"name": "c", "image": "c:1"}]}}}}
    dep = apps.patch_namespaced_deployment("web", "default", merge, _content_type="application/merge-patch+json")
    assert [c.name for c in dep.spec.template.spec.containers] == ["c"] and dep.metadata.finalizers is None
    # JSON patch, and a failing test operation
    ops = [{"op": "add", "path": "/metadata/labels", "value": {"app": "web"}},
           {"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": "c:2"}]
    dep = apps.patch_namespaced_deployment("web", "default", ops)
    assert dep.metadata.labels == {"app": "web"} and dep.spec.template.spec.containers[0].image == "c:2"
    code, body = error(apps.patch_namespaced_deployment, "web", "default",
                       [{"op": "test", "path": "/metadata/labels/app", "value": "db"}])
    assert code == 422 and body["reason"] == "Invalid"
    # server-side apply: upsert; fieldManager required
    api = api_client
    applied = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa"}, "data": {"a": "1"}}
    path = "/api/v1/namespaces/default/configmaps/ssa"
    _, status, _ = _raw(api, "PATCH", path, applied, "application/apply-patch+yaml", "fieldManager=t")
    assert status == 201
    _, status, _ = _raw(api, "PATCH", path, {**applied, "data": {"b": "2"}}, "application/apply-patch+yaml",
                        "fieldManager=t")
    assert status == 200
    assert client.CoreV1Api(api).read_namespaced_config_map("ssa", "default").data == {"a": "1", "b": "2"}
    body, status, _ = _raw(api, "PATCH", path, applied, "application/apply-patch+yaml", "")
    assert status == 422 and "fieldManager: Required value" in body["message"]
    body, status, _ = _raw(api, "PATCH", path, {}, "text/plain", "")
    assert status == 415 and body["reason"] == "UnsupportedMediaType"


def _raw(api: client.ApiClient, method: str, path: str, body, content_type: str, query: str):
    url = api.configuration.host + path + (f"?{query}" if query else "")
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method=method,
                                 headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(req) as resp:
            return json.loads(resp.read()), resp.status, resp.headers
    except urllib.error.HTTPError as exc:
        return json.loads(exc.read()), exc.code, exc.headers


def test_status_subresource(api_client):
    apps = client.AppsV1Api(api_client)
    apps.create_namespaced_deployment("default", {**deployment("s"), "status": {"replicas": 9}})
    dep = apps.read_namespaced_deployment("s", "default")
    assert dep.status is None or dep.status.replicas is None  # status dropped on create
    dep = apps.patch_namespaced_deployment_status("s", "default", {"status": {"replicas": 1},
                                                                   "spec": {"replicas": 7}})
    assert dep.status.replicas == 1 and dep.spec.replicas == 1 and dep.metadata.generation == 1
    dep = apps.patch_namespaced_deployment("s", "default", {"status": {"replicas": 5}, "spec": {"replicas": 2}})
    assert dep.status.replicas == 1 and dep.spec.replicas == 2


def test_label_and_field_selectors(api_client):
    v1 = client.CoreV1Api(api_client)
    for name, labels in (("a", {"tier": "web", "n": "3"}), ("b", {"tier": "db"}), ("c", {})):
        v1.create_namespaced_config_map("default", cm(name, **labels))

    def names(**kw) -> list[str]:
        return [i.metadata.name for i in v1.list_namespaced_config_map("default", **kw).items]
    assert names(label_selector="tier=web") == ["a"]
    assert names(label_selector="tier!=web") == ["b", "c"]
    assert names(label_selector="tier in (web,db)") == ["a", "b"]
    assert names(label_selector="tier notin (web)") == ["b", "c"]
    assert names(label_selector="tier,!n") == ["b"]
    assert names(label_selector="n>2") == ["a"]
    assert names(field_selector="metadata.name!=a") == ["b", "c"]
    assert names(field_selector="metadata.name=b,metadata.namespace=default") == ["b"]
    code, body = error(v1.list_namespaced_config_map, "default", field_selector="spec.x=1")
    assert (code, body["message"]) == (400, '"spec.x" is not a known field selector: only "metadata.name", '
                                            '"metadata.namespace"')
    assert [n.metadata.name for n in v1.list_namespace(label_selector="kubernetes.io/metadata.name=default").items] \
        == ["default"]
    everywhere = v1.list_config_map_for_all_namespaces(field_selector="metadata.namespace=default")
    assert len(everywhere.items) == 3


def test_dry_run_persists_nothing(api_client, apiserver):
    v1 = client.CoreV1Api(api_client)
    before = apiserver.store.rv
    made = v1.create_namespaced_config_map("default", cm("dry"), dry_run="All")
    assert made.metadata.uid and made.metadata.name == "dry"
    assert apiserver.store.rv == before
    error_code, _ = error(v1.read_namespaced_config_map, "dry", "default")
    assert error_code == 404
    v1.create_namespaced_config_map("default", cm("real"))
    v1.delete_namespaced_config_map("real", "default", dry_run="All")
    assert v1.read_namespaced_config_map("real", "default").metadata.name == "real"
    code, _ = error(v1.create_namespaced_config_map, "default", cm("x"), dry_run="Some")
    assert code == 400


def test_delete_preconditions_and_finalizers(api_client):
    v1 = client.CoreV1Api(api_client)
    made = v1.create_namespaced_config_map("default", {**cm("f"), "metadata": {"name": "f", "finalizers": ["a/b"]}})
    code, body = error(v1.delete_namespaced_config_map, "f", "default",
                       body=client.V1DeleteOptions(preconditions=client.V1Preconditions(uid="other")))
    assert code == 409 and "Precondition failed: UID in precondition: other" in body["message"]
    v1.delete_namespaced_config_map("f", "default")
    held = v1.read_namespaced_config_map("f", "default")
    assert held.metadata.deletion_timestamp is not None and held.metadata.uid == made.metadata.uid
    code, body = error(v1.patch_namespaced_config_map, "f", "default", {"metadata": {"finalizers": ["a/c"]}})
    assert code == 422 and "no new finalizers can be added if the object is being deleted" in body["message"]
    v1.patch_namespaced_config_map("f", "default", [{"op": "remove", "path": "/metadata/finalizers"}])
    code, _ = error(v1.read_namespaced_config_map, "f", "default")
    assert code == 404


def test_dynamic_client_discovers_and_lists(api_client):
    dyn = dynamic.DynamicClient(api_client)
    client.CoreV1Api(api_client).create_namespaced_config_map("default", cm("dyn"))
    cms = dyn.resources.get(api_version="v1", kind="ConfigMap")
    assert [i.metadata.name for i in cms.get(namespace="default").items] == ["dyn"]
    deploys = dyn.resources.get(api_version="apps/v1", kind="Deployment")
    assert deploys.namespaced and deploys.name == "deployments"


def test_a_denied_verb_is_forbidden_as_the_api_server_says_it(apiserver, api_client):
    core = client.CoreV1Api(api_client)
    denial = apiserver.deny("create", "", "configmaps", "default")
    code, body = error(core.create_namespaced_config_map, "default", cm("nope"))
    assert code == 403 and body["reason"] == "Forbidden"
    assert body["message"] == ('configmaps is forbidden: User "kubernetes-admin" cannot create resource "configmaps" '
                               'in API group "" in the namespace "default"')
    core.create_namespaced_config_map("kube-public", cm("elsewhere"))  # other namespaces are not denied
    apiserver.deny("delete", "", "configmaps")
    code, body = error(core.delete_namespaced_config_map, "elsewhere", "kube-public")
    assert code == 403 and body["message"].startswith('configmaps "elsewhere" is forbidden: User')
    apiserver.allow(denial)
    core.create_namespaced_config_map("default", cm("now"))


def test_replies_are_not_held_back_by_delayed_acks(api_client):
    """Header and body go out without waiting for the client's ACK (TCP_NODELAY, as Go's server): 20 reads on
    one kept-alive connection take milliseconds each, not the ~40 ms of a delayed ACK."""
    import time

    core = client.CoreV1Api(api_client)
    core.read_namespace("default")
    started = time.perf_counter()
    for _ in range(20):
        core.read_namespace("default")
    assert time.perf_counter() - started < 0.6
