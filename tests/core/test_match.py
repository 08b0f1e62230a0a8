from __future__ import annotations

from typing import Any

from verno.core.match import RuleMatcher
from verno.core.models.policy import Policy
from verno.core.request import Request


def matcher(match: dict[str, Any], exclude: dict[str, Any] | None = None) -> RuleMatcher:
    rule: dict[str, Any] = {"name": "r", "match": match, "validate": {"pattern": {"metadata": {}}}}
    if exclude is not None:
        rule["exclude"] = exclude
    policy = Policy.model_validate({"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy",
                                    "metadata": {"name": "p"}, "spec": {"rules": [rule]}})
    return RuleMatcher(policy.spec.rules[0], policy)


def pod(name="web", ns="default", labels=None, annotations=None, **kw) -> Request:
    meta: dict[str, Any] = {"name": name, "namespace": ns}
    if labels:
        meta["labels"] = labels
    if annotations:
        meta["annotations"] = annotations
    return Request({"apiVersion": "v1", "kind": "Pod", "metadata": meta}, **kw)


def anyof(*resources):
    return {"any": [{"resources": r} for r in resources]}


def test_kinds_any_all_and_direct():
    m = matcher(anyof({"kinds": ["Service"]}, {"kinds": ["Pod"]}))
    assert m.matches(pod())
    assert m.reason(pod()) is None
    m = matcher({"all": [{"resources": {"kinds": ["Pod"]}}, {"resources": {"namespaces": ["prod"]}}]})
    assert not m.matches(pod())
    assert m.matches(pod(ns="prod"))
    m = matcher({"resources": {"kinds": ["Pod"]}})
    assert m.matches(pod())
    assert not m.matches(Request({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}}))


def test_empty_match_never_matches():
    m = matcher({})
    assert not m.matches(pod())
    assert "match cannot be empty" in m.reason(pod())


def test_operations_checked_first():
    m = matcher(anyof({"kinds": ["Pod"], "operations": ["UPDATE"]}))
    assert not m.matches(pod())
    assert m.reason(pod()).endswith("(operation does not match)")
    assert m.matches(pod(operation="UPDATE"))


def test_names_with_generate_name_and_wildcards():
    m = matcher(anyof({"kinds": ["Pod"], "names": ["web-*", "api"]}))
    assert m.matches(pod("web-1"))
    assert m.matches(pod("api"))
    assert not m.matches(pod("db"))
    gen = Request({"apiVersion": "v1", "kind": "Pod", "metadata": {"generateName": "web-", "namespace": "d"}})
    assert m.matches(gen)
    assert matcher(anyof({"kinds": ["Pod"], "name": "w?b"})).matches(pod("web"))


