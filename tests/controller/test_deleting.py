"""DeletingPolicies in the cluster: at each scheduled time what a policy selects and its conditions hold for
is deleted (through the stand-in, with the official client); the run is recorded in the policy's status."""
from __future__ import annotations

import datetime as dt
import threading

import pytest

from controller.harness import wait_for
from verno.controller.deleting import DeletionScheduler
from verno.controller.events import EventRecorder
from verno.controller.kube import Kube, api_client
from verno.controller.metrics import Metrics
from verno.core.engine import Engine

CREATED = dt.datetime(2026, 1, 1, 0, 0, tzinfo=dt.timezone.utc)


def namespace(name, **labels):
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def pod(name, ns, **labels):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns, "labels": labels},
            "spec": {"containers": [{"name": "c", "image": "x"}]}}


def deleting_policy(name="stale-pods", kind="DeletingPolicy", namespace=None, **spec):
    meta = {"name": name, **({"namespace": namespace} if namespace else {})}
    body = {"schedule": "0 * * * *",
            "matchConstraints": {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}]},
            "conditions": [{"name": "test-ns", "expression": "namespaceObject.metadata.labels.?env.orValue('') == 'test'"},
                           {"name": "stale", "expression": "object.metadata.labels.?stale.orValue('') == 'true'"}]}
    body.update(spec)
    return {"apiVersion": "policies.kyverno.io/v1", "kind": kind, "metadata": meta, "spec": body}


class Clock:
    def __init__(self):
        self.value = CREATED

    def __call__(self):
        return self.value


@pytest.fixture
def world(cluster):
    for ns in (namespace("team", env="test"), namespace("prod", env="prod")):
        cluster.create(ns)
    for p in (pod("old", "team", stale="true"), pod("fresh", "team"), pod("old", "prod", stale="true")):
        cluster.create(p)
    return cluster


@pytest.fixture
def scheduler(world):
    kube = Kube(api_client(str(world.kubeconfig), False))
    stop = threading.Event()
    clock = Clock()
    metrics = Metrics(lambda: 0, lambda: True)
    sched = DeletionScheduler(kube, Engine(), EventRecorder(kube), metrics, stop, watch_seconds=5, now=clock)
    sched.clock = clock
    yield sched
    stop.set()


def created(cluster, doc):
    obj = cluster.create(doc)
    return obj


def pods(cluster):
    return sorted(f"{ns}/{name}" for (ns, name) in [(p["metadata"]["namespace"], p["metadata"]["name"])
                                                   for p in cluster.store.items(("", "pods"))[0]])


def test_a_due_policy_deletes_what_it_selects_and_records_the_run(world, scheduler):
    policy = world.create(deleting_policy())
    scheduler.start(loop=False)
    wait_for(lambda: scheduler._objects, what="the policy seen")
    scheduler.clock.value = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)
    assert scheduler.due()[0] == []  # created just now: the first run is at the next full hour
    scheduler.clock.value = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1, minutes=1)
    [(key, obj, loaded)] = scheduler.due()[0]
    assert scheduler.run(obj, loaded) == 1
    assert world.get("v1", "Pod", "old", "team") is None
    assert world.get("v1", "Pod", "fresh", "team") is not None  # a condition is false
    assert world.get("v1", "Pod", "old", "prod") is not None    # another namespace's labels
    status = world.get("policies.kyverno.io/v1", "DeletingPolicy", "stale-pods")["status"]
    assert status["lastExecutionTime"] == scheduler.clock.value.strftime("%Y-%m-%dT%H:%M:%SZ")
    wait_for(lambda: scheduler.due()[0] == [], what="the run recorded: not due again this hour")
    assert policy["metadata"]["name"] == "stale-pods"


def test_the_loop_runs_due_policies(world, scheduler):
    scheduler.clock.value = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=2)
    world.create(deleting_policy(conditions=[]))  # every pod in every namespace
    scheduler.start()
    wait_for(lambda: scheduler.runs == 1, what="the loop's run")
    assert scheduler.deleted == 3 and pods(world) == []


def test_a_namespaced_policy_deletes_in_its_namespace_only(world, scheduler):
    world.create(deleting_policy("ns-pods", "NamespacedDeletingPolicy", "prod", conditions=[]))
    scheduler.start(loop=False)
    wait_for(lambda: scheduler._objects, what="the policy seen")
    scheduler.clock.value = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=2)
    [(key, obj, loaded)] = scheduler.due()[0]
    assert scheduler.run(obj, loaded) == 1
    assert world.get("v1", "Pod", "old", "prod") is None
    assert world.get("v1", "Pod", "old", "team") is not None


