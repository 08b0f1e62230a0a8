"""Resources read from files: namespace defaulting and per-resource operations from Values."""
from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from verno.cli.main import cli
from verno.core.scope import is_cluster_scoped, with_default_namespace

DATA = Path(__file__).resolve().parents[1] / "data" / "cli" / "values-operation"


def test_namespaced_resources_without_namespace_are_in_default():
    pod = {"kind": "Pod", "metadata": {"name": "p"}}
    assert with_default_namespace(pod)["metadata"]["namespace"] == "default"
    assert "namespace" not in pod["metadata"]  # a copy
    ns = {"kind": "Namespace", "metadata": {"name": "team"}}
    assert with_default_namespace(ns) is ns
    assert is_cluster_scoped("ClusterRole") and is_cluster_scoped("Node") and not is_cluster_scoped("Deployment")


def test_values_operation_and_default_namespace_in_a_suite():
    result = CliRunner().invoke(cli, ["test", str(DATA)])
    assert "Test Summary: 3 tests passed and 0 tests failed" in result.output, result.output
    assert "Excluded" not in result.output


def test_apply_evaluates_namespaceless_pods_against_a_default_namespace_policy():
    result = CliRunner().invoke(cli, ["apply", str(DATA / "policies.yaml"), "-r", str(DATA / "resources.yaml"),
                                      "-f", str(DATA / "values.yaml")])
    assert "policy block-pod-delete -> resource default/Pod/doomed failed:" in result.output
    assert "policy default/team-label -> resource default/Pod/unlabelled failed:" in result.output
    assert result.output.rstrip().endswith("pass: 1, fail: 2, warn: 0, error: 0, skip: 0")
    assert result.exit_code == 1