def test_namespaces_and_namespace_object():
    m = matcher(anyof({"kinds": ["Pod", "Namespace"], "namespaces": ["kube-*"]}))
    assert m.matches(pod(ns="kube-system"))
    assert not m.matches(pod(ns="default"))
    ns = Request({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kube-public"}})
    assert m.matches(ns)


def test_annotations_wildcards():
    m = matcher(anyof({"kinds": ["Pod"], "annotations": {"owner/*": "team-?"}}))
    assert m.matches(pod(annotations={"owner/app": "team-a"}))
    assert not m.matches(pod(annotations={"owner/app": "team-ab"}))
    assert not m.matches(pod())


def test_selector_and_namespace_selector():
    m = matcher(anyof({"kinds": ["Pod"], "selector": {"matchLabels": {"app": "web"}}}))
    assert m.matches(pod(labels={"app": "web"}))
    assert not m.matches(pod(labels={"app": "db"}))
    m = matcher(anyof({"kinds": ["Pod", "Namespace"], "namespaceSelector": {"matchLabels": {"env": "prod"}}}))
    assert m.matches(pod(namespace_labels={"env": "prod"}))
    assert not m.matches(pod(namespace_labels={"env": "dev"}))
    ns = Request({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x", "labels": {"env": "prod"}}},
                 namespace_labels={"env": "prod"})
    assert not m.matches(ns)
    assert "not applicable for namespace resource" in m.reason(ns)


def test_user_criteria_dropped_without_admission_info():
    m = matcher({"any": [{"resources": {"kinds": ["Pod"]}, "clusterRoles": ["cluster-admin"]}]})
    assert m.matches(pod())
    assert not m.matches(pod(user_info={"username": "bob"}))
    assert m.matches(pod(user_info={"username": "bob"}, cluster_roles=["cluster-admin"]))
    # a filter with only user criteria is empty once they are dropped
    only_user = matcher({"any": [{"subjects": [{"kind": "User", "name": "bob"}]}]})
    assert not only_user.matches(pod())
    assert only_user.matches(pod(user_info={"username": "bob"}))


def test_exclude_any_all_and_direct():
    m = matcher(anyof({"kinds": ["Pod"]}), anyof({"namespaces": ["kube-system"]}, {"names": ["skip-*"]}))
    assert m.matches(pod())
    assert not m.matches(pod(ns="kube-system"))
    assert not m.matches(pod("skip-me"))
    assert "excluded" in m.reason(pod("skip-me"))
    m = matcher(anyof({"kinds": ["Pod"]}),
                {"all": [{"resources": {"namespaces": ["kube-system"]}}, {"resources": {"names": ["skip-*"]}}]})
    assert m.matches(pod(ns="kube-system"))
    assert not m.matches(pod("skip-me", ns="kube-system"))
    m = matcher(anyof({"kinds": ["Pod"]}), {"resources": {"selector": {"matchLabels": {"skip": "*"}}}})
    assert not m.matches(pod(labels={"skip": "yes"}))
    assert m.matches(pod())


def test_exclude_keeps_user_criteria():
    m = matcher(anyof({"kinds": ["Pod"]}), {"any": [{"clusterRoles": ["cluster-admin"]}]})
    assert m.matches(pod())  # no admission info: the exclusion cannot hold
    assert not m.matches(pod(user_info={"username": "x"}, cluster_roles=["cluster-admin"]))


def test_empty_exclude_excludes_nothing():
    assert matcher(anyof({"kinds": ["Pod"]}), {}).matches(pod())
    assert matcher(anyof({"kinds": ["Pod"]}), {"any": [{}]}).matches(pod())


def test_subresource_request_kind():
    m = matcher(anyof({"kinds": ["Deployment/scale"]}))
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "n"}}
    assert not m.matches(Request(dep))
    assert m.matches(Request(dep, subresource="scale", request_kind=("apps", "v1", "Deployment")))


def test_doc_example_match_any_exclude_any():
    # kyverno.io docs: match Pods/Deployments, exclude kube-system and the cluster-admin role
    m = matcher({"any": [{"resources": {"kinds": ["Deployment", "Pod"], "names": ["dev-*"]}}]},
                {"any": [{"resources": {"namespaces": ["kube-system"]}}, {"clusterRoles": ["cluster-admin"]}]})
    assert m.matches(pod("dev-1"))
    assert not m.matches(pod("dev-1", ns="kube-system"))
    assert not m.matches(pod("prod-1"))


def test_rules_with_the_same_blocks_share_one_verdict_per_request():
    block = anyof({"kinds": ["Pod"], "namespaces": ["prod"]})
    a, b = matcher(block), matcher(block)
    c = matcher(block, exclude=anyof({"names": ["web"]}))
    assert a.memo_key is b.memo_key
    assert c.memo_key != a.memo_key

    request = pod(ns="prod")
    assert a.matches(request) and b.matches(request)
    assert not c.matches(request)  # its own verdict, not the shared one
    assert request.cache[a.memo_key] is True and request.cache[c.memo_key] is False

    request.cache[a.memo_key] = False  # the memo is what b answers from
    assert not b.matches(request)
    assert a.matches(pod(ns="prod")) and not a.matches(pod(ns="dev"))  # a new request decides afresh
