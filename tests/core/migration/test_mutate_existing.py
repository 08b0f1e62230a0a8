"""mutateExisting rules (``mutate.targets``): their MutatingPolicies (``targetMatchConstraints`` and
``targetMatchConditions``) patch the same targets as the originals, target by target (``--check``'s
comparison with target resources)."""
from __future__ import annotations

import pytest
import yaml

from verno.cli.migrate import migrate_paths
from verno.cli.migrate_check import check
from verno.core.engine import Engine

ENGINE = Engine()


def _policy(rule, kind="ClusterPolicy"):
    meta = {"name": "p", **({"namespace": "staging"} if kind == "Policy" else {})}
    return {"apiVersion": "kyverno.io/v1", "kind": kind, "metadata": meta,
            "spec": {"rules": [{"name": "r", "match": {"any": [{"resources": {"kinds": ["ConfigMap"]}}]}, **rule}]}}


def _secret(name, namespace, labels=None, **data):
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": namespace,
                                                               "labels": labels or {}}, **data}


TRIGGERS = [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": n, "namespace": "staging"},
             "data": {"k": "v"}} for n in ("dictionary-1", "other")]
TARGETS = [_secret("secret-1", "staging", {"app": "a"}), _secret("secret-1", "prod"), _secret("secret-2", "staging"),
           _secret("other-secret", "staging", {"app": "b"}, type="Opaque"),
           {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "secret-1", "namespace": "staging"}}]


def _run(tmp_path, rule, kind="ClusterPolicy"):
    (tmp_path / "policy.yaml").write_text(yaml.safe_dump(_policy(rule, kind)))
    (tmp_path / "triggers.yaml").write_text(yaml.safe_dump_all(TRIGGERS))
    (tmp_path / "targets.yaml").write_text(yaml.safe_dump_all(TARGETS))
    policy_set, migrations = migrate_paths(ENGINE, [str(tmp_path / "policy.yaml")])
    [migration] = migrations
    return migration, check(ENGINE, policy_set, migrations, [str(tmp_path / "triggers.yaml")],
                            [str(tmp_path / "targets.yaml")])


LABEL = {"patchStrategicMerge": {"metadata": {"labels": {"foo": "bar"}}}}


def _existing(target, patch=None, **rule):
    return {"mutate": {"targets": [target], **(patch or LABEL)}, **rule}


RULES = {
    "name-and-namespace": _existing({"apiVersion": "v1", "kind": "Secret", "name": "secret-1", "namespace": "staging"}),
    "name-in-any-namespace": _existing({"apiVersion": "v1", "kind": "Secret", "name": "secret-1"}),
    "wildcard-name": _existing({"apiVersion": "v1", "kind": "Secret", "name": "*secret*", "namespace": "st*"}),
    "selector": _existing({"apiVersion": "v1", "kind": "Secret", "selector": {"matchLabels": {"app": "b"}}}),
    "target-preconditions": _existing(
        {"apiVersion": "v1", "kind": "Secret",
         "preconditions": {"all": [{"key": "{{ target.type || '' }}", "operator": "Equals", "value": "Opaque"}]}}),
    "json-patch-reading-the-target": _existing(
        {"apiVersion": "v1", "kind": "Secret", "namespace": "staging"},
        {"patchesJson6902": yaml.safe_dump([{"op": "add", "path": "/metadata/annotations",
                                             "value": {"copied-from": "{{ target.metadata.name }}"}}])}),
    "trigger-preconditions": _existing(
        {"apiVersion": "v1", "kind": "Secret", "name": "secret-2"},
        preconditions={"all": [{"key": "{{ request.object.metadata.name }}", "operator": "Equals",
                                "value": "dictionary-1"}]}),
}


@pytest.mark.parametrize("name", RULES)
def test_the_migration_patches_the_same_targets(tmp_path, name):
    migration, (count, comparisons, differences) = _run(tmp_path, RULES[name])
    assert migration.whole, migration.untranslated
    assert comparisons == len(TRIGGERS) and not differences, differences


def test_a_namespaced_policy_reaches_only_its_namespace(tmp_path):
    migration, (_, _, differences) = _run(tmp_path, RULES["name-in-any-namespace"], "Policy")
    assert migration.whole and not differences, differences
    [doc] = migration.documents
    assert {"name": "target-namespace", "expression": 'object.metadata[?"namespace"].orValue("") == "staging"'} in \
        doc["spec"]["targetMatchConditions"]
    assert doc["spec"]["evaluation"]["mutateExisting"] == {"enabled": True}


@pytest.mark.parametrize("rule, words", [
    ({"mutate": {"targets": [{"apiVersion": "v1", "kind": "Secret"}, {"apiVersion": "v1", "kind": "ConfigMap"}],
                 **LABEL}}, "several mutateExisting targets"),
    (_existing({"apiVersion": "v1", "kind": "Secret", "namespace": "{{ request.object.metadata.namespace }}"}),
     "variables in a mutateExisting target"),
    (_existing({"apiVersion": "v1", "kind": "Secret"},
               {"patchStrategicMerge": {"metadata": {"labels": {"from": "{{ request.object.metadata.name }}"}}}}),
     "see only the target"),
    (_existing({"apiVersion": "v1", "kind": "Secret", "context": [{"name": "x", "variable": {"value": 1}}]}),
     "context entries"),
    (_existing({"apiVersion": "v1", "kind": "Secret",
                "preconditions": {"all": [{"key": "{{ target.type }}", "operator": "Equals", "value": "Opaque"}]}}),
     "may be missing"),
])
def test_what_cannot_be_kept_exactly_is_left_with_the_reason(tmp_path, rule, words):
    migration, _ = _run(tmp_path, rule)
    assert not migration.whole and words in migration.untranslated[0][1], migration.untranslated


def test_check_compares_the_patched_targets(tmp_path):
    """A migration that patched another target than the original would be listed (the check can fail)."""
    from verno.cli import migrate_check

    migration, _ = _run(tmp_path, RULES["name-and-namespace"])
    migration.documents[0]["spec"]["targetMatchConditions"] = []
    policy_set, _ = migrate_paths(ENGINE, [str(tmp_path / "policy.yaml")])
    _, _, differences = migrate_check.check(ENGINE, policy_set, [migration], [str(tmp_path / "triggers.yaml")],
                                            [str(tmp_path / "targets.yaml")])
    assert differences and differences[0].original.startswith("pass (1 generated)")
