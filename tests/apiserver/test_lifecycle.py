"""CRD lifecycle, namespace termination, ownerReference garbage collection."""
from __future__ import annotations

import json
import urllib.request

import pytest
from kubernetes import client


def widget_crd(**version_extra) -> dict:
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.example.com"},
            "spec": {"group": "example.com", "scope": "Namespaced",
                     "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wd"]},
                     "versions": [{"name": "v1", "served": True, "storage": True,
                                   "schema": {"openAPIV3Schema": {"type": "object",
                                                                  "x-kubernetes-preserve-unknown-fields": True}},
                                   "subresources": {"status": {}},
                                   "additionalPrinterColumns": [
                                       {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
                                       {"name": "Ready", "type": "string",
                                        "jsonPath": '.status.conditions[?(@.type=="Ready")].status'}],
                                   **version_extra}]}}


def widget(name: str, size: int = 1) -> dict:
    return {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": name}, "spec": {"size": size}}


def error(call, *args, **kwargs) -> tuple[int, dict]:
    with pytest.raises(client.ApiException) as info:
        call(*args, **kwargs)
    return info.value.status, json.loads(info.value.body)


def test_crd_lifecycle(api_client, apiserver):
    ext = client.ApiextensionsV1Api(api_client)
    custom = client.CustomObjectsApi(api_client)
    code, _ = error(custom.list_namespaced_custom_object, "example.com", "v1", "default", "widgets")
    assert code == 404
    crd = ext.create_custom_resource_definition(widget_crd())
    conditions = {c.type: c.status for c in crd.status.conditions}
    assert conditions == {"NamesAccepted": "True", "Established": "True"}
    groups = client.ApisApi(api_client).get_api_versions()
    assert "example.com" in [g.name for g in groups.groups]
    resources = client.CustomObjectsApi(api_client).get_api_resources("example.com", "v1")
    assert {(r.name, r.kind) for r in resources.resources} == {("widgets", "Widget"), ("widgets/status", "Widget")}
    made = custom.create_namespaced_custom_object("example.com", "v1", "default", "widgets",
                                                  {**widget("w1"), "status": {"ignored": True}})
    assert made["metadata"]["generation"] == 1 and "status" not in made
    patched = custom.patch_namespaced_custom_object("example.com", "v1", "default", "widgets", "w1",
                                                    {"spec": {"size": 2}})
    assert patched["metadata"]["generation"] == 2
    status = custom.patch_namespaced_custom_object_status(
        "example.com", "v1", "default", "widgets", "w1",
        {"status": {"conditions": [{"type": "Ready", "status": "True"}]}})
    assert status["metadata"]["generation"] == 2 and status["status"]["conditions"][0]["status"] == "True"
    listed = custom.list_namespaced_custom_object("example.com", "v1", "default", "widgets")
    assert listed["kind"] == "WidgetList" and listed["items"][0]["kind"] == "Widget"  # CR lists keep item kinds
    code, body = error(custom.patch_namespaced_custom_object, "example.com", "v1", "default", "widgets", "w1",
                       {"spec": {"size": 3}}, _content_type="application/strategic-merge-patch+json")
    assert code == 415 and body["reason"] == "UnsupportedMediaType"
    code, body = error(custom.get_namespaced_custom_object, "example.com", "v1", "default", "widgets", "zz")
    assert body["message"] == 'widgets.example.com "zz" not found'
    ext.delete_custom_resource_definition("widgets.example.com")
    apiserver.wait_idle()
    code, _ = error(ext.read_custom_resource_definition, "widgets.example.com")
    assert code == 404
    code, _ = error(custom.list_namespaced_custom_object, "example.com", "v1", "default", "widgets")
    assert code == 404
    assert "example.com" not in [g.name for g in client.ApisApi(api_client).get_api_versions().groups]


def test_invalid_crd_is_rejected(api_client):
    ext = client.ApiextensionsV1Api(api_client)
    bad = widget_crd()
    bad["metadata"]["name"] = "gadgets.example.com"
    code, body = error(ext.create_custom_resource_definition, bad)
    assert code == 422
    assert 'metadata.name: Invalid value: "gadgets.example.com": must be spec.names.plural+"."+spec.group' \
        in body["message"]


def test_crd_printer_columns_in_tables(api_client, apiserver):
    client.ApiextensionsV1Api(api_client).create_custom_resource_definition(widget_crd())
    custom = client.CustomObjectsApi(api_client)
    custom.create_namespaced_custom_object("example.com", "v1", "default", "widgets", widget("w", 7))
    table = _get_json(apiserver, "/apis/example.com/v1/namespaces/default/widgets",
                      "application/json;as=Table;v=v1;g=meta.k8s.io,application/json")
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Size", "Ready"]
    assert table["rows"][0]["cells"] == ["w", 7, None]
    assert table["rows"][0]["object"]["kind"] == "PartialObjectMetadata"


def _get_json(apiserver, path: str, accept: str) -> dict:
    req = urllib.request.Request(apiserver.url + path, headers={"Accept": accept})
    with urllib.request.urlopen(req) as resp:
        return json.loads(resp.read())


def test_namespace_deletion_cascades(api_client, apiserver):
    v1 = client.CoreV1Api(api_client)
    ns = v1.create_namespace({"metadata": {"name": "team"}})
    assert ns.metadata.labels == {"kubernetes.io/metadata.name": "team"} and ns.spec.finalizers == ["kubernetes"]
    v1.create_namespaced_config_map("team", {"metadata": {"name": "plain"}})
    v1.create_namespaced_config_map("team", {"metadata": {"name": "held", "finalizers": ["example.com/hold"]}})
    v1.create_namespaced_config_map("default", {"metadata": {"name": "elsewhere"}})
    terminating = v1.delete_namespace("team")
    apiserver.wait_idle()
    ns = v1.read_namespace("team")
    assert ns.status.phase == "Terminating" and ns.metadata.deletion_timestamp is not None
    assert [c.metadata.name for c in v1.list_namespaced_config_map("team").items] == ["held"]
    code, body = error(v1.create_namespaced_config_map, "team", {"metadata": {"name": "late"}})
    assert (code, body["message"]) == (403, 'configmaps "late" is forbidden: unable to create new content in '
                                            "namespace team because it is being terminated")
    v1.patch_namespaced_config_map("held", "team", {"metadata": {"finalizers": None}})
    apiserver.wait_idle()
    code, _ = error(v1.read_namespace, "team")
    assert code == 404 and terminating is not None
    assert v1.read_namespaced_config_map("elsewhere", "default").metadata.name == "elsewhere"


def _owned(name: str, owner: dict, block: bool = False) -> dict:
    ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": owner["metadata"]["name"],
           "uid": owner["metadata"]["uid"]}
    if block:
        ref["blockOwnerDeletion"] = True
    return {"metadata": {"name": name, "ownerReferences": [ref]}}


