"""Kubernetes' RBAC semantics over given objects (what `authorizer` checks answer offline)."""
from __future__ import annotations

import pytest

from verno.core.rbac import RBAC, Attributes, service_account_user

V1 = "rbac.authorization.k8s.io/v1"


def cluster_role(name, *rules, labels=None, aggregate=None):
    role = {"apiVersion": V1, "kind": "ClusterRole", "metadata": {"name": name, "labels": labels or {}},
            "rules": list(rules)}
    if aggregate is not None:
        role["aggregationRule"] = {"clusterRoleSelectors": [{"matchLabels": aggregate}]}
    return role


def role(name, namespace, *rules):
    return {"apiVersion": V1, "kind": "Role", "metadata": {"name": name, "namespace": namespace}, "rules": list(rules)}


def binding(kind, name, role_kind, role_name, *subjects, namespace=None):
    meta = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {"apiVersion": V1, "kind": kind, "metadata": meta, "roleRef": {"apiGroup": "rbac.authorization.k8s.io",
            "kind": role_kind, "name": role_name}, "subjects": list(subjects)}


def rule(verbs, resources=(), groups=("",), names=(), urls=()):
    r = {"verbs": list(verbs)}
    if urls:
        r["nonResourceURLs"] = list(urls)
    else:
        r.update(apiGroups=list(groups), resources=list(resources))
        if names:
            r["resourceNames"] = list(names)
    return r


USER = {"kind": "User", "name": "alice", "apiGroup": "rbac.authorization.k8s.io"}
DEV = {"kind": "Group", "name": "dev", "apiGroup": "rbac.authorization.k8s.io"}


def ask(rbac, verb, resource, namespace="", *, user="alice", groups=(), group="", sub="", name="", path=""):
    return rbac.authorize(Attributes(user, tuple(groups), verb, group, resource, sub, namespace, name, path))


def test_a_rolebinding_grants_only_in_its_namespace_and_a_clusterrolebinding_everywhere():
    rbac = RBAC([cluster_role("reader", rule(["get", "list"], ["pods"])),
                 binding("RoleBinding", "read-team", "ClusterRole", "reader", USER, namespace="team"),
                 cluster_role("node-reader", rule(["get"], ["nodes"])),
                 binding("ClusterRoleBinding", "nodes", "ClusterRole", "node-reader", DEV)])
    allowed = ask(rbac, "get", "pods", "team")
    assert allowed.allowed and allowed.reason == ('RBAC: allowed by RoleBinding "read-team/team" of ClusterRole '
                                                  '"reader" to User "alice"')
    assert not ask(rbac, "get", "pods", "other").allowed
    assert not ask(rbac, "get", "pods").allowed  # cluster scope: a RoleBinding grants nothing there
    assert not ask(rbac, "delete", "pods", "team").allowed
    assert ask(rbac, "get", "nodes", groups=["dev"]).reason == ('RBAC: allowed by ClusterRoleBinding "nodes" of '
                                                                'ClusterRole "node-reader" to Group "dev"')
    assert ask(rbac, "get", "nodes", "any", groups=["dev"]).allowed
    assert not ask(rbac, "get", "nodes", groups=["ops"]).allowed
    denied = ask(rbac, "get", "nodes")
    assert (denied.allowed, denied.reason, denied.error) == (False, "", "")


def test_roles_are_read_from_the_bindings_namespace():
    rbac = RBAC([role("edit", "team", rule(["update"], ["configmaps"])),
                 role("edit", "other", rule(["*"], ["*"], groups=["*"])),
                 binding("RoleBinding", "edit", "Role", "edit", USER, namespace="team")])
    assert ask(rbac, "update", "configmaps", "team").allowed
    assert not ask(rbac, "delete", "configmaps", "team").allowed


def test_service_account_subjects_match_their_user_name():
    user, groups = service_account_user("ci", "deployer")
    assert user == "system:serviceaccount:ci:deployer" and "system:serviceaccounts:ci" in groups
    rbac = RBAC([cluster_role("deploy", rule(["create"], ["deployments"], groups=["apps"])),
                 binding("RoleBinding", "ci", "ClusterRole", "deploy", {"kind": "ServiceAccount", "name": "deployer"},
                         namespace="ci")])
    decision = ask(rbac, "create", "deployments", "ci", user=user, group="apps")
    assert decision.allowed and decision.reason.endswith('to ServiceAccount "deployer/ci"')
    assert not ask(rbac, "create", "deployments", "ci", user="system:serviceaccount:other:deployer",
                   group="apps").allowed


@pytest.mark.parametrize("resources,sub,expected", [
    (["pods"], "", True), (["pods"], "log", False), (["pods/log"], "log", True), (["*/log"], "log", True),
    (["*"], "exec", True), (["pods/exec"], "log", False), (["services"], "", False)])
def test_resources_and_subresources(resources, sub, expected):
    rbac = RBAC([cluster_role("r", rule(["get"], resources)),
                 binding("ClusterRoleBinding", "b", "ClusterRole", "r", USER)])
    assert ask(rbac, "get", "pods", "team", sub=sub).allowed is expected


def test_verbs_groups_and_resource_names():
    rbac = RBAC([cluster_role("r", rule(["*"], ["deployments"], groups=["apps"], names=["web"])),
                 binding("ClusterRoleBinding", "b", "ClusterRole", "r", USER)])
    assert ask(rbac, "patch", "deployments", "x", group="apps", name="web").allowed
    assert not ask(rbac, "patch", "deployments", "x", group="apps", name="db").allowed
    assert not ask(rbac, "list", "deployments", "x", group="apps").allowed  # a list names no object
    assert not ask(rbac, "patch", "deployments", "x", group="extensions", name="web").allowed


def test_non_resource_urls_are_granted_by_cluster_bindings_only():
    rbac = RBAC([cluster_role("health", rule(["get"], urls=["/healthz", "/api/*"])),
                 binding("ClusterRoleBinding", "h", "ClusterRole", "health", USER),
                 binding("RoleBinding", "h", "ClusterRole", "health", {"kind": "User", "name": "bob"},
                         namespace="team")])
    assert ask(rbac, "get", "", path="/healthz").allowed
    assert ask(rbac, "get", "", path="/api/v1/pods").allowed
    assert not ask(rbac, "post", "", path="/healthz").allowed
    assert not ask(rbac, "get", "", path="/metrics").allowed
    assert not ask(rbac, "get", "", user="bob", path="/healthz").allowed


def test_an_aggregated_cluster_role_holds_the_rules_of_the_roles_it_selects():
    rbac = RBAC([cluster_role("monitoring", aggregate={"rbac.example.com/aggregate-to-monitoring": "true"}),
                 cluster_role("pods", rule(["list"], ["pods"]),
                              labels={"rbac.example.com/aggregate-to-monitoring": "true"}),
                 cluster_role("secrets", rule(["list"], ["secrets"])),
                 binding("ClusterRoleBinding", "m", "ClusterRole", "monitoring", USER)])
    assert ask(rbac, "list", "pods", "x").allowed
    assert not ask(rbac, "list", "secrets", "x").allowed


def test_objects_other_than_rbac_are_ignored_and_an_empty_set_grants_nothing():
    rbac = RBAC([{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}])
    assert rbac.empty and not ask(rbac, "get", "pods", "x").allowed
