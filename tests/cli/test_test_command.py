"""``verno test`` end to end: suites, mismatches, selectors, output formats, unsupported and bad Test files."""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import yaml


def table_rows(text: str) -> list[list[str]]:
    return [[c.strip() for c in ln.strip().strip("│").split("│")] for ln in text.splitlines()
            if ln.startswith("│ ") and not ln.startswith("│ ID ")]


def write_test(dirpath: Path, data: Path, body: str, name: str = "kyverno-test.yaml") -> Path:
    dirpath.mkdir(parents=True, exist_ok=True)
    text = body.replace("@DATA@", str(data))
    (dirpath / name).write_text(text)
    return dirpath / name


HEAD = """apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata:
  name: t
policies: ["@DATA@/policies/require-team-label.yaml"]
resources: ["@DATA@/resources/pods.yaml"]
"""


def test_suite_passes(run, data):
    r = run("test", data / "suite")
    assert r.exit_code == 0, r.output
    assert "Loading test  ( " in r.stdout
    assert "Test Summary: 5 tests passed and 0 tests failed" in r.stdout
    rows = table_rows(r.stdout)
    assert ["4", "env-check", "allowed-env", "Pod/default/unlabelled", "Pass", "Ok"] in rows
    assert ["5", "block-non-admin-configmaps", "block-developers", "ConfigMap/cfg", "Pass", "Ok"] in rows


def test_suite_with_real_executable(run_exe, data):
    p = run_exe("test", data / "suite")
    assert p.returncode == 0, p.stderr
    assert "Test Summary: 5 tests passed and 0 tests failed" in p.stdout


def test_mismatch(run, data):
    r = run("test", data / "suite-fail")
    assert r.exit_code == 1
    assert "Test Summary: 1 tests passed and 1 tests failed" in r.stdout
    assert "Aggregated Failed Test Cases : " in r.stdout
    aggregated = r.stdout.split("Aggregated Failed Test Cases : ")[1]
    assert table_rows(aggregated) == [["1", "require-team-label", "check-team", "Pod/good", "Fail",
                                       "Want fail, got pass"]]
    assert "Error: 1 tests failed" in r.stderr


def test_fail_only(run, data):
    r = run("test", data / "suite-fail", "--fail-only")
    assert r.exit_code == 1
    before = r.stdout.split("Test Summary")[0]
    assert "Pod/unlabelled" not in before and "Pod/good" in before
    assert "Test Summary: 1 out of 2 tests failed" in r.stdout


def test_detailed_results(run, data):
    r = run("test", data / "suite-fail", "--detailed-results")
    header = [ln for ln in r.stdout.splitlines() if ln.startswith("│ ID ")][0]
    assert "MESSAGE" in header
    assert "validation error: The label `team` is required." in r.stdout


def test_selector(run, data):
    r = run("test", data / "suite", "-t", "policy=env-check,rule=*,resource=good")
    assert r.exit_code == 0
    assert table_rows(r.stdout) == [["1", "env-check", "allowed-env", "Pod/good", "Pass", "Ok"]]
    assert "Test Summary: 1 tests passed and 0 tests failed" in r.stdout
    r = run("test", data / "suite", "-t", "bogus=1")
    assert r.exit_code == 1 and r.stderr.startswith("Error: ")


def test_output_json(run, data):
    r = run("test", data / "suite-fail", "-o", "json")
    assert r.exit_code == 1
    doc = json.loads(r.stdout)
    assert doc["summary"]["passed"] == 1 and doc["summary"]["failed"] == 1
    by_res = {row["resource"]: row for row in doc["results"]}
    assert by_res["Pod/good"]["result"] == "Fail" and by_res["Pod/good"]["reason"] == "Want fail, got pass"
    assert by_res["Pod/good"]["expected"] == "fail" and by_res["Pod/good"]["actual"] == "pass"
    assert by_res["Pod/unlabelled"]["result"] == "Pass"
    assert "Loading test" in r.stderr  # progress goes to stderr with machine formats


def test_output_yaml(run, data):
    r = run("test", data / "suite", "-o", "yaml")
    assert r.exit_code == 0
    doc = yaml.safe_load(r.stdout)
    assert doc["summary"]["passed"] == 5 and doc["summary"]["failed"] == 0
    assert len(doc["results"]) == 5 and {row["result"] for row in doc["results"]} == {"Pass"}


def test_output_junit(run, data):
    r = run("test", data / "suite-fail", "-o", "junit")
    root = ET.fromstring(r.stdout)
    assert root.tag == "testsuites" and root.get("tests") == "2" and root.get("failures") == "1"
    cases = root.findall(".//testcase")
    assert len(cases) == 2
    failures = root.findall(".//testcase/failure")
    assert len(failures) == 1 and failures[0].get("message") == "Want fail, got pass"


