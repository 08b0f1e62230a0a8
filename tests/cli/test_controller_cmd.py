"""`verno controller` command line: one of --kubeconfig / --in-cluster, durations checked."""
from __future__ import annotations

from click.testing import CliRunner

from verno.cli.main import cli


def run(*args: str):
    return CliRunner().invoke(cli, ["controller", *args])


def test_needs_exactly_one_cluster_source(tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("{}")
    for args in ((), ("--kubeconfig", str(kubeconfig), "--in-cluster")):
        result = run(*args)
        assert result.exit_code == 2
        assert "give exactly one of --kubeconfig FILE or --in-cluster" in result.output


def test_durations_are_go_durations(tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("{}")
    result = run("--kubeconfig", str(kubeconfig), "--scan-interval", "soon")
    assert result.exit_code == 2 and "--scan-interval" in result.output and "'soon' is not a duration" in result.output
    result = run("--kubeconfig", str(kubeconfig), "--leader-election-retry-period", "-1s")
    assert result.exit_code == 2 and "must be positive" in result.output


def test_an_unreadable_kubeconfig_is_an_error_naming_it(tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("clusters: [")
    result = run("--kubeconfig", str(kubeconfig), "--port", "0")
    assert result.exit_code == 1
    assert f"Error: cannot use kubeconfig {kubeconfig}: " in result.output
    assert "internal error" not in result.output