def test_an_exception_keeps_a_resource(world, scheduler):
    world.create({"apiVersion": "policies.kyverno.io/v1", "kind": "PolicyException",
                  "metadata": {"name": "keep-old", "namespace": "team"},
                  "spec": {"policyRefs": [{"name": "stale-pods", "kind": "DeletingPolicy"}],
                           "matchConditions": [{"name": "old", "expression": "object.metadata.name == 'old'"}]}})
    world.create(deleting_policy())
    scheduler.start(loop=False)
    wait_for(lambda: scheduler._objects, what="the policy seen")
    scheduler.clock.value = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=2)
    [(key, obj, loaded)] = scheduler.due()[0]
    assert scheduler.run(obj, loaded) == 0
    assert world.get("v1", "Pod", "old", "team") is not None


def test_a_refused_delete_is_an_event_on_the_policy(world, scheduler):
    world.deny("delete", "", "pods", "team")
    world.create(deleting_policy())
    scheduler.start(loop=False)
    wait_for(lambda: scheduler._objects, what="the policy seen")
    scheduler.clock.value = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=2)
    [(key, obj, loaded)] = scheduler.due()[0]
    assert scheduler.run(obj, loaded) == 0
    events = [e for e in world.store.items(("", "events"))[0]
              if e["involvedObject"] == {"apiVersion": "policies.kyverno.io/v1", "kind": "DeletingPolicy",
                                         "name": "stale-pods"}]
    assert events and events[0]["type"] == "Warning"
    assert events[0]["message"].startswith("verno lacks permission to delete Pod in namespace team")
    assert 'verno_controller_permission_denied_total{verb="delete",kind="Pod",namespace="team"} 1' in \
        scheduler.metrics.render()


def test_a_policy_verno_cannot_load_never_runs_and_says_why(world, scheduler):
    world.create(deleting_policy(conditions=[{"name": "x", "expression": "object.metadata.name +"}]))
    scheduler.start(loop=False)
    wait_for(lambda: scheduler._objects, what="the policy seen")
    scheduler.clock.value = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=2)
    assert scheduler.due()[0] == []
    events = [e for e in world.store.items(("", "events"))[0] if e["involvedObject"].get("kind") == "DeletingPolicy"]
    assert events and "policy not loaded" in events[0]["message"] and "spec.conditions[0]" in events[0]["message"]


def test_the_leader_runs_deleting_policies(world, controllers, api_client):
    from kubernetes import client

    world.create(deleting_policy(conditions=[]))
    custom = client.CustomObjectsApi(api_client)
    policy = custom.get_cluster_custom_object("policies.kyverno.io", "v1", "deletingpolicies", "stale-pods")
    policy["status"] = {"lastExecutionTime": "2020-01-01T00:00:00Z"}  # long overdue
    custom.replace_cluster_custom_object_status("policies.kyverno.io", "v1", "deletingpolicies", "stale-pods", policy)
    controllers()
    wait_for(lambda: pods(world) == [], timeout=20, what="every pod deleted by the controller")
    wait_for(lambda: world.get("policies.kyverno.io/v1", "DeletingPolicy", "stale-pods")["status"]
             ["lastExecutionTime"] > "2026", what="the run recorded")


def test_a_cluster_serving_only_v1beta1_policies_is_read_and_written_at_v1beta1(apiserver):
    """An older Kyverno CRD serves DeletingPolicy and PolicyException at v1beta1 only: the scheduler watches,
    reads exceptions and records runs there."""
    from controller.harness import load_crds

    load_crds(apiserver, only={"deletingpolicies": "v1beta1", "policyexceptions.policies": "v1beta1"})
    for ns in (namespace("team", env="test"),):
        apiserver.create(ns)
    for p in (pod("old", "team", stale="true"), pod("kept", "team", stale="true")):
        apiserver.create(p)
    beta = "policies.kyverno.io/v1beta1"
    apiserver.create({**deleting_policy(), "apiVersion": beta})
    apiserver.create({"apiVersion": beta, "kind": "PolicyException", "metadata": {"name": "keep", "namespace": "team"},
                      "spec": {"policyRefs": [{"name": "stale-pods", "kind": "DeletingPolicy"}],
                               "matchConditions": [{"name": "kept", "expression": "object.metadata.name == 'kept'"}]}})
    kube = Kube(api_client(str(apiserver.kubeconfig), False))
    stop = threading.Event()
    clock = Clock()
    sched = DeletionScheduler(kube, Engine(), EventRecorder(kube), Metrics(lambda: 0, lambda: True), stop,
                              watch_seconds=5, now=clock)
    try:
        sched.start(loop=False)
        wait_for(lambda: sched._objects, what="the v1beta1 policy seen")
        clock.value = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1, minutes=1)
        [(key, obj, loaded)] = sched.due()[0]
        assert sched.run(obj, loaded) == 1
        assert pods(apiserver) == ["team/kept"]  # the v1beta1 exception was read
        status = apiserver.get(beta, "DeletingPolicy", "stale-pods")["status"]
        assert status["lastExecutionTime"] == clock.value.strftime("%Y-%m-%dT%H:%M:%SZ")
    finally:
        stop.set()
