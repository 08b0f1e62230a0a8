"""verno test with patchedResources, generatedResource, cloneSourceResource, targetResources; verno apply
output of mutated and generated resources (-o FILE|DIR, --target-resource)."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

DATA = Path(__file__).resolve().parent.parent / "data" / "mutgen"


def suite(tmp_path: Path, body: dict) -> Path:
    doc = {"apiVersion": "cli.kyverno.io/v1alpha1", "kind": "Test", "metadata": {"name": "t"}, **body}
    (tmp_path / "kyverno-test.yaml").write_text(yaml.safe_dump(doc))
    return tmp_path


def rows(output: str) -> list[list[str]]:
    out = []
    for line in output.splitlines():
        cells = [c.strip() for c in line.split("│")[1:-1]]
        if cells and cells[0].isdigit():
            out.append(cells)
    return out


def mutate_suite(tmp_path: Path, patched: str, result: str = "pass") -> Path:
    return suite(tmp_path, {"policies": [str(DATA / "add-label.yaml")], "resources": [str(DATA / "pod.yaml")],
                            "results": [{"policy": "add-label", "rule": "add-team", "kind": "Pod",
                                         "resources": ["web"], "result": result,
                                         "patchedResources": str(DATA / patched)}]})


def test_patched_resource_matches(run, tmp_path):
    r = run("test", mutate_suite(tmp_path, "pod-patched.yaml"))
    assert r.exit_code == 0, r.output
    assert rows(r.output)[0][4:6] == ["Pass", "Ok"]


def test_a_missing_patched_resource_file_is_an_error_naming_the_test_and_field(run, tmp_path):
    r = run("test", mutate_suite(tmp_path, "no-such-file.yaml"))
    assert r.exit_code != 0 and "internal error" not in r.output
    assert "kyverno-test.yaml: results[].patchedResources:" in r.output and "no-such-file.yaml" in r.output, r.output


def test_patched_resource_diff(run, tmp_path):
    r = run("test", mutate_suite(tmp_path, "pod-wrong.yaml"), "--detailed-results")
    assert r.exit_code == 1
    assert rows(r.output)[0][4:6] == ["Fail", "Resource diff"]
    assert "-    team: security" in r.output and "+    team: platform" in r.output
    assert "--- expected" in r.output and "+++ actual" in r.output


def test_expected_fail_is_not_satisfied_by_a_passing_mutation(run, tmp_path):
    r = run("test", mutate_suite(tmp_path, "pod-patched.yaml", result="fail"))
    assert r.exit_code == 1
    assert rows(r.output)[0][4:6] == ["Fail", "Want fail, got pass"]


def generate_suite(tmp_path: Path, **extra) -> Path:
    results = [
        {"policy": "gen-quota", "rule": "quota", "kind": "Namespace", "resources": ["team-x"], "result": "pass",
         "generatedResource": str(DATA / "quota-expected.yaml")},
        {"policy": "gen-quota", "rule": "copy-secret", "kind": "Namespace", "resources": ["team-x"],
         "result": "pass", "generatedResource": str(DATA / "secret-expected.yaml"), **extra},
    ]
    return suite(tmp_path, {"policies": [str(DATA / "gen-quota.yaml")], "resources": [str(DATA / "namespace.yaml")],
                            "results": results})


def test_generated_resources_with_clone_source(run, tmp_path):
    r = run("test", generate_suite(tmp_path, cloneSourceResource=str(DATA / "secret-source.yaml")))
    assert r.exit_code == 0, r.output
    got = rows(r.output)
    assert [c[5] for c in got] == ["Ok", "Ok"]
    assert "ResourceQuota/team-x/default-quota" in got[0][3] and "Secret/team-x/pull-secret" in got[1][3]


def test_missing_clone_source_generates_nothing(run, tmp_path):
    r = run("test", generate_suite(tmp_path))
    assert r.exit_code == 0, r.output
    assert rows(r.output)[1][5] == "Excluded"


def test_generated_resource_diff(run, tmp_path):
    results = [{"policy": "gen-quota", "rule": "quota", "kind": "Namespace", "resources": ["team-x"],
                "result": "pass", "generatedResource": str(DATA / "secret-expected.yaml")}]
    # the expected file holds no ResourceQuota: a difference, not a silent pass
    r = run("test", suite(tmp_path, {"policies": [str(DATA / "gen-quota.yaml")],
                                     "resources": [str(DATA / "namespace.yaml")], "results": results}))
    assert r.exit_code == 1
    assert rows(r.output)[0][4:6] == ["Fail", "Resource diff"]


def test_target_resources(run, tmp_path):
    r = run("test", suite(tmp_path, {
        "policies": [str(DATA / "label-existing.yaml")], "resources": [str(DATA / "trigger-cm.yaml")],
        "targetResources": [str(DATA / "target-secret.yaml")],
        "results": [{"policy": "label-existing", "rule": "label-secret", "kind": "Secret",
                     "resources": ["apps/creds"], "result": "pass",
                     "patchedResources": str(DATA / "target-patched.yaml")}]}))
    assert r.exit_code == 0, r.output
    assert rows(r.output)[0][4:6] == ["Pass", "Ok"]


def test_apply_prints_mutated_resource(run):
    r = run("apply", DATA / "add-label.yaml", "-r", DATA / "pod.yaml")
    assert r.exit_code == 0
    assert "\npolicy add-label applied to /Pod/web:\n" in r.stdout
    assert "team: platform" in r.stdout
    assert r.stdout.rstrip().endswith("pass: 1, fail: 0, warn: 0, error: 0, skip: 0")
    assert "\n---\n" in r.stdout and "\n\nMutation:\nMutation has been applied successfully.\npass:" in r.stdout


def test_apply_output_file_and_dir(run, tmp_path):
    out = tmp_path / "out.yaml"
    out.write_text("stale\n")
    r = run("apply", DATA / "add-label.yaml", DATA / "gen-quota.yaml", "-r", DATA / "pod.yaml",
            "-r", DATA / "namespace.yaml", "-o", out)
    assert r.exit_code == 0
    assert "applied to" not in r.stdout
    docs = [d for d in yaml.safe_load_all(out.read_text()) if d]
    kinds = sorted(d["kind"] for d in docs)
    assert kinds == ["Pod", "ResourceQuota"]
    outdir = tmp_path / "dir"
    outdir.mkdir()
    r = run("apply", DATA / "add-label.yaml", DATA / "gen-quota.yaml", "-r", DATA / "pod.yaml",
            "-r", DATA / "namespace.yaml", "-o", outdir)
    assert sorted(p.name for p in outdir.iterdir()) == ["gen-quota-generated.yaml", "web-mutated.yaml"]


def test_apply_target_resource(run):
    r = run("apply", DATA / "label-existing.yaml", "-r", DATA / "trigger-cm.yaml",
            "--target-resource", DATA / "target-secret.yaml")
    assert r.exit_code == 0
    assert "patched targets:" in r.stdout and 'touched: "yes"' in r.stdout.replace("'", '"')


def test_apply_output_to_a_new_path_without_extension_is_a_directory(run, tmp_path):
    """As Kyverno's checkMutateLogPath: a missing path not ending in .yaml/.yml is a directory, created."""
    outdir = tmp_path / "mutated"
    r = run("apply", DATA / "add-label.yaml", DATA / "gen-quota.yaml", "-r", DATA / "pod.yaml",
            "-r", DATA / "namespace.yaml", "-o", outdir)
    assert r.exit_code == 0, r.output
    assert outdir.is_dir()
    assert sorted(p.name for p in outdir.iterdir()) == ["gen-quota-generated.yaml", "web-mutated.yaml"]
    [pod] = [d for d in yaml.safe_load_all((outdir / "web-mutated.yaml").read_text()) if d]
    assert pod["kind"] == "Pod" and pod["metadata"]["labels"]["team"] == "platform"


def test_apply_output_to_a_new_yaml_file_creates_its_directories(run, tmp_path):
    out = tmp_path / "nested" / "deeper" / "out.yml"
    r = run("apply", DATA / "add-label.yaml", "-r", DATA / "pod.yaml", "-o", out)
    assert r.exit_code == 0, r.output
    assert [d["kind"] for d in yaml.safe_load_all(out.read_text()) if d] == ["Pod"]


def test_apply_output_that_cannot_be_written_is_one_error_line(run, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    r = run("apply", DATA / "add-label.yaml", "-r", DATA / "pod.yaml", "-o", blocker / "out")
    assert r.exit_code == 1
    assert r.stderr.startswith(f"Error: -o {blocker / 'out'}: failed to create file/folder")
    assert "Traceback" not in r.output and "internal error" not in r.stderr
