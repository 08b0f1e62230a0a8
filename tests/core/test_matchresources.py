"""core/matchresources.py: Kubernetes' MatchResources as Kyverno's CEL matcher applies it."""
from __future__ import annotations

import pytest

from verno.core.matchresources import MatchResources, namespace_labels, request_resource
from verno.core.request import Request

POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "prod", "labels": {"app": "web"}}}
DEPLOY = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "prod"}}
NS = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod", "labels": {"env": "prod"}}}
ROLE = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "r"}}


def rules(*resources, groups=("",), versions=("v1",), ops=("CREATE", "UPDATE"), **extra):
    return {"apiGroups": list(groups), "apiVersions": list(versions), "resources": list(resources),
            "operations": list(ops), **extra}


def test_resource_rules_select_group_version_resource_and_operation():
    m = MatchResources({"resourceRules": [rules("pods")]})
    assert m.matches(Request(POD))
    assert m.matches(Request(POD, POD, "UPDATE"))
    assert not m.matches(Request({}, POD, "DELETE"))
    assert not m.matches(Request(DEPLOY))
    assert MatchResources({"resourceRules": [rules("deployments", groups=("apps",))]}).matches(Request(DEPLOY))
    assert MatchResources({"resourceRules": [rules("*", groups=("*",), versions=("*",), ops=("*",))]}).matches(
        Request({}, DEPLOY, "DELETE"))


def test_operations_can_be_ignored_for_background_matching():
    m = MatchResources({"resourceRules": [rules("pods", ops=("CREATE",))]})
    assert not m.matches(Request(POD, POD, "UPDATE"))
    assert m.matches(Request(POD, POD, "UPDATE"), check_operation=False)


def test_subresources_follow_kubernetes_patterns():
    scale = Request({"apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": {"name": "d", "namespace": "a"}},
                    subresource="scale", request_kind=("apps", "v1", "Deployment"))
    assert request_resource(scale) == ("apps", "v1", "deployments", "scale")
    assert MatchResources({"resourceRules": [rules("deployments/scale", groups=("apps",))]}).matches(scale)
    assert MatchResources({"resourceRules": [rules("*/scale", groups=("apps",))]}).matches(scale)
    assert MatchResources({"resourceRules": [rules("deployments/*", groups=("apps",))]}).matches(scale)
    assert not MatchResources({"resourceRules": [rules("*", groups=("apps",))]}).matches(scale)
    assert not MatchResources({"resourceRules": [rules("deployments", groups=("apps",))]}).matches(scale)


def test_exclusions_win_and_empty_rules_select_everything():
    m = MatchResources({"resourceRules": [rules("pods")], "excludeResourceRules": [rules("pods", resourceNames=["web"])]})
    assert not m.matches(Request(POD))
    other = {**POD, "metadata": {**POD["metadata"], "name": "api"}}
    assert m.matches(Request(other))
    assert MatchResources({}).matches(Request(DEPLOY))


def test_resource_names_accept_a_generate_name_prefix():
    m = MatchResources({"resourceRules": [rules("pods", resourceNames=["web-abc"])]})
    generated = {**POD, "metadata": {"generateName": "web-", "namespace": "prod"}}
    assert m.matches(Request(generated))
    assert not MatchResources({"resourceRules": [rules("pods", resourceNames=["api"])]}).matches(Request(generated))


def test_scope():
    cluster = MatchResources({"resourceRules": [rules("*", groups=("*",), scope="Cluster")]})
    namespaced = MatchResources({"resourceRules": [rules("*", groups=("*",), scope="Namespaced")]})
    assert cluster.matches(Request(ROLE, None)) and not namespaced.matches(Request(ROLE))
    assert namespaced.matches(Request(POD)) and not cluster.matches(Request(POD))


@pytest.mark.parametrize("namespace, expected", [(NS, True), (None, False)])
def test_namespace_selector_reads_the_namespace_object_or_its_name_label(namespace, expected):
    m = MatchResources({"namespaceSelector": {"matchLabels": {"env": "prod"}}, "resourceRules": [rules("pods")]})
    assert m.matches(Request(POD), namespace) is expected
    by_name = MatchResources({"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "prod"}}})
    assert by_name.matches(Request(POD))
    # cluster-scoped objects pass; a Namespace is selected by its own labels
    assert m.matches(Request(ROLE), None) is False  # not a pod
    assert MatchResources({"namespaceSelector": {"matchLabels": {"env": "prod"}}}).matches(Request(ROLE))
    assert MatchResources({"namespaceSelector": {"matchLabels": {"env": "prod"}}}).matches(Request(NS))
    assert namespace_labels(Request(ROLE), None) is None


def test_object_selector_reads_new_or_old_labels():
    m = MatchResources({"objectSelector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["web"]}]}})
    assert m.matches(Request(POD))
    assert m.matches(Request({}, POD, "DELETE"))
    assert not m.matches(Request(DEPLOY))
    assert m.has_selectors and not MatchResources({"resourceRules": [rules("pods")]}).has_selectors
