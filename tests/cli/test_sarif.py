"""SARIF 2.1.0 output of ``verno apply --output-format sarif`` and ``verno test -o sarif``: valid against the
official schema, findings located at the failing field's line and column (absolute in multi-document files),
rules described by the policies' annotations."""
from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

SCHEMA = json.loads((Path(__file__).resolve().parents[1] / "data" / "sarif" / "sarif-schema-2.1.0.json")
                    .read_text())

POLICY = """\
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: pod-rules
  annotations:
    policies.kyverno.io/title: Pod Rules
    policies.kyverno.io/category: Pod Security, Best Practices
    policies.kyverno.io/severity: high
    policies.kyverno.io/description: >-
      Images come from registry.example.com
      and pods carry a team label.
spec:
  validationFailureAction: Enforce
  rules:
    - name: registry
      match:
        any:
          - resources:
              kinds: [Pod]
      validate:
        message: "images must come from registry.example.com"
        pattern:
          spec:
            containers:
              - image: "registry.example.com/*"
    - name: no-default-namespace
      match:
        any:
          - resources:
              kinds: [Pod]
      validate:
        message: "pods may not run in the default namespace"
        deny:
          conditions:
            any:
              - key: "{{ request.object.metadata.namespace }}"
                operator: Equals
                value: default
"""

#: a comment before the first document, an empty document and a List: lines stay absolute in the file
RESOURCES = """\
# pods under test
apiVersion: v1
kind: Pod
metadata:
  name: good
  namespace: shop
spec:
  containers:
    - name: web
      image: registry.example.com/web:1
---
---
apiVersion: v1
kind: Pod
metadata:
  name: bad-second
  namespace: shop
spec:
  containers:
    - name: web
      image: registry.example.com/web:1
    - name: side
      image: docker.io/side:1
---
apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: Pod
    metadata:
      name: in-list
      namespace: default
    spec:
      containers:
        - name: web
          image: registry.example.com/web:1
"""


def _line_of(text: str, needle: str, after: str = "") -> tuple[int, int]:
    """1-based (line, column) of the first ``needle`` after the line holding ``after``."""
    lines = text.splitlines()
    start = next(i for i, ln in enumerate(lines) if after in ln) if after else 0
    for i in range(start, len(lines)):
        col = lines[i].find(needle)
        if col >= 0:
            return i + 1, col + 1
    raise AssertionError(f"{needle!r} not in text")


def _results(log: dict) -> list[dict]:
    jsonschema.validate(log, SCHEMA)
    return log["runs"][0]["results"]


@pytest.fixture
def files(tmp_path, monkeypatch):
    (tmp_path / "policy.yaml").write_text(POLICY)
    (tmp_path / "pods.yaml").write_text(RESOURCES)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_apply_sarif_is_valid_and_points_at_the_failing_field(run, files):
    r = run("apply", "policy.yaml", "-r", "pods.yaml", "--output-format", "sarif")
    assert r.exit_code == 1  # Kyverno's exit code on failures is kept
    log = json.loads(r.stdout)
    results = _results(log)
    by_rule = {(x["ruleId"], x["locations"][0]["physicalLocation"]["region"]["startLine"]): x for x in results}
    assert len(results) == 2, results
    # the pattern failure: the second container's image of the third document (document 2: index counts the
    # empty one), at its absolute line and column
    line, col = _line_of(RESOURCES, "image: docker.io/side:1")
    hit = by_rule[("pod-rules/registry", line)]
    region = hit["locations"][0]["physicalLocation"]["region"]
    assert (region["startLine"], region["startColumn"]) == (line, col + len("image: "))
    assert hit["locations"][0]["physicalLocation"]["artifactLocation"] == {"uri": "pods.yaml",
                                                                         "uriBaseId": "%SRCROOT%"}
    # the deny rule fails the whole resource: the first line of the List item standing for it
    line, col = _line_of(RESOURCES, "- apiVersion: v1", after="kind: List")
    region = by_rule[("pod-rules/no-default-namespace", line)]["locations"][0]["physicalLocation"]["region"]
    assert region == {"startLine": line, "startColumn": col + 2}


def test_apply_sarif_describes_rules_from_the_policy_annotations(run, files):
    log = json.loads(run("apply", "policy.yaml", "-r", "pods.yaml", "--output-format", "sarif").stdout)
    rules = {r["id"]: r for r in log["runs"][0]["tool"]["driver"]["rules"]}
    rule = rules["pod-rules/registry"]
    assert rule["shortDescription"]["text"] == "Pod Rules (registry)"
    assert rule["fullDescription"]["text"] == "Images come from registry.example.com and pods carry a team label."
    assert rule["properties"]["tags"] == ["Pod Security", "Best Practices", "security"]
    assert rule["properties"]["security-severity"] == "8.0"
    assert rule["defaultConfiguration"]["level"] == "error"
    results = log["runs"][0]["results"]
    assert all(rules[x["ruleId"]] is log["runs"][0]["tool"]["driver"]["rules"][x["ruleIndex"]] for x in results)
    assert {x["level"] for x in results} == {"error"}


