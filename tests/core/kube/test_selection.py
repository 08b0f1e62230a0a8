"""Which served resources a policy set lists (``verno.core.kube.selection``) and discovery over the stand-in."""
from __future__ import annotations

import sys
from pathlib import Path

import yaml

from verno.core.engine import Engine
from verno.core.kube.discovery import Served, served_resources
from verno.core.kube.rest import Kube, Resource, api_client
from verno.core.kube.selection import resource_rules, rule_kind_selectors, selected_resources
from verno.core.loading import Document, validate_model
from verno.core.models.policy import Policy

TESTS = str(Path(__file__).resolve().parents[2])
if TESTS not in sys.path:
    sys.path.insert(0, TESTS)

from apiserver.fixtures import apiserver  # noqa: E402,F401

POD = Resource("", "v1", "pods", "Pod", True)
EVENT = Resource("", "v1", "events", "Event", True)
NEW_EVENT = Resource("events.k8s.io", "v1", "events", "Event", True)
DEPLOY = Resource("apps", "v1", "deployments", "Deployment", True)
HPA2 = Resource("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", True)
HPA1 = Resource("autoscaling", "v1", "horizontalpodautoscalers", "HorizontalPodAutoscaler", True)
NS = Resource("", "v1", "namespaces", "Namespace", False)
SERVED = [Served(POD, True), Served(EVENT, True), Served(NS, True), Served(DEPLOY, True),
          Served(HPA2, True), Served(HPA1, False), Served(NEW_EVENT, True)]


def prepared(rules: list[dict]) -> object:
    doc = {"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy", "metadata": {"name": "p"},
           "spec": {"rules": rules}}
    return Engine().prepare(validate_model(Policy, Document("p.yaml", 0, doc)))


def rule(name: str, match: dict) -> dict:
    return {"name": name, "match": match, "validate": {"message": "m", "pattern": {"metadata": {"name": "?*"}}}}


def test_kind_selectors_of_every_match_form_and_autogen():
    pods = prepared([rule("a", {"any": [{"resources": {"kinds": ["Pod"]}}]})])
    policy = prepared([rule("e", {"any": [{"resources": {"kinds": ["Pod"]}}, {"resources": {"kinds": ["Event"]}}]}),
                       rule("b", {"all": [{"resources": {"kinds": ["autoscaling/v1/HorizontalPodAutoscaler"]}}]}),
                       rule("c", {"resources": {"kinds": ["Namespace", "Pod"]}})])
    selectors = rule_kind_selectors(r.rule for p in (policy, pods) for r in p.rules)
    assert selectors[:4] == ["Pod", "Event", "autoscaling/v1/HorizontalPodAutoscaler", "Namespace"]
    assert "Deployment" in selectors and "CronJob" in selectors  # autogen rules of the Pod-only policy
    chosen = selected_resources(SERVED, selectors, [])
    # discovery order; Event from the core group only; HPA in the version the selector names
    assert chosen == [POD, EVENT, NS, DEPLOY, HPA1]


def test_version_wildcards_pick_the_preferred_version_and_subresources_list_nothing():
    assert selected_resources(SERVED, ["HorizontalPodAutoscaler"], []) == [HPA2]
    assert selected_resources(SERVED, ["Pod/status", "Pod.exec"], []) == []
    assert selected_resources(SERVED, ["events.k8s.io/v1/Event"], []) == [NEW_EVENT]
    assert selected_resources(SERVED, ["*"], []) == [POD, EVENT, NS, DEPLOY, HPA2, NEW_EVENT]
    assert selected_resources(SERVED, ["Pod*"], []) == [POD]


def test_admission_resource_rules():
    doc = {"spec": {"matchConstraints": {"resourceRules": [
        {"apiGroups": ["apps"], "apiVersions": ["v1"], "resources": ["deployments", "deployments/scale"]},
        {"apiGroups": [""], "apiVersions": ["*"], "resources": ["pods/status"]},
        {"apiGroups": ["autoscaling"], "apiVersions": ["*"], "resources": ["*"]}]}}}
    rules = resource_rules(doc)
    assert len(rules) == 3
    assert selected_resources(SERVED, [], rules) == [DEPLOY, HPA2]
    assert resource_rules({"spec": {"evaluation": {"mode": "JSON"}}}) == []
    assert selected_resources(SERVED, [], [{"apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*/*"]}]) == \
        [POD, EVENT, NS, DEPLOY, HPA2, NEW_EVENT]


def test_discovery_over_the_stand_in(apiserver):
    crd = yaml.safe_load("""apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gadgets.example.com}
spec:
  group: example.com
  scope: Cluster
  names: {plural: gadgets, singular: gadget, kind: Gadget}
  versions:
  - {name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object}}}
""")
    apiserver.create(crd)
    kube = Kube(api_client(str(apiserver.kubeconfig), False))
    served = served_resources(kube)
    names = {(s.resource.group, s.resource.version, s.resource.plural) for s in served}
    assert ("", "v1", "pods") in names and ("apps", "v1", "deployments") in names
    assert ("example.com", "v1", "gadgets") in names
    assert not any("/" in plural for _, _, plural in names)  # no subresources
    gadget = next(s.resource for s in served if s.resource.kind == "Gadget")
    assert gadget == Resource("example.com", "v1", "gadgets", "Gadget", False)
    apiserver.create({"apiVersion": "example.com/v1", "kind": "Gadget", "metadata": {"name": "g1"}})
    assert [o["metadata"]["name"] for o in kube.list_items(gadget)] == ["g1"]
    pods = kube.list_items(Resource("", "v1", "pods", "Pod", True), "default")
    assert list(pods) == []
