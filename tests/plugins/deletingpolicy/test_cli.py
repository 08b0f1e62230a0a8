"""`verno test` with DeletingPolicies: `isDeletingPolicy` results, a JSON payload, and the opposite
expectation failing."""
from __future__ import annotations

import json

import yaml
from click.testing import CliRunner

from verno.cli.main import cli

POLICIES = [
    {"apiVersion": "policies.kyverno.io/v1beta1", "kind": "DeletingPolicy", "metadata": {"name": "old-builds"},
     "spec": {"schedule": "@daily",
              "matchConstraints": {"resourceRules": [{"apiGroups": ["batch"], "apiVersions": ["v1"],
                                                      "resources": ["jobs"]}]},
              "conditions": [{"name": "finished", "expression": "has(object.status.completionTime)"}]}},
    {"apiVersion": "policies.kyverno.io/v1beta1", "kind": "DeletingPolicy", "metadata": {"name": "dockerfile-args"},
     "spec": {"schedule": "*/5 * * * *",
              "conditions": [{"name": "k", "expression": "object.MetaArgs[0].Key == 'BUILD_PLATFORM'"}]}},
]


def job(name, finished):
    status = {"completionTime": "2026-01-01T00:00:00Z"} if finished else {}
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name, "namespace": "ci"},
            "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "x"}]}}}, "status": status}


def suite(tmp_path, results):
    (tmp_path / "policies.yaml").write_text(yaml.safe_dump_all(POLICIES))
    (tmp_path / "jobs.yaml").write_text(yaml.safe_dump_all([job("done", True), job("running", False)]))
    (tmp_path / "payload.json").write_text(json.dumps({"MetaArgs": [{"Key": "BUILD_PLATFORM"}]}))
    (tmp_path / "kyverno-test.yaml").write_text(yaml.safe_dump({
        "apiVersion": "cli.kyverno.io/v1alpha1", "kind": "Test", "metadata": {"name": "dpol"},
        "policies": ["policies.yaml"], "resources": ["jobs.yaml"], "jsonPayloads": ["payload.json"],
        "results": results}))
    return tmp_path


def row(policy, result, *resources):
    out = {"policy": policy, "isDeletingPolicy": True, "result": result}
    if resources:
        out.update(kind="Job", resources=list(resources))
    return out


def test_deleting_policies_in_a_test(tmp_path):
    results = [row("old-builds", "pass", "ci/done"), row("old-builds", "fail", "running"),
               row("dockerfile-args", "pass", "payload.json")]
    r = CliRunner().invoke(cli, ["test", str(suite(tmp_path, results))], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert "Test Summary: 3 tests passed and 0 tests failed" in r.stdout


def test_the_opposite_expectations_fail(tmp_path):
    results = [row("old-builds", "fail", "ci/done"), row("old-builds", "pass", "running")]
    r = CliRunner().invoke(cli, ["test", str(suite(tmp_path, results))], catch_exceptions=False)
    assert r.exit_code == 1
    assert "Test Summary: 0 tests passed and 2 tests failed" in r.stdout
