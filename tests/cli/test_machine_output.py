"""Machine-readable output holds nothing else on stdout: ``verno test -o FORMAT``, ``verno apply -p``, and the
formats plugins register for either command (loaded from a real entry point)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_test_json_yaml_junit_parse_from_stdout_alone(run, data):
    r = run("test", data / "suite-fail", "-o", "json")
    assert json.loads(r.stdout)["summary"] == {"passed": 1, "failed": 1, "errors": 0}
    r = run("test", data / "suite", "-o", "yaml")
    assert yaml.safe_load(r.stdout)["summary"]["passed"] == 5
    r = run("test", data / "suite-fail", "-o", "junit")
    root = ET.fromstring(r.stdout)
    assert root.tag == "testsuites" and root.get("failures") == "1"
    assert "Loading test" in r.stderr and "Test Summary" in r.stderr


def test_test_markdown_is_the_table_alone_on_stdout(run, data):
    r = run("test", data / "suite-fail", "-o", "markdown")
    assert r.exit_code == 1
    lines = [ln for ln in r.stdout.splitlines() if ln]
    assert lines[0].startswith("| ID | POLICY |") and lines[-1].startswith("**Test Summary:** 1 tests passed")
    assert all(ln.startswith("|") for ln in lines[:-1]), r.stdout
    assert "Loading test" in r.stderr and "Loading test" not in r.stdout


def test_test_with_no_suites_still_prints_a_parsable_document(run, tmp_path):
    r = run("test", tmp_path, "-o", "json")
    assert r.exit_code == 0
    assert json.loads(r.stdout) == {"summary": {"passed": 0, "failed": 0, "errors": 0}, "results": []}
    assert "No test yamls available" in r.stderr


def test_apply_policy_report_json_and_yaml_parse_from_stdout(run, data):
    r = run("apply", data / "policies", "-r", data / "resources", "-p", "--output-format", "json")
    reports = json.loads(r.stdout)
    assert isinstance(reports, list) and len(reports) > 1  # several namespaces: one JSON array
    assert all(rep["apiVersion"] == "wgpolicyk8s.io/v1alpha2" for rep in reports)
    r = run("apply", data / "policies", "-r", data / "resources", "-p")
    docs = list(yaml.safe_load_all(r.stdout))
    assert [d["kind"] for d in docs] == [rep["kind"] for rep in reports]


def test_apply_rejects_an_unknown_output_format(run, data):
    r = run("apply", data / "policies", "-r", data / "resources", "-p", "--output-format", "xml")
    assert r.exit_code == 2
    assert "unknown format 'xml'; available: json, sarif, yaml" in r.stderr


PLUGIN = '''
from verno.core.hookspecs import hookimpl


def apply_lines(report):
    return "\\n".join(f"{r['policy']}/{r['rule']}={r['result']}" for r in report["results"])


def test_counts(rows, summary):
    return f"passed={summary['passed']} failed={summary['failed']} rows={len(rows)}"


def broken(report):
    raise ValueError("boom")


@hookimpl
def verno_register_output_formats(register):
    register("lines", apply_lines, command="apply")
    register("broken", broken, command="apply")
    register("counts", test_counts, command="test")
'''


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding a plugin module and its distribution metadata (an entry point in group verno)."""
    path = tmp_path_factory.mktemp("format-plugin")
    (path / "verno_format_probe.py").write_text(PLUGIN)
    info = path / "verno_format_probe-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: verno-format-probe\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[verno]\nformat-probe = verno_format_probe\n")
    return path


def _verno(plugin_path: Path, *args: object) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("VERNO_DISABLE_PLUGINS", "VERNO_DEBUG")}
    env["PYTHONPATH"] = os.pathsep.join([str(plugin_path), str(ROOT / "src")])
    return subprocess.run([sys.executable, "-m", "verno", *map(str, args)], capture_output=True, text=True,
                          timeout=120, env=env, cwd=ROOT)


def test_apply_accepts_a_plugin_registered_format(plugin_path, data):
    p = _verno(plugin_path, "apply", data / "policies/require-team-label.yaml", "-r",
               data / "resources/pods.yaml", "-p", "--output-format", "lines")
    assert p.returncode == 1, p.stderr
    assert sorted(p.stdout.splitlines()) == sorted(
        ["require-team-label/check-team=pass", "require-team-label/check-team=fail"]), p.stdout + p.stderr


def test_a_failing_plugin_format_is_one_error_line_naming_the_plugin(plugin_path, data):
    p = _verno(plugin_path, "apply", data / "policies/require-team-label.yaml", "-r",
               data / "resources/pods.yaml", "-p", "--output-format", "broken")
    assert p.returncode == 1
    assert p.stdout == ""
    assert p.stderr == ("Error: output format 'broken' of plugin format-probe failed: ValueError: boom\n")


def test_test_plugin_format_is_alone_on_stdout(plugin_path, data):
    p = _verno(plugin_path, "test", data / "suite-fail", "-o", "counts")
    assert p.returncode == 1
    assert p.stdout == "passed=1 failed=1 rows=2\n", p.stdout + p.stderr
    assert "Loading test" in p.stderr
