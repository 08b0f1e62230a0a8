"""OfflineCluster: API paths answered from the objects a Test gives, as the API server answers them."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verno.core.errors import ContextLoadError
from verno.core.loaders.offline_cluster import OfflineCluster, guess_resource


def obj(api_version: str, kind: str, name: str, namespace: str = "", **labels: str) -> dict:
    meta = {"name": name, **({"namespace": namespace} if namespace else {}), **({"labels": labels} if labels else {})}
    return {"apiVersion": api_version, "kind": kind, "metadata": meta}


WEB = obj("v1", "Pod", "web", "shop", tier="front", app="web")
DB = obj("v1", "Pod", "db", "shop", tier="back")
OTHER = obj("v1", "Pod", "job", "batch")
DEPLOY = obj("apps/v1", "Deployment", "api", "shop")
ROLE = obj("rbac.authorization.k8s.io/v1", "ClusterRole", "reader")
WIDGET = obj("example.com/v1", "Widget", "w1")


@pytest.fixture
def cluster():
    return OfflineCluster([WEB, DB, OTHER, DEPLOY, ROLE, WIDGET])


def names(listing: dict) -> list[str]:
    return [i["metadata"]["name"] for i in listing["items"]]


def test_get_by_name_namespaced_and_cluster_scoped(cluster):
    assert cluster.raw_get("/api/v1/namespaces/shop/pods/web") == WEB
    assert cluster.raw_get("/apis/apps/v1/namespaces/shop/deployments/api") == DEPLOY
    assert cluster.raw_get("/apis/rbac.authorization.k8s.io/v1/clusterroles/reader") == ROLE
    assert cluster.raw_get("/apis/example.com/v1/widgets/w1") == WIDGET


def test_answers_are_copies(cluster):
    got = cluster.raw_get("/api/v1/namespaces/shop/pods/web")
    got["metadata"]["name"] = "changed"
    assert cluster.raw_get("/api/v1/namespaces/shop/pods/web")["metadata"]["name"] == "web"


def test_missing_object_is_the_api_servers_not_found(cluster):
    with pytest.raises(ContextLoadError) as exc:
        cluster.raw_get("/api/v1/namespaces/shop/pods/nope")
    assert str(exc.value).startswith('failed to GET resource with raw url: /api/v1/namespaces/shop/pods/nope: '
                                     'pods "nope" not found')
    assert "clusterResources" in str(exc.value)
    with pytest.raises(ContextLoadError, match='widgets.example.com "w2" not found'):
        cluster.raw_get("/apis/example.com/v1/widgets/w2")
    with pytest.raises(ContextLoadError, match='pods "web" not found'):  # wrong namespace
        cluster.raw_get("/api/v1/namespaces/batch/pods/web")


def test_list_in_a_namespace_has_the_api_servers_shape(cluster):
    listing = cluster.raw_get("/api/v1/namespaces/shop/pods")
    assert listing == {"apiVersion": "v1", "kind": "PodList", "metadata": {"resourceVersion": ""},
                       "items": [DB, WEB]}


def test_list_across_namespaces_and_cluster_scoped(cluster):
    assert names(cluster.raw_get("/api/v1/pods")) == ["job", "db", "web"]
    deployments = cluster.raw_get("/apis/apps/v1/deployments")
    assert (deployments["apiVersion"], deployments["kind"], names(deployments)) == ("apps/v1", "DeploymentList",
                                                                                    ["api"])
    assert names(cluster.raw_get("/apis/rbac.authorization.k8s.io/v1/clusterroles")) == ["reader"]
    assert cluster.raw_get("/api/v1/namespaces/empty/pods")["items"] == []


def test_list_with_label_selector(cluster):
    def listed(selector: str) -> list[str]:
        return names(cluster.raw_get(f"/api/v1/namespaces/shop/pods?labelSelector={selector}"))

    assert listed("tier=front") == ["web"]
    assert listed("tier==back") == ["db"]
    assert listed("tier!=front") == ["db"]
    assert listed("tier%20in%20(front,back)") == ["db", "web"]
    assert listed("tier notin (front)") == ["db"]
    assert listed("app") == ["web"]
    assert listed("!app") == ["db"]
    assert listed("tier=front,app=web") == ["web"]
    assert listed("tier=front,app=db") == []


def test_list_with_field_selector(cluster):
    assert names(cluster.raw_get("/api/v1/pods?fieldSelector=metadata.namespace=batch")) == ["job"]
    assert names(cluster.raw_get("/api/v1/pods?fieldSelector=metadata.name!=web")) == ["job", "db"]
    with pytest.raises(ContextLoadError, match="fieldSelector on 'status.phase' is not supported offline"):
        cluster.raw_get("/api/v1/pods?fieldSelector=status.phase=Running")


@pytest.mark.parametrize("path, message", [
    ("/api/v1/namespaces/shop/pods?limit=1", "query parameter 'limit' is not supported offline"),
    ("/api/v1/namespaces/shop/pods/web/log", "subresource 'log' is not supported offline"),
    ("/api/v1", "the path names no resource"),
    ("/healthz", "not a Kubernetes API path"),
    ("/api/v1/namespaces/shop/secrets", "the server could not find the requested resource"),
    ("/api/v1/pods?labelSelector=a%20in%20()", "invalid labelSelector requirement"),
    ("/api/v1/pods?labelSelector=!a=b", "invalid labelSelector requirement"),
])
def test_requests_it_cannot_serve_are_errors(cluster, path, message):
    with pytest.raises(ContextLoadError, match=message):
        cluster.raw_get(path)


def test_post_is_an_error_that_points_to_mocks(cluster):
    with pytest.raises(ContextLoadError, match="method not supported offline.*apiCallResponses"):
        cluster.raw_post("/apis/authorization.k8s.io/v1/subjectaccessreviews", {})


def test_configmaps_and_secrets_by_namespace_and_name():
    cm = {**obj("v1", "ConfigMap", "settings", "shop"), "data": {"k": "v"}}
    cluster = OfflineCluster([cm, obj("v1", "Secret", "token", "shop")])
    assert cluster.get_configmap("shop", "settings") == cm
    assert cluster.get_configmap("default", "settings") is None
    assert cluster.get_secret("shop", "token")["kind"] == "Secret"


def test_a_crd_names_the_resource_of_its_kind():
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "policiesv2.example.com"},
           "spec": {"group": "example.com", "names": {"kind": "PolicyV2", "plural": "policiesv2"}}}
    cluster = OfflineCluster([obj("example.com/v1", "PolicyV2", "p")], [crd])
    assert cluster.raw_get("/apis/example.com/v1/policiesv2/p")["metadata"]["name"] == "p"
    with pytest.raises(ContextLoadError, match="not found"):  # the guessed name no longer answers
        cluster.raw_get("/apis/example.com/v1/policyv2s/p")


@pytest.mark.parametrize("kind, resource", [
    ("Pod", "pods"), ("ComputeClass", "computeclasses"), ("Ingress", "ingresses"),
    ("NetworkPolicy", "networkpolicies"), ("Endpoints", "endpoints"), ("ConfigMap", "configmaps"),
])
def test_guess_resource_as_kubernetes_guesses(kind, resource):
    assert guess_resource(kind) == resource


LABEL = st.sampled_from(["a", "b", "c"])
VALUE = st.sampled_from(["x", "y"])


@settings(max_examples=200, deadline=None)
@given(labels=st.dictionaries(LABEL, VALUE, max_size=3),
       wanted=st.lists(st.tuples(LABEL, st.sampled_from(["=", "!="]), VALUE), min_size=1, max_size=3))
def test_label_selector_equalities_hold_together(labels, wanted):
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "n", "labels": labels}}
    selector = ",".join(f"{k}{op}{v}" for k, op, v in wanted)
    listed = OfflineCluster([pod]).raw_get(f"/api/v1/namespaces/n/pods?labelSelector={selector}")["items"]
    expected = all((labels.get(k) == v) == (op == "=") for k, op, v in wanted)
    assert (listed == [pod]) == expected