def test_owner_reference_garbage_collection(api_client, apiserver):
    v1 = client.CoreV1Api(api_client)
    raw = api_client.sanitize_for_serialization

    def make(body: dict) -> dict:
        return raw(v1.create_namespaced_config_map("default", body))

    def names() -> list[str]:
        apiserver.wait_idle()
        return sorted(c.metadata.name for c in v1.list_namespaced_config_map("default").items)

    # background: dependents whose owners are all gone go; one with a surviving owner loses the reference
    owner, other = make({"metadata": {"name": "owner"}}), make({"metadata": {"name": "other"}})
    child = make(_owned("child", owner))
    grandchild = make(_owned("grandchild", child))
    shared = _owned("shared", owner)
    shared["metadata"]["ownerReferences"].append(_owned("x", other)["metadata"]["ownerReferences"][0])
    make(shared)
    assert grandchild
    v1.delete_namespaced_config_map("owner", "default")
    assert names() == ["other", "shared"]
    refs = v1.read_namespaced_config_map("shared", "default").metadata.owner_references
    assert [r.name for r in refs] == ["other"]
    # orphan: dependents stay without the reference
    parent = make({"metadata": {"name": "parent"}})
    make(_owned("kept", parent))
    v1.delete_namespaced_config_map("parent", "default", propagation_policy="Orphan")
    assert "parent" not in names() and v1.read_namespaced_config_map("kept", "default").metadata.owner_references \
        is None
    # foreground: the owner waits (finalizer foregroundDeletion) until blocking dependents are gone
    boss = make({"metadata": {"name": "boss"}})
    make({**_owned("worker", boss, block=True), "metadata": {**_owned("worker", boss, block=True)["metadata"],
                                                             "finalizers": ["example.com/slow"]}})
    v1.delete_namespaced_config_map("boss", "default", propagation_policy="Foreground")
    assert "boss" in names()
    held = v1.read_namespaced_config_map("boss", "default")
    assert held.metadata.finalizers == ["foregroundDeletion"] and held.metadata.deletion_timestamp is not None
    v1.patch_namespaced_config_map("worker", "default", {"metadata": {"finalizers": None}})
    assert "boss" not in names() and "worker" not in names()
