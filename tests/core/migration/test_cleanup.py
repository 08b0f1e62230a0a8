"""CleanupPolicy and ClusterCleanupPolicy as DeletingPolicies: the migrated policy would delete what Kyverno's
cleanup controller deletes (match, exclude, conditions over ``target``), and what has no form is left with
its reason."""
from __future__ import annotations

import yaml

from verno.cli.migrate import migrate_paths
from verno.core.engine import Engine
from verno.core.loading import Document
from verno.core.policykinds import KindInputs
from verno.core.request import Request
from verno.core.sources import Sources

ENGINE = Engine()

CLUSTER = {"apiVersion": "kyverno.io/v2", "kind": "ClusterCleanupPolicy", "metadata": {"name": "small-deployments"},
           "spec": {"match": {"any": [{"resources": {"kinds": ["Deployment"],
                                                     "selector": {"matchLabels": {"canremove": "true"}}}}]},
                    "exclude": {"any": [{"resources": {"namespaces": ["kube-*"]}},
                                        {"resources": {"names": ["keep-*"], "namespaces": ["team"]}}]},
                    "conditions": {"any": [{"key": "{{ target.spec.replicas }}", "operator": "LessThan",
                                            "value": 2}]},
                    "schedule": "*/5 * * * *", "deletionPropagationPolicy": "Foreground"}}


def deployment(name: str, namespace: str = "team", replicas: int = 1, **labels: str) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": namespace,
                                                                      "labels": labels},
            "spec": {"replicas": replicas}}


def migrated(tmp_path, *docs: dict):
    (tmp_path / "cleanup.yaml").write_text(yaml.safe_dump_all(docs))
    _, migrations = migrate_paths(ENGINE, [str(tmp_path / "cleanup.yaml")])
    return migrations


def deleted(doc: dict, resource: dict) -> bool:
    kind = ENGINE.policy_kinds.kind_of("policies.kyverno.io", doc["kind"])
    policy = kind.load(Document("migrated", 0, doc), ENGINE)
    out = ENGINE.evaluate_kinds([policy], Request(resource, None, "CREATE"),
                                KindInputs(Sources(), {}, namespaces={"team": {}}, engine=ENGINE))
    return bool(out) and [r.status.value for r in out[0].rules] == ["pass"]


def test_a_cluster_cleanup_policy_deletes_what_kyverno_would(tmp_path):
    [migration] = migrated(tmp_path, CLUSTER)
    assert migration.whole, migration.untranslated
    [doc] = migration.documents
    assert doc["kind"] == "DeletingPolicy" and doc["spec"]["schedule"] == "*/5 * * * *"
    assert doc["spec"]["deletionPropagationPolicy"] == "Foreground"
    assert deleted(doc, deployment("web", canremove="true"))
    assert not deleted(doc, deployment("web", replicas=3, canremove="true"))      # condition
    assert not deleted(doc, deployment("web"))                                    # selector
    assert not deleted(doc, deployment("web", namespace="kube-system", canremove="true"))  # excluded namespace
    assert not deleted(doc, deployment("keep-me", canremove="true"))             # excluded name in team
    assert deleted(doc, deployment("keep-me", namespace="prod", canremove="true"))  # a filter's fields all hold
    assert not deleted(doc, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "team",
                                                                             "labels": {"canremove": "true"}}})


def test_a_namespaced_cleanup_policy_becomes_a_namespaced_deleting_policy(tmp_path):
    policy = {**CLUSTER, "kind": "CleanupPolicy", "metadata": {"name": "small", "namespace": "team"}}
    [migration] = migrated(tmp_path, policy)
    [doc] = migration.documents
    assert doc["kind"] == "NamespacedDeletingPolicy" and doc["metadata"]["namespace"] == "team"


def test_what_has_no_deleting_policy_form_is_left_with_its_reason(tmp_path):
    with_context = {**CLUSTER, "spec": {**CLUSTER["spec"], "context": [{"name": "x", "variable": {"value": 1}}]}}
    subjects = {**CLUSTER, "spec": {**CLUSTER["spec"], "match": {"any": [
        {"resources": {"kinds": ["Deployment"]}, "subjects": [{"kind": "User", "name": "alice"}]}]}}}
    for policy, reason in ((with_context, "context entries"), (subjects, "sees no request")):
        [migration] = migrated(tmp_path, policy)
        [(name, why)] = migration.untranslated
        assert name == "small-deployments" and reason in why, why


def test_a_malformed_cleanup_policy_is_an_error_naming_the_field(tmp_path):
    import pytest

    from verno.core.errors import LoadError

    broken = {**CLUSTER, "spec": {k: v for k, v in CLUSTER["spec"].items() if k != "schedule"}}
    with pytest.raises(LoadError, match="schedule"):
        migrated(tmp_path, broken)
