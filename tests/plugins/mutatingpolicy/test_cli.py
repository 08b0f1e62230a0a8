"""``verno apply`` shows what a MutatingPolicy patched; ``verno test`` compares it with patchedResources."""
from __future__ import annotations

from importlib.metadata import entry_points

import pytest
from click.testing import CliRunner

from verno.cli.main import cli

pytestmark = pytest.mark.skipif(not any(ep.name == "mutatingpolicy" for ep in entry_points(group="verno")),
                                reason="the mutatingpolicy entry point is not installed")

POLICY = """apiVersion: policies.kyverno.io/v1
kind: MutatingPolicy
metadata: {name: add-team}
spec:
  matchConstraints:
    resourceRules: [{apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [configmaps]}]
  mutations:
  - patchType: ApplyConfiguration
    applyConfiguration:
      expression: "Object{metadata: Object.metadata{labels: {'team': 'x'}}}"
"""
CM = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: default}\ndata: {a: b}\n"
TEST = """apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata: {name: t}
policies: [policy.yaml]
resources: [cm.yaml]
results:
- {policy: add-team, isMutatingPolicy: true, kind: ConfigMap, resources: [c], result: pass,
   patchedResources: patched.yaml}
"""


def suite(tmp_path, team):
    (tmp_path / "policy.yaml").write_text(POLICY)
    (tmp_path / "cm.yaml").write_text(CM)
    (tmp_path / "kyverno-test.yaml").write_text(TEST)
    (tmp_path / "patched.yaml").write_text(CM.replace("{name: c,", "{labels: {team: " + team + "}, name: c,"))
    return tmp_path


def test_apply_prints_the_mutated_resource(tmp_path):
    suite(tmp_path, "x")
    result = CliRunner().invoke(cli, ["apply", str(tmp_path / "policy.yaml"), "-r", str(tmp_path / "cm.yaml")])
    assert result.exit_code == 0, result.output
    assert "policy add-team applied to default/ConfigMap/c:" in result.output
    assert "team: x" in result.output and "Mutation has been applied successfully." in result.output


@pytest.mark.parametrize("team, passed, failed", [("x", 1, 0), ("other", 0, 1)])
def test_test_compares_patched_resources(tmp_path, team, passed, failed):
    result = CliRunner().invoke(cli, ["test", str(suite(tmp_path, team)), "--detailed-results"])
    assert f"Test Summary: {passed} tests passed and {failed} tests failed" in result.output, result.output
    if failed:
        assert "Resource diff" in result.output
