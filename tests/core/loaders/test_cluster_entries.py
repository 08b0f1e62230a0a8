"""configMap and apiCall context entries: read from the offline cluster, or an error saying what to give.

Each policy denies a Pod whose ``team`` label is not the one its context entry yields, so a rule passes
only when the entry loaded the right data.
"""
from __future__ import annotations

import pytest

from verno.core.engine import Engine
from verno.core.loaders.offline_cluster import OfflineCluster
from verno.core.models.policy import Policy
from verno.core.request import Request
from verno.core.results import Status
from verno.core.sources import Sources
from verno.core.models.values import ValuesFile

POD_MATCH = {"any": [{"resources": {"kinds": ["Pod"]}}]}


def pod(team: str, namespace: str = "shop") -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": namespace,
                                                            "labels": {"team": team}},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]}}


def owner_policy(entry: dict, owner: str, kind: str = "ClusterPolicy", namespace: str = "") -> Policy:
    """Deny a Pod whose team label differs from ``owner`` (a JMESPath over the loaded entry)."""
    meta = {"name": "owner", **({"namespace": namespace} if namespace else {})}
    rule = {"name": "team", "match": POD_MATCH, "context": [{"name": "owners", **entry}],
            "validate": {"message": "team must be {{ " + owner + " }}", "deny": {"conditions": {"any": [
                {"key": "{{ request.object.metadata.labels.team }}", "operator": "NotEquals",
                 "value": "{{ " + owner + " }}"}]}}}}
    return Policy.model_validate({"apiVersion": "kyverno.io/v1", "kind": kind, "metadata": meta,
                                  "spec": {"rules": [rule]}})


def verdict(policy: Policy, resource: dict, **sources) -> tuple[Status, str]:
    engine = Engine()
    out = engine.evaluate([engine.prepare(policy)], Request(resource), sources=Sources(**sources))
    (rule,) = out[0].rules
    return rule.status, rule.message


OWNERS_CM = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "owners", "namespace": "shop"},
             "data": {"owner": "blue"}}
CONFIGMAP = {"configMap": {"name": "owners", "namespace": "{{ request.object.metadata.namespace }}"}}


def test_configmap_from_cluster_resources_passes_and_fails():
    cluster = OfflineCluster([OWNERS_CM])
    assert verdict(owner_policy(CONFIGMAP, "owners.data.owner"), pod("blue"), offline_cluster=cluster)[0] == \
        Status.PASS
    status, message = verdict(owner_policy(CONFIGMAP, "owners.data.owner"), pod("red"), offline_cluster=cluster)
    assert (status, message) == (Status.FAIL, "team must be blue")


def test_configmap_entry_holds_data_and_metadata_only():
    policy = owner_policy(CONFIGMAP, "to_string(keys(owners))")
    status, message = verdict(policy, pod("x"), offline_cluster=OfflineCluster([OWNERS_CM]))
    assert message == 'team must be ["data","metadata"]'


def test_missing_configmap_is_kyvernos_error():
    status, message = verdict(owner_policy(CONFIGMAP, "owners.data.owner"), pod("blue", "elsewhere"),
                              offline_cluster=OfflineCluster([OWNERS_CM]))
    assert status == Status.ERROR
    assert message == ("failed to load context: failed to retrieve config map for context entry owners: "
                       'failed to get configmap elsewhere/owners : configmaps "owners" not found')


def test_configmap_without_cluster_is_an_error_saying_what_to_give():
    status, message = verdict(owner_policy(CONFIGMAP, "owners.data.owner"), pod("blue"))
    assert status == Status.ERROR
    assert "context entry 'owners': configMap shop/owners cannot be read without a cluster" in message
    assert "clusterResources" in message and "Values file" in message


def test_configmap_value_from_a_values_file_stands_without_cluster():
    values = ValuesFile.model_validate({"apiVersion": "cli.kyverno.io/v1alpha1", "kind": "Values", "policies": [
        {"name": "owner", "rules": [{"name": "team", "values": {"owners.data.owner": "blue"}}]}]})
    assert verdict(owner_policy(CONFIGMAP, "owners.data.owner"), pod("blue"), values=values)[0] == Status.PASS
    assert verdict(owner_policy(CONFIGMAP, "owners.data.owner"), pod("red"), values=values)[0] == Status.FAIL


def test_namespaced_policy_reads_configmaps_of_its_namespace_only():
    entry = {"configMap": {"name": "owners"}}
    cluster = OfflineCluster([OWNERS_CM])
    policy = owner_policy(entry, "owners.data.owner", kind="Policy", namespace="shop")
    assert verdict(policy, pod("blue"), offline_cluster=cluster)[0] == Status.PASS
    other = owner_policy({"configMap": {"name": "owners", "namespace": "kube-system"}}, "owners.data.owner",
                         kind="Policy", namespace="shop")
    status, message = verdict(other, pod("blue"), offline_cluster=cluster)
    assert status == Status.ERROR
    assert 'context entry owners: configMap namespace "kube-system" is different from policy namespace "shop"' \
        in message


TEAM = {"apiVersion": "example.com/v1", "kind": "Team", "metadata": {"name": "shop"}, "spec": {"owner": "blue"}}