def test_output_markdown(run, data):
    r = run("test", data / "suite", "-o", "markdown")
    assert r.exit_code == 0
    assert "| ID | POLICY | RULE | RESOURCE | RESULT | REASON | MESSAGE |" in r.stdout
    assert "**Test Summary:** 5 tests passed and 0 tests failed" in r.stdout


def test_unknown_output_format(run, data):
    r = run("test", data / "suite", "-o", "nope")
    assert r.exit_code == 2 and "nope" in r.stderr


def test_require_tests(run, tmp_path):
    r = run("test", tmp_path)
    assert r.exit_code == 0 and "No test yamls available" in r.stdout
    r = run("test", tmp_path, "--require-tests")
    assert r.exit_code == 1
    assert r.stderr.startswith("Error: ") and "kyverno-test.yaml" in r.stderr


def test_rule_not_found(run, data, tmp_path):
    write_test(tmp_path, data, HEAD + """results:
  - policy: require-team-label
    rule: no-such-rule
    kind: Pod
    resources: [good]
    result: pass
""")
    r = run("test", tmp_path)
    assert r.exit_code == 1
    assert "Rule not found" in r.stdout


def test_resource_not_found(run, data, tmp_path):
    write_test(tmp_path, data, HEAD + """results:
  - policy: require-team-label
    rule: check-team
    kind: Pod
    resources: [ghost]
    result: pass
""")
    r = run("test", tmp_path)
    assert r.exit_code == 1
    assert ["1", "require-team-label", "check-team", "Pod/ghost", "Fail", "Not found"] in table_rows(r.stdout)


def test_excluded_is_pass(run, data, tmp_path):
    # a ConfigMap does not match a Pod rule: Pass / Excluded whatever was expected
    write_test(tmp_path, data, HEAD.replace("pods.yaml", "configmap.json") + """results:
  - policy: require-team-label
    rule: check-team
    kind: ConfigMap
    resources: [cfg]
    result: fail
""")
    r = run("test", tmp_path)
    assert r.exit_code == 0
    assert ["1", "require-team-label", "check-team", "ConfigMap/cfg", "Pass", "Excluded"] in table_rows(r.stdout)


def test_unsupported_field(run, data, tmp_path):
    write_test(tmp_path, data, HEAD + """paramResources: ["@DATA@/resources/pods.yaml"]
results:
  - policy: require-team-label
    rule: check-team
    kind: Pod
    resources: [good]
    result: pass
""")
    r = run("test", tmp_path)
    assert r.exit_code == 1
    assert "kyverno-test.yaml: paramResources: not supported yet" in r.output
    assert "Traceback" not in r.output


def test_deprecated_schema(run, data, tmp_path):
    write_test(tmp_path, data, """name: old-style
policies: ["@DATA@/policies/require-team-label.yaml"]
resources: ["@DATA@/resources/pods.yaml"]
results:
  - policy: require-team-label
    rule: check-team
    resource: good
    kind: Pod
    result: pass
""")
    r = run("test", tmp_path)
    assert r.exit_code == 1
    assert "deprecated schema" in r.output and "kyverno-test.yaml" in r.output


def test_invalid_test_field(run, data, tmp_path):
    write_test(tmp_path, data, HEAD + """results:
  - policy: require-team-label
    rule: check-team
    kind: Pod
    resources: [good]
    result: maybe
""")
    r = run("test", tmp_path)
    assert r.exit_code == 1
    assert "results[0].result" in r.output


def test_multiple_documents(run, data):
    r = run("test", data / "multi")
    assert r.exit_code == 0
    assert "(document 2)" in r.stdout
    assert "Test Summary: 3 tests passed and 0 tests failed" in r.stdout


def test_custom_file_name_and_file_path(run, data, tmp_path):
    write_test(tmp_path / "sub", data, HEAD + """results:
  - policy: require-team-label
    rule: check-team
    kind: Pod
    resources: [good]
    result: pass
""", name="my-test.yaml")
    r = run("test", tmp_path, "-f", "my-test.yaml")
    assert r.exit_code == 0 and "1 tests passed" in r.stdout
    r = run("test", tmp_path / "sub" / "my-test.yaml")
    assert r.exit_code == 0 and "1 tests passed" in r.stdout


def test_missing_policy_file_in_suite(run, data, tmp_path):
    write_test(tmp_path, data, HEAD.replace("require-team-label.yaml", "nope.yaml") + """results:
  - policy: require-team-label
    rule: check-team
    kind: Pod
    resources: [good]
    result: pass
""")
    r = run("test", tmp_path)
    assert r.exit_code == 1
    assert "nope.yaml" in r.output and "no such file" in r.output
