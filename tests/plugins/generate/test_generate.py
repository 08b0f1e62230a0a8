"""The generate rule kind: data, clone, cloneList, foreach, owner labels, missing sources."""
from __future__ import annotations

from typing import Any

import pytest

from verno.core.engine import Engine
from verno.core.models.policy import Policy
from verno.core.request import Request
from verno.core.results import Status
from verno.core.sources import Sources
from verno.plugins.generate.labels import MANAGED_BY, POLICY_NAME, RULE_NAME, SOURCE_NAME, TRIGGER_KIND, TRIGGER_NAME

NAMESPACE = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a", "uid": "u-1"}}


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine()


def policy(generate: dict[str, Any], name: str = "gen", namespace: str = "") -> Policy:
    meta = {"name": name, **({"namespace": namespace} if namespace else {})}
    return Policy.model_validate({
        "apiVersion": "kyverno.io/v1", "kind": "Policy" if namespace else "ClusterPolicy", "metadata": meta,
        "spec": {"rules": [{"name": "make", "match": {"any": [{"resources": {"kinds": ["Namespace"]}}]},
                            "generate": generate}]},
    })


def run(engine: Engine, generate: dict[str, Any], trigger: dict[str, Any] = NAMESPACE,
        sources: Sources | None = None):
    [response] = engine.evaluate([engine.prepare(policy(generate))], Request(trigger), sources=sources)
    [rule] = response.rules
    return rule


def test_data_with_variables_and_owner_labels(engine: Engine) -> None:
    rule = run(engine, {
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "name": "deny-{{request.object.metadata.name}}",
        "namespace": "{{request.object.metadata.name}}", "synchronize": True,
        "data": {"metadata": {"labels": {"team": "{{request.object.metadata.name}}"}},
                 "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}},
    })
    assert rule.status == Status.PASS and rule.rule_type == "Generation"
    [obj] = rule.generated_resources
    assert obj["apiVersion"] == "networking.k8s.io/v1" and obj["kind"] == "NetworkPolicy"
    assert obj["metadata"]["name"] == "deny-team-a" and obj["metadata"]["namespace"] == "team-a"
    assert obj["spec"] == {"podSelector": {}, "policyTypes": ["Ingress"]}
    labels = obj["metadata"]["labels"]
    assert labels["team"] == "team-a"
    assert labels[MANAGED_BY] == "kyverno"
    assert labels[POLICY_NAME] == "gen" and labels[RULE_NAME] == "make"
    assert labels[TRIGGER_KIND] == "Namespace" and labels[TRIGGER_NAME] == "team-a"
    assert labels["generate.kyverno.io/trigger-uid"] == "u-1"


def test_data_is_not_shared_between_triggers(engine: Engine) -> None:
    gen = {"apiVersion": "v1", "kind": "ConfigMap", "name": "cm", "namespace": "{{request.object.metadata.name}}",
           "data": {"data": {"k": "v"}}}
    first = run(engine, gen).generated_resources[0]
    first["data"]["k"] = "changed"
    other = {**NAMESPACE, "metadata": {"name": "team-b"}}
    assert run(engine, gen, other).generated_resources[0]["data"] == {"k": "v"}


SECRET = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "data": {"p": "eA=="},
          "metadata": {"name": "regcred", "namespace": "default", "uid": "s-1", "resourceVersion": "7",
                       "creationTimestamp": "2024-01-01T00:00:00Z", "managedFields": [{"manager": "kubectl"}],
                       "ownerReferences": [{"kind": "Deployment", "name": "x"}], "labels": {"keep": "yes"}}}
CLONE = {"apiVersion": "v1", "kind": "Secret", "name": "regcred", "namespace": "{{request.object.metadata.name}}",
         "synchronize": True, "clone": {"namespace": "default", "name": "regcred"}}