def test_apicall_get_by_name_from_cluster_resources():
    entry = {"apiCall": {"urlPath": "/apis/example.com/v1/teams/{{ request.object.metadata.namespace }}",
                         "jmesPath": "spec.owner"}}
    cluster = OfflineCluster([TEAM])
    assert verdict(owner_policy(entry, "owners"), pod("blue"), offline_cluster=cluster)[0] == Status.PASS
    assert verdict(owner_policy(entry, "owners"), pod("red"), offline_cluster=cluster) == \
        (Status.FAIL, "team must be blue")


def test_apicall_list_from_cluster_resources():
    holders = [{**OWNERS_CM, "metadata": {"name": f"cm-{i}", "namespace": "shop", "labels": {"role": role}}}
               for i, role in enumerate(["owner", "other", "owner"])]
    entry = {"apiCall": {"urlPath": "/api/v1/namespaces/shop/configmaps?labelSelector=role=owner",
                         "jmesPath": "join('/', [kind, to_string(length(items))])"}}
    status, message = verdict(owner_policy(entry, "owners"), pod("x"), offline_cluster=OfflineCluster(holders))
    assert message == "team must be ConfigMapList/2"


def test_apicall_missing_object_is_an_error_or_its_default():
    entry = {"apiCall": {"urlPath": "/apis/example.com/v1/teams/nope", "jmesPath": "spec.owner"}}
    status, message = verdict(owner_policy(entry, "owners"), pod("blue"), offline_cluster=OfflineCluster([TEAM]))
    assert status == Status.ERROR
    assert message.startswith("failed to load context: failed to fetch data for APICall: failed to GET resource "
                              'with raw url: /apis/example.com/v1/teams/nope: teams.example.com "nope" not found')
    with_default = {"apiCall": {**entry["apiCall"], "default": "blue"}}
    assert verdict(owner_policy(with_default, "owners"), pod("blue"), offline_cluster=OfflineCluster([TEAM]))[0] \
        == Status.PASS
    assert verdict(owner_policy(with_default, "owners"), pod("red"), offline_cluster=OfflineCluster([TEAM]))[0] \
        == Status.FAIL


def test_apicall_urlpath_without_cluster_is_an_error_or_its_default():
    entry = {"apiCall": {"urlPath": "/apis/example.com/v1/teams/shop", "jmesPath": "spec.owner"}}
    status, message = verdict(owner_policy(entry, "owners"), pod("blue"))
    assert status == Status.ERROR
    assert "apiCall GET /apis/example.com/v1/teams/shop needs a cluster" in message
    assert "clusterResources" in message and "apiCallResponses" in message
    with_default = {"apiCall": {**entry["apiCall"], "default": "blue"}}
    assert verdict(owner_policy(with_default, "owners"), pod("red"))[0] == Status.FAIL


SERVICE = {"apiCall": {"service": {"url": "https://owners.example.com/shop"}, "jmesPath": "owner"}}


@pytest.mark.parametrize("sources", [{}, {"offline_cluster": OfflineCluster([TEAM])}])
def test_service_call_without_mock_is_an_error(sources):
    status, message = verdict(owner_policy(SERVICE, "owners"), pod("blue"), **sources)
    assert status == Status.ERROR
    assert ("apiCall GET https://owners.example.com/shop: verno calls a service only when --allow-egress names its "
            "host") in message and "--allow-egress owners.example.com" in message
    assert "apiCallResponses (url: https://owners.example.com/shop, method: GET)" in message


def test_service_call_with_mock():
    mocks = {("GET", "https://owners.example.com/shop"): {"statusCode": 200, "body": {"owner": "blue"}}}
    assert verdict(owner_policy(SERVICE, "owners"), pod("blue"), api_call_responses=mocks)[0] == Status.PASS
    assert verdict(owner_policy(SERVICE, "owners"), pod("red"), api_call_responses=mocks)[0] == Status.FAIL


def test_post_to_the_offline_cluster_is_an_error():
    entry = {"apiCall": {"urlPath": "/apis/example.com/v1/teams", "method": "POST",
                         "data": [{"key": "a", "value": "b"}]}}
    status, message = verdict(owner_policy(entry, "owners"), pod("blue"), offline_cluster=OfflineCluster([TEAM]))
    assert status == Status.ERROR
    assert "method not supported offline" in message


@pytest.mark.parametrize("entry", [CONFIGMAP, {"apiCall": {"urlPath": "/api/v1/namespaces/shop/configmaps/owners"}}])
def test_a_later_variable_default_does_not_hide_an_entry_that_could_not_load(entry):
    """The shape that passed silently: a variable with a default over the entry that was never loaded."""
    rule = {"name": "team", "match": POD_MATCH, "context": [
        {"name": "owners", **entry},
        {"name": "owner", "variable": {"jmesPath": "owners.data.owner", "default": "red"}}],
        "validate": {"message": "team must be {{ owner }}", "deny": {"conditions": {"any": [
            {"key": "{{ request.object.metadata.labels.team }}", "operator": "NotEquals", "value": "{{ owner }}"}]}}}}
    policy = Policy.model_validate({"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy",
                                    "metadata": {"name": "owner"}, "spec": {"rules": [rule]}})
    assert verdict(policy, pod("red"))[0] == Status.ERROR
    assert verdict(policy, pod("red"), offline_cluster=OfflineCluster([OWNERS_CM])) == \
        (Status.FAIL, "team must be blue")
