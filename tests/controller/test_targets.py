"""Reading mutateExisting targets from the stand-in: wildcard kinds through discovery, namespace and name
wildcards, uid, label selectors, a namespaced Policy's scope, the bound and errors."""
from __future__ import annotations

import pytest

from verno.controller import targets as targets_module
from verno.controller.kube import Kube
from verno.controller.targets import ClusterTargets, TargetError


def names(found: list[dict]) -> list[str]:
    return sorted(f"{o['kind']}/{o['metadata'].get('namespace', '')}/{o['metadata']['name']}" for o in found)


@pytest.fixture
def kube(apiserver, api_client):
    for ns in ("team-a", "team-b"):
        apiserver.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        for name, labels in (("app-1", {"tier": "web"}), ("app-2", {"tier": "db"}), ("other", {})):
            apiserver.create({"apiVersion": "v1", "kind": "ConfigMap",
                              "metadata": {"name": name, "namespace": ns, "labels": labels}})
    return Kube(api_client)


def test_selection(kube):
    find = ClusterTargets(kube)
    assert names(find({"apiVersion": "v1", "kind": "ConfigMap", "namespace": "team-a", "name": "app-*"})) == [
        "ConfigMap/team-a/app-1", "ConfigMap/team-a/app-2"]
    assert names(find({"kind": "Config*", "namespace": "team-?", "name": "app-1"})) == [
        "ConfigMap/team-a/app-1", "ConfigMap/team-b/app-1"]
    selected = find({"apiVersion": "v1", "kind": "ConfigMap",
                     "selector": {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["db"]}]}})
    assert names(selected) == ["ConfigMap/team-a/app-2", "ConfigMap/team-b/app-2"]
    uid = selected[0]["metadata"]["uid"]
    assert [o["metadata"]["uid"] for o in find({"apiVersion": "v1", "kind": "ConfigMap", "uid": uid})] == [uid]
    # what was read is kept, with the resource and subresource it is written back to
    res, subresource, original = find.found[uid]
    assert (res.plural, subresource, original["metadata"]["uid"]) == ("configmaps", "", uid)
    assert find({"apiVersion": "v1", "kind": "Namespace/status", "name": "team-b"})[0]["metadata"]["name"] == "team-b"
    assert find.found[find({"apiVersion": "v1", "kind": "Namespace/status", "name": "team-b"})[0]["metadata"]
                      ["uid"]][1] == "status"


def test_a_namespaced_policy_reaches_no_cluster_scoped_kind(kube):
    assert ClusterTargets(kube, "team-a")({"apiVersion": "v1", "kind": "Namespace"}) == []
    assert ClusterTargets(kube)({"apiVersion": "v1", "kind": "Namespace", "name": "team-a"})


def test_bounds_and_errors(kube, monkeypatch):
    monkeypatch.setattr(targets_module, "MAX_TARGETS", 3)
    with pytest.raises(TargetError, match="more than 3 objects of ConfigMap"):
        ClusterTargets(kube)({"apiVersion": "v1", "kind": "ConfigMap"})
    with pytest.raises(TargetError, match="names no kind"):
        ClusterTargets(kube)({"apiVersion": "v1", "kind": ""})
    with pytest.raises(TargetError, match='no matches for kind "Nothing" in version "v1"'):
        ClusterTargets(kube)({"apiVersion": "v1", "kind": "Nothing"})
    with pytest.raises(TargetError, match='no matches for kind "Nothing"'):
        ClusterTargets(kube)({"kind": "Nothing"})


def test_forbidden_list_is_remembered(apiserver, kube):
    apiserver.deny("list", "", "configmaps", "")
    find = ClusterTargets(kube)
    with pytest.raises(TargetError, match="verno lacks permission to list ConfigMap at the cluster scope"):
        find({"apiVersion": "v1", "kind": "ConfigMap"})
    (denied,) = find.denied
    assert (denied.verb, denied.kind, denied.namespace) == ("list", "ConfigMap", "")
