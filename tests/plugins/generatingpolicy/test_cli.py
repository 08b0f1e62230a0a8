"""`verno test` with GeneratingPolicies: generated resources compared with `generatedResource`, a pass that
generated nothing compared by its status, and the opposite expectations failing."""
from __future__ import annotations

import yaml
from click.testing import CliRunner

from verno.cli.main import cli

POLICIES = [
    {"apiVersion": "policies.kyverno.io/v1", "kind": "GeneratingPolicy", "metadata": {"name": "quota"},
     "spec": {"matchConstraints": {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"],
                                                      "resources": ["namespaces"], "operations": ["CREATE"]}]},
              "generate": [{"expression": (
                  "generator.Apply(object.metadata.name, object.metadata.?labels.?quota.orValue('') == '' ? [] : "
                  "[{'apiVersion': 'v1', 'kind': 'ResourceQuota', 'metadata': {'name': 'default'}, "
                  "'spec': {'hard': {'pods': object.metadata.labels.quota}}}])")}]}},
]


def namespace(name, **labels):
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def suite(tmp_path, results, pods="10"):
    (tmp_path / "policies.yaml").write_text(yaml.safe_dump_all(POLICIES))
    (tmp_path / "namespaces.yaml").write_text(yaml.safe_dump_all([namespace("team", quota="10"), namespace("free")]))
    (tmp_path / "quota.yaml").write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "default", "namespace": "team"},
        "spec": {"hard": {"pods": pods}}}))
    (tmp_path / "kyverno-test.yaml").write_text(yaml.safe_dump({
        "apiVersion": "cli.kyverno.io/v1alpha1", "kind": "Test", "metadata": {"name": "gpol"},
        "policies": ["policies.yaml"], "resources": ["namespaces.yaml"], "results": results}))
    return tmp_path


def row(resource, result, generated=None):
    out = {"policy": "quota", "isGeneratingPolicy": True, "kind": "Namespace", "resources": [resource],
           "result": result}
    if generated:
        out["generatedResource"] = generated
    return out


def run(path):
    return CliRunner().invoke(cli, ["test", str(path)], catch_exceptions=False)


def test_generated_resources_and_an_empty_pass(tmp_path):
    r = run(suite(tmp_path, [row("team", "pass", "quota.yaml"), row("free", "pass")]))
    assert r.exit_code == 0, r.output
    assert "Test Summary: 2 tests passed and 0 tests failed" in r.stdout


def test_a_different_generated_resource_and_a_wrong_status_fail(tmp_path):
    r = run(suite(tmp_path, [row("team", "pass", "quota.yaml"), row("free", "fail")], pods="20"))
    assert r.exit_code == 1
    assert "Test Summary: 0 tests passed and 2 tests failed" in r.stdout
