"""core/cel/cluster_data.py: the CEL data libraries over a cluster client (the webhook's)."""
from __future__ import annotations

import pytest

from verno.core.cel.cluster_data import ClusterCelData, resource_path
from verno.core.cel.library import FunctionError
from verno.core.errors import ContextLoadError


class Cluster:
    def __init__(self):
        self.calls = []
        self.objects = {"/api/v1/namespaces/team/configmaps/settings": {"data": {"a": "1"}},
                        "/apis/apps/v1/namespaces/team/deployments?labelSelector=app%3Dweb": {"items": [{"k": 1}]}}

    def raw_get(self, path):
        self.calls.append(("GET", path))
        if path == "/apis/example.com/v1/secrets-of-others":
            raise ContextLoadError(f"API call GET {path} returned HTTP 403")
        if path not in self.objects:
            raise ContextLoadError(f"API call GET {path} returned HTTP 404")
        return self.objects[path]

    def raw_post(self, path, body):
        self.calls.append(("POST", path))
        return {**body, "status": {"allowed": True}}


def test_paths():
    assert resource_path("v1", "namespaces", "", "a") == "/api/v1/namespaces/a"
    assert resource_path("apps/v1", "deployments", "x") == "/apis/apps/v1/namespaces/x/deployments"


def test_get_list_post_through_the_cluster():
    cluster = Cluster()
    data = ClusterCelData(cluster)
    assert data.resource_get("v1", "configmaps", "team", "settings") == {"data": {"a": "1"}}
    assert data.resource_get("v1", "configmaps", "team", "missing") is None
    assert data.resource_list("apps/v1", "deployments", "team", {"app": "web"}) == {"items": [{"k": 1}]}
    review = data.resource_post("authorization.k8s.io/v1", "subjectaccessreviews", "", {"spec": {}})
    assert review["status"]["allowed"] is True
    assert ("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews") in cluster.calls
    with pytest.raises(FunctionError, match="permission denied"):
        data.resource_list("example.com/v1", "secrets-of-others", "", None)
    with pytest.raises(FunctionError, match="not served"):
        data.resource_list("example.com/v1", "widgets", "", None)


def test_without_a_cluster_the_message_says_how_to_give_one():
    with pytest.raises(FunctionError, match="--kubeconfig"):
        ClusterCelData().resource_get("v1", "configmaps", "a", "b")
    assert ClusterCelData().global_context("anything", "") is None


def test_http_is_fenced_and_the_message_does_not_mention_test_mocks():
    with pytest.raises(FunctionError) as err:
        ClusterCelData().http_get("https://example.com/x", {}, "")
    assert "--allow-egress example.com" in str(err.value) and "apiCallResponses" not in str(err.value)


def test_listed_items_carry_their_kind_as_client_go_decodes_them():
    cluster = Cluster()
    cluster.objects["/api/v1/namespaces/team/secrets"] = {
        "apiVersion": "v1", "kind": "SecretList",
        "items": [{"metadata": {"name": "a"}}, {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "b"}}]}
    listed = ClusterCelData(cluster).resource_list("v1", "secrets", "team", None)
    assert listed["items"] == [{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "a"}},
                               {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "b"}}]
