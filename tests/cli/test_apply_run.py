"""``verno apply`` split across worker processes prints exactly what one process prints."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from verno.cli import apply_run
from verno.cli.apply_run import PARALLEL_MIN, Evaluation, worker_count
from verno.core.errors import VernoError

from .conftest import verno_executable

POLICY = """\
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: no-latest}
spec:
  validationFailureAction: Audit
  rules:
  - name: tag
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate:
      message: "no latest"
      pattern: {spec: {containers: [{image: "!*:latest"}]}}
  - name: label
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate:
      message: "app label"
      deny: {conditions: {any: [{key: "{{ request.object.metadata.labels.app || '' }}", operator: Equals, value: ""}]}}
"""


def pods(n: int) -> dict:
    return {"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"p{i}", "namespace": f"ns{i % 3}",
                                                          **({"labels": {"app": "a"}} if i % 4 else {})},
         "spec": {"containers": [{"name": "c", "image": "nginx:latest" if i % 5 == 0 else "nginx:1.27"}]}}
        for i in range(n)]}


def run_apply(tmp_path: Path, workers: int, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "VERNO_DEBUG"}
    env["VERNO_WORKERS"] = str(workers)
    return subprocess.run([*verno_executable(), "apply", str(tmp_path / "p.yaml"), *args],
                          capture_output=True, text=True, env=env, timeout=300)


def write_resources(tmp_path: Path, form: str) -> list[str]:
    """The Pods as one JSON List, or as YAML: a multi-document file, a List document and a second file."""
    items = pods(PARALLEL_MIN + 123)["items"]
    if form == "json":
        (tmp_path / "r.json").write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
        return ["-r", str(tmp_path / "r.json")]
    (tmp_path / "a.yaml").write_text("# first file\n" + yaml.safe_dump_all(items[:1500]) + "---\n")
    (tmp_path / "b.yaml").write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": items[1500:2000]})
                                     + "---\n" + yaml.safe_dump_all(items[2000:]))
    return ["-r", str(tmp_path / "a.yaml"), "-r", str(tmp_path / "b.yaml")]


@pytest.mark.parametrize("form", ["json", "yaml"])
@pytest.mark.parametrize("extra", [(), ("-t", "--detailed-results")])
def test_workers_print_what_one_process_prints(tmp_path: Path, form: str, extra: tuple[str, ...]) -> None:
    (tmp_path / "p.yaml").write_text(POLICY)
    files = write_resources(tmp_path, form)
    one, two = run_apply(tmp_path, 1, *files, *extra), run_apply(tmp_path, 2, *files, *extra)
    assert one.returncode == two.returncode == 1  # the :latest and unlabelled Pods fail
    assert one.stdout == two.stdout
    n = PARALLEL_MIN + 123
    latest, unlabelled = len(range(0, n, 5)), len(range(0, n, 4))
    if not extra:
        assert one.stdout.splitlines()[-1].strip() == (
            f"pass: {2 * n - latest - unlabelled}, fail: {latest + unlabelled}, warn: 0, error: 0, skip: 0")
    else:
        assert one.stdout.count("no-latest") == 2 * n


def _evaluation(**kw) -> Evaluation:
    base = dict(session=None, engine=None, policies=[], exceptions=[], audit_warn=False, quiet=True, table=False,
                detailed=False, keep_responses=False)
    return Evaluation(**{**base, **kw})


def test_small_runs_files_reports_and_a_setting_of_one_stay_in_this_process(monkeypatch) -> None:
    many = PARALLEL_MIN + 10
    monkeypatch.setenv("VERNO_WORKERS", "2")
    assert worker_count(_evaluation(), many) == 2
    assert worker_count(_evaluation(), PARALLEL_MIN - 1) == 1
    assert worker_count(_evaluation(keep_responses=True), many) == 1
    assert worker_count(_evaluation(output="out.yaml"), many) == 1
    monkeypatch.setenv("VERNO_WORKERS", "1")
    assert worker_count(_evaluation(), many) == 1


def test_a_worker_sends_back_what_it_finished_and_then_the_error_as_text(monkeypatch) -> None:
    class FailingOnSecond:
        def __call__(self, resource):
            if resource.get("bad"):
                raise VernoError("policy p: something went wrong")
            return apply_run.Outcome(results=["pass"])

    units = [("resource", {}), ("resource", {"bad": True}), ("resource", {})]
    monkeypatch.setattr(apply_run, "_JOB", (FailingOnSecond(), units))
    done, error = apply_run._evaluate_range((0, 3))
    assert [o.results for o in done] == [["pass"]]
    assert error == ("error", "policy p: something went wrong")
    assert apply_run._evaluate_range((2, 3)) == ([apply_run.Outcome(results=["pass"])], None)


def test_a_bad_yaml_document_fails_after_the_outcomes_before_it(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(POLICY)
    items = pods(PARALLEL_MIN + 10)["items"]
    text = yaml.safe_dump_all(items[:PARALLEL_MIN]) + "---\nkind: [unclosed\n---\n" + yaml.safe_dump_all(items[PARALLEL_MIN:])
    (tmp_path / "r.yaml").write_text(text)
    one, two = (run_apply(tmp_path, n, "-r", str(tmp_path / "r.yaml")) for n in (1, 2))
    assert one.returncode == two.returncode == 1
    assert one.stdout == two.stdout and one.stderr == two.stderr
    assert f"r.yaml (document {PARALLEL_MIN + 1}): line" in one.stderr
    last_failing = max(i for i in range(PARALLEL_MIN) if i % 4 == 0 or i % 5 == 0)
    assert f"/Pod/p{last_failing} failed" in one.stdout  # the resources before the bad document were reported
