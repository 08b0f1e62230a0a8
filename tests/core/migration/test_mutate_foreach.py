"""mutate.foreach rules with patchesJson6902: their MutatingPolicies patch as the originals do, resource by
resource (``--check``'s comparison of verdicts and patched objects): missing parents created as Kyverno's
EnsurePathExistsOnAdd creates them, null elements and unmet preconditions passed over, each entry seeing the
object the entries before it patched."""
from __future__ import annotations

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from verno.cli.migrate import migrate_paths
from verno.cli.migrate_check import check
from verno.core.engine import Engine

ENGINE = Engine()


def _policy(rule):
    return {"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy", "metadata": {"name": "p"},
            "spec": {"rules": [{"name": "r", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]}, **rule}]}}


def _pod(name, containers=None, **spec):
    body = {"containers": [{"name": "app", "image": "nginx"}] if containers is None else containers, **spec}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"}, "spec": body}


def _run(tmp_path, rule, resources):
    (tmp_path / "policy.yaml").write_text(yaml.safe_dump(_policy(rule)))
    (tmp_path / "resources.yaml").write_text(yaml.safe_dump_all(resources))
    policy_set, migrations = migrate_paths(ENGINE, [str(tmp_path / "policy.yaml")])
    [migration] = migrations
    return migration, check(ENGINE, policy_set, migrations, [str(tmp_path / "resources.yaml")])


def _entry(patch, list_="request.object.spec.containers", **more):
    return {"list": list_, "patchesJson6902": yaml.safe_dump(patch), **more}


RULES = {
    "add-below-each-element": {"mutate": {"foreach": [
        _entry([{"op": "add", "path": "/spec/containers/{{elementIndex}}/securityContext",
                 "value": {"runAsNonRoot": True}}])]}},
    "missing-parents-are-created": {"mutate": {"foreach": [
        _entry([{"op": "add", "path": "/spec/containers/{{ elementIndex }}/resources/requests/memory",
                 "value": "100Mi"}]),
        _entry([{"op": "add", "path": "/spec/containers/{{elementIndex}}/resources/requests/cpu", "value": "100m"}])]}},
    "two-operations-per-element": {"mutate": {"foreach": [
        _entry([{"op": "add", "path": "/spec/containers/{{elementIndex}}/a/b", "value": 1},
                {"op": "add", "path": "/spec/containers/{{elementIndex}}/c", "value": [1, 2]}])]}},
    "preconditions": {"mutate": {"foreach": [
        _entry([{"op": "add", "path": "/spec/containers/{{elementIndex}}/metadata/serverAddress", "value": "http://x/"}],
               preconditions={"all": [{"key": "{{ element.name || '' }}", "operator": "Equals", "value": "app"}]})]}},
    "replace": {"mutate": {"foreach": [
        _entry([{"op": "replace", "path": "/spec/containers/{{elementIndex}}/image", "value": "ghcr.io/x"}])]}},
    "a-map-list": {"mutate": {"foreach": [
        _entry([{"op": "add", "path": "/spec/extra/{{elementIndex}}/k", "value": "v"}], "request.object.spec.extra")]}},
}

RESOURCES = [
    _pod("plain"),
    _pod("empty", []),
    _pod("two", [{"name": "app", "image": "a", "resources": {"limits": {"cpu": "1"}}},
                 {"name": "b", "image": "b", "resources": {"requests": {"memory": "1Gi"}}}]),
    _pod("nulls", [None, {"name": "app", "image": "x", "securityContext": {"privileged": True}}]),
    _pod("strings", ["just-a-string"]),
    _pod("null-resources", [{"name": "app", "image": "x", "resources": None, "metadata": {"a": 1}}]),
    _pod("map-extra", extra={"0": {"k": "old"}}),
    _pod("map-extra-missing", extra={"x": 1}),
    _pod("list-extra", extra=[{"q": 1}, None, {}]),
    {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "no-spec"}},
]


@pytest.mark.parametrize("name", RULES)
def test_the_migration_patches_as_the_original(tmp_path, name):
    migration, (count, comparisons, differences) = _run(tmp_path, RULES[name], RESOURCES)
    assert migration.whole, migration.untranslated
    assert comparisons == len(RESOURCES) and not differences, differences


@pytest.mark.parametrize("entry, words", [
    (_entry([{"op": "add", "path": "/spec/containers/{{elementIndex}}/a", "value": "{{ element.name }}"}]),
     "variable in a foreach JSON patch value"),
    (_entry([{"op": "add", "path": "/spec/initContainers/{{elementIndex}}/a", "value": 1}]), "only paths below"),
    (_entry([{"op": "remove", "path": "/spec/containers/{{elementIndex}}/a"}]), "only add and replace"),
    (_entry([{"op": "add", "path": "/spec/containers/{{elementIndex}}/a/b", "value": 1},
             {"op": "add", "path": "/spec/containers/{{elementIndex}}/a/c", "value": 1}]), "earlier operation"),
    (_entry([{"op": "add", "path": "/spec/containers/{{elementIndex}}/ports/0", "value": 1}]), "list indexes"),
    (_entry([{"op": "add", "path": "/spec/containers/{{elementIndex}}/a", "value": 1}],
            "request.object.spec.containers[].image"), "plain field path"),
    ({"list": "request.object.spec.containers", "patchStrategicMerge": {"metadata": {"labels": {"a": "b"}}}},
     "patchStrategicMerge per foreach element"),
    (_entry([{"op": "add", "path": "/spec/containers/{{elementIndex}}/a", "value": 1}],
            preconditions={"all": [{"key": "{{ element.name }}", "operator": "Equals", "value": "app"}]}), "missing"),
])
def test_what_cannot_be_kept_exactly_is_left_with_the_reason(tmp_path, entry, words):
    migration, _ = _run(tmp_path, {"mutate": {"foreach": [entry]}}, RESOURCES[:1])
    assert not migration.whole and words in migration.untranslated[0][1], migration.untranslated


_leaf = st.one_of(st.none(), st.integers(0, 2), st.sampled_from(["s", ""]))
_tree = st.recursive(_leaf, lambda inner: st.dictionaries(st.sampled_from(["resources", "requests", "a", "b"]),
                                                          inner, max_size=2), max_leaves=4)


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(containers=st.one_of(st.lists(_tree, max_size=3), _tree))
def test_any_container_list_is_patched_alike(tmp_path_factory, containers):
    tmp = tmp_path_factory.mktemp("mutate-foreach")
    for name in ("missing-parents-are-created", "two-operations-per-element"):
        _, (_, _, differences) = _run(tmp, RULES[name], [_pod("x", containers)])
        assert not differences, (name, differences)
