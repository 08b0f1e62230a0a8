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


# -- clone reads its source from exactly clone.namespace/clone.name ----------------------------------
# Two Secrets share the name ``regcred`` in different namespaces and hold different data: the clone
# must copy the one in the namespace it names, whichever comes first among the sources.

def _secret(namespace: str, value: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "data": {"p": value},
            "metadata": {"name": "regcred", "namespace": namespace}}


IN_DEFAULT, IN_OTHER = _secret("default", "ZGVmYXVsdA=="), _secret("other", "b3RoZXI=")


@pytest.mark.parametrize("order", ["named-first", "named-last"])
@pytest.mark.parametrize("source_ns,expected", [("default", IN_DEFAULT), ("other", IN_OTHER)])
def test_clone_copies_from_the_named_namespace_only(engine: Engine, order: str, source_ns: str,
                                                    expected: dict[str, Any]) -> None:
    decoy = IN_OTHER if expected is IN_DEFAULT else IN_DEFAULT
    pool = [expected, decoy] if order == "named-first" else [decoy, expected]
    gen = {**CLONE, "clone": {"namespace": source_ns, "name": "regcred"}}
    for sources in (Sources(cluster_resources=pool), Sources(clone_sources={"gen/make": pool})):
        rule = run(engine, gen, sources=sources)
        assert rule.status == Status.PASS, rule.message
        [obj] = rule.generated_resources
        assert obj["data"] == expected["data"]
        assert obj["metadata"]["namespace"] == "team-a" and obj["metadata"]["name"] == "regcred"


def test_clone_namespace_from_a_variable(engine: Engine) -> None:
    trigger = {**NAMESPACE, "metadata": {"name": "team-a", "labels": {"copy-from": "other"}}}
    gen = {**CLONE, "clone": {"namespace": "{{request.object.metadata.labels.\"copy-from\"}}", "name": "regcred"}}
    rule = run(engine, gen, trigger, Sources(cluster_resources=[IN_DEFAULT, IN_OTHER]))
    [obj] = rule.generated_resources
    assert obj["data"] == IN_OTHER["data"]


def test_clone_source_of_that_name_elsewhere_is_not_found(engine: Engine) -> None:
    gen = {**CLONE, "clone": {"namespace": "missing", "name": "regcred"}}
    rule = run(engine, gen, sources=Sources(cluster_resources=[IN_DEFAULT, IN_OTHER]))
    assert rule.generated_resources == []
    assert "source resource v1/Secret/missing/regcred not found" in rule.message


def test_clone_list_copies_from_the_named_namespace_only(engine: Engine) -> None:
    gen = {"namespace": "{{request.object.metadata.name}}",
           "cloneList": {"namespace": "other", "kinds": ["v1/Secret"]}}
    for pool in ([IN_DEFAULT, IN_OTHER], [IN_OTHER, IN_DEFAULT]):
        rule = run(engine, gen, sources=Sources(cluster_resources=pool))
        [obj] = rule.generated_resources
        assert obj["data"] == IN_OTHER["data"] and obj["metadata"]["namespace"] == "team-a"


CLONE_POLICY = """\
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: copy-regcred}
spec:
  rules:
  - name: copy
    match: {any: [{resources: {kinds: [Namespace]}}]}
    generate:
      apiVersion: v1
      kind: Secret
      name: regcred
      namespace: "{{request.object.metadata.name}}"
      clone: {namespace: other, name: regcred}
"""


@pytest.mark.parametrize("decoy_first", [True, False])
@pytest.mark.parametrize("expected,verdict", [(IN_OTHER, ("Pass", "Ok")), (IN_DEFAULT, ("Fail", "Resource diff"))])
def test_verno_test_clone_source_from_the_named_namespace(tmp_path, expected: dict[str, Any],
                                                           verdict: tuple[str, str], decoy_first: bool) -> None:
    import yaml
    from click.testing import CliRunner

    from verno.cli.main import cli

    (tmp_path / "policy.yaml").write_text(CLONE_POLICY)
    (tmp_path / "namespace.yaml").write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "Namespace",
                                                             "metadata": {"name": "team-a"}}))
    # the decoy (same name, in ``default``) before or after the source in ``other``
    docs = [IN_DEFAULT, IN_OTHER] if decoy_first else [IN_OTHER, IN_DEFAULT]
    (tmp_path / "sources.yaml").write_text(yaml.safe_dump_all(docs))
    generated = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "data": expected["data"],
                 "metadata": {"name": "regcred", "namespace": "team-a"}}
    (tmp_path / "generated.yaml").write_text(yaml.safe_dump(generated))
    (tmp_path / "kyverno-test.yaml").write_text(yaml.safe_dump({
        "apiVersion": "cli.kyverno.io/v1alpha1", "kind": "Test", "metadata": {"name": "clone"},
        "policies": ["policy.yaml"], "resources": ["namespace.yaml"],
        "results": [{"policy": "copy-regcred", "rule": "copy", "kind": "Namespace", "resources": ["team-a"],
                     "result": "pass", "cloneSourceResource": "sources.yaml",
                     "generatedResource": "generated.yaml"}]}))
    r = CliRunner().invoke(cli, ["test", str(tmp_path)], catch_exceptions=False)
    row = next(c for c in ([x.strip() for x in line.split("│")[1:-1]] for line in r.output.splitlines())
               if c and c[0] == "1")
    assert tuple(row[4:6]) == verdict, r.output
    assert r.exit_code == (0 if verdict[0] == "Pass" else 1)