def test_apply_sarif_without_severity_and_with_audit_warn(run, files):
    text = POLICY.replace("    policies.kyverno.io/severity: high\n", "").replace("Enforce", "Audit")
    (files / "policy.yaml").write_text(text)
    log = json.loads(run("apply", "policy.yaml", "-r", "pods.yaml", "--output-format", "sarif",
                         "--audit-warn").stdout)
    results = _results(log)
    assert {x["level"] for x in results} == {"warning"}
    rule = log["runs"][0]["tool"]["driver"]["rules"][0]
    assert "security-severity" not in rule.get("properties", {})
    assert rule["properties"]["tags"] == ["Pod Security", "Best Practices"]


def test_apply_sarif_rule_errors_are_tool_notifications(run, files):
    broken = POLICY.replace("{{ request.object.metadata.namespace }}", "{{ request.object.spec.nothere.x }}")
    (files / "policy.yaml").write_text(broken)
    log = json.loads(run("apply", "policy.yaml", "-r", "pods.yaml", "--output-format", "sarif").stdout)
    _results(log)
    invocation = log["runs"][0]["invocations"][0]
    notes = invocation["toolExecutionNotifications"]
    assert invocation["executionSuccessful"] is False
    assert notes and all(n["level"] == "error" and n["associatedRule"]["id"] == "pod-rules/no-default-namespace"
                         for n in notes)
    assert all(r["ruleId"] == "pod-rules/registry" for r in log["runs"][0]["results"])


def test_apply_sarif_locates_fields_of_json_files(run, files):
    """A JSON resource file is located too (JSON is read as YAML for positions)."""
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "j", "namespace": "shop"},
           "spec": {"containers": [{"name": "a", "image": "quay.io/a:1"}]}}
    (files / "pod.json").write_text(json.dumps(pod, indent=2))
    log = json.loads(run("apply", "policy.yaml", "-r", "pod.json", "--output-format", "sarif").stdout)
    (hit,) = _results(log)
    text = (files / "pod.json").read_text()
    line, col = _line_of(text, '"quay.io/a:1"')
    assert hit["locations"][0]["physicalLocation"]["region"] == {"startLine": line, "startColumn": col}


TEST_FILE = """\
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata:
  name: first
policies: [policy.yaml]
resources: [pods.yaml]
results:
  - policy: pod-rules
    rule: registry
    resources: [good]
    kind: Pod
    result: pass
---
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata:
  name: second
policies: [policy.yaml]
resources: [pods.yaml]
results:
  - policy: pod-rules
    rule: registry
    resources: [good]
    kind: Pod
    result: pass
  - policy: pod-rules
    rule: registry
    resources: [bad-second]
    kind: Pod
    result: pass
"""


def test_test_sarif_points_at_the_failed_expectation_and_the_resource_field(run, files):
    (files / "kyverno-test.yaml").write_text(TEST_FILE)
    r = run("test", ".", "-o", "sarif")
    assert r.exit_code == 1
    (hit,) = _results(json.loads(r.stdout))
    assert hit["ruleId"] == "pod-rules/registry"
    assert hit["message"]["text"].startswith("Want pass, got fail")
    where = hit["locations"][0]["physicalLocation"]
    # the second Test document's second entry: two lines above its resources field
    entry = TEST_FILE.splitlines().index("    resources: [bad-second]") - 1  # 1-based line of "  - policy: ..."
    assert TEST_FILE.splitlines()[entry - 1] == "  - policy: pod-rules"
    assert where["artifactLocation"]["uri"] == "kyverno-test.yaml"
    assert where["region"] == {"startLine": entry, "startColumn": 5}
    related = hit["relatedLocations"][0]["physicalLocation"]
    assert related["artifactLocation"]["uri"] == "pods.yaml"
    line, col = _line_of(RESOURCES, "image: docker.io/side:1")
    assert related["region"] == {"startLine": line, "startColumn": col + len("image: ")}


def test_test_sarif_of_a_passing_suite_has_no_results(run, files):
    (files / "kyverno-test.yaml").write_text(TEST_FILE.split("---")[0])
    r = run("test", ".", "-o", "sarif")
    assert r.exit_code == 0
    assert _results(json.loads(r.stdout)) == []