def test_clone_strips_server_fields_and_labels_the_source(engine: Engine) -> None:
    rule = run(engine, CLONE, sources=Sources(cluster_resources=[SECRET]))
    [obj] = rule.generated_resources
    meta = obj["metadata"]
    assert meta["namespace"] == "team-a" and meta["name"] == "regcred"
    for key in ("uid", "resourceVersion", "creationTimestamp", "managedFields", "ownerReferences"):
        assert key not in meta
    assert obj["data"] == {"p": "eA=="} and obj["type"] == "Opaque"
    assert meta["labels"]["keep"] == "yes" and meta["labels"][SOURCE_NAME] == "regcred"
    assert SECRET["metadata"]["uid"] == "s-1"  # the source itself is untouched


def test_clone_sources_are_scoped_to_their_rule(engine: Engine) -> None:
    mine = {**SECRET, "data": {"p": "bWluZQ=="}}
    other = {**SECRET, "data": {"p": "b3RoZXI="}}
    sources = Sources(clone_sources={"gen/make": [mine], "elsewhere/make": [other]})
    [obj] = run(engine, CLONE, sources=sources).generated_resources
    assert obj["data"] == {"p": "bWluZQ=="}


def test_missing_clone_source_passes_without_resources(engine: Engine) -> None:
    rule = run(engine, CLONE, sources=Sources())
    assert rule.status == Status.PASS
    assert rule.generated_resources == []
    assert "source resource v1/Secret/default/regcred not found" in rule.message


def test_self_clone_generates_nothing(engine: Engine) -> None:
    gen = {**CLONE, "namespace": "default"}
    rule = run(engine, gen, sources=Sources(cluster_resources=[SECRET]))
    assert rule.status == Status.PASS and rule.generated_resources == []


def test_clone_list_by_kind_and_selector(engine: Engine) -> None:
    labelled = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "default",
                                                                         "labels": {"copy": "true"}}}
    unlabelled = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b", "namespace": "default"}}
    elsewhere = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "other",
                                                                          "labels": {"copy": "true"}}}
    gen = {"namespace": "{{request.object.metadata.name}}",
           "cloneList": {"namespace": "default", "kinds": ["v1/ConfigMap", "v1/Secret"],
                         "selector": {"matchLabels": {"copy": "true"}}}}
    rule = run(engine, gen, sources=Sources(cluster_resources=[labelled, unlabelled, elsewhere,
                                                               {**SECRET, "metadata": {**SECRET["metadata"], "labels": {"copy": "true"}}}]))
    got = sorted((o["kind"], o["metadata"]["name"], o["metadata"]["namespace"]) for o in rule.generated_resources)
    assert got == [("ConfigMap", "a", "team-a"), ("Secret", "regcred", "team-a")]


def test_foreach_one_resource_per_element_with_preconditions(engine: Engine) -> None:
    trigger = {**NAMESPACE, "metadata": {"name": "team-a", "annotations": {"apps": "web,api,skip"}}}
    gen = {"foreach": [{
        "list": "split(request.object.metadata.annotations.apps, ',')",
        "context": [{"name": "app", "variable": {"jmesPath": "element"}}],
        "preconditions": {"all": [{"key": "{{element}}", "operator": "NotEquals", "value": "skip"}]},
        "apiVersion": "v1", "kind": "ConfigMap", "name": "cfg-{{app}}", "namespace": "team-a",
        "data": {"data": {"index": "{{elementIndex}}"}},
    }]}
    rule = run(engine, gen, trigger)
    assert rule.status == Status.PASS
    names = [o["metadata"]["name"] for o in rule.generated_resources]
    assert names == ["cfg-web", "cfg-api"]
    assert rule.generated_resources[1]["data"] == {"index": 1}


def test_unresolvable_variable_is_reported(engine: Engine) -> None:
    gen = {"apiVersion": "v1", "kind": "ConfigMap", "name": "{{request.object.metadata.nope}}", "namespace": "x",
           "data": {"data": {}}}
    rule = run(engine, gen)
    assert rule.generated_resources == []
    assert "variable substitution failed" in rule.message
