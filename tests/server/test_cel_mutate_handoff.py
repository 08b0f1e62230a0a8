"""Which admitted requests are triggers of a MutatingPolicy's mutateExisting, and the records they make."""
from __future__ import annotations

import copy

import pytest

from verno.core.engine import Engine
from verno.core.loading import Document
from verno.core.policykinds import KindInputs
from verno.core.request import Request
from verno.core.sources import Sources
from verno.core.updaterequest import CEL_MUTATE, request_type, resource_of
from verno.server.cel_mutate_handoff import cel_mutate_bodies, on_route, triggered

POLICY = {"apiVersion": "policies.kyverno.io/v1", "kind": "MutatingPolicy", "metadata": {"name": "sync"},
          "spec": {"matchConstraints": {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"],
                                                           "resources": ["configmaps"],
                                                           "operations": ["CREATE", "UPDATE"]}]},
                   "matchConditions": [{"name": "trigger", "expression": "object.metadata.name == 'trigger'"}],
                   "targetMatchConstraints": {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"],
                                                                 "resources": ["secrets"]}]},
                   "evaluation": {"admission": {"enabled": False}, "mutateExisting": {"enabled": True}},
                   "mutations": [{"patchType": "ApplyConfiguration", "applyConfiguration": {
                       "expression": "Object{metadata: Object.metadata{labels: {'synced': 'yes'}}}"}}]}}


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine()


def load(engine: Engine, doc: dict):
    return engine.policy_kinds.kind_of("policies.kyverno.io", doc["kind"]).load(Document("p", 0, doc), engine)


def configmap(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "default", "uid": "u"}}


def run(engine, policy, request, user=""):
    return triggered(engine, [policy], request, KindInputs(Sources(), engine=engine), user)


def test_a_matching_request_is_a_trigger_once(engine):
    policy = load(engine, POLICY)
    assert run(engine, policy, Request(configmap("trigger"), None, "CREATE")) == \
        [("sync", resource_of({"spec": {"resource": {"apiVersion": "v1", "kind": "ConfigMap",
                                                     "namespace": "default", "name": "trigger", "uid": "u"}}}))]
    # matchConditions false, another kind, an operation the constraints leave out, a dry run: none
    assert run(engine, policy, Request(configmap("other"), None, "CREATE")) == []
    secret = {**configmap("trigger"), "kind": "Secret"}
    assert run(engine, policy, Request(secret, None, "CREATE")) == []
    assert run(engine, policy, Request(None, configmap("trigger"), "DELETE")) == []
    dry = Request(configmap("trigger"), None, "CREATE", dry_run=True)
    assert run(engine, policy, dry) == []


def test_the_controllers_own_requests_unless_asked_for(engine):
    policy = load(engine, POLICY)
    own = Request(configmap("trigger"), None, "UPDATE", {"username": "system:serviceaccount:verno:controller"})
    assert run(engine, policy, own, "system:serviceaccount:verno:controller") == []
    assert len(run(engine, policy, own, "someone-else")) == 1
    doc = copy.deepcopy(POLICY)
    doc["spec"]["evaluation"]["skipBackgroundRequests"] = False
    assert len(run(engine, load(engine, doc), own, "system:serviceaccount:verno:controller")) == 1


def test_the_record(engine):
    policy = load(engine, POLICY)
    admission = {"uid": "r1", "operation": "CREATE", "object": configmap("trigger")}
    [(body, key)] = cel_mutate_bodies(engine, [policy], Request(configmap("trigger"), None, "CREATE"),
                                      KindInputs(Sources(), engine=engine), admission, "verno")
    assert key == "sync" and request_type(body) == CEL_MUTATE
    assert body["metadata"]["namespace"] == "verno" and body["spec"]["policy"] == "sync"
    assert body["spec"]["rule"] == "" and resource_of(body).name == "trigger"
    assert body["spec"]["context"]["admissionRequestInfo"]["admissionRequest"] == admission


def test_one_route_per_policy(engine):
    policy = load(engine, POLICY)
    assert on_route(policy, "validate/fail") and not on_route(policy, "validate/ignore")
    assert on_route(policy, "validate")
    ignore = copy.deepcopy(POLICY)
    ignore["spec"]["failurePolicy"] = "Ignore"
    assert on_route(load(engine, ignore), "validate/ignore") and not on_route(load(engine, ignore), "validate/fail")
