"""``verno apply --explain``: each rule's decision trace as text, JSON and PolicyReport properties."""
from __future__ import annotations

import json
from pathlib import Path

import yaml

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
POLICIES = EXAMPLES / "policies"
BAD = EXAMPLES / "resources" / "bad-pods.yaml"
GOOD = EXAMPLES / "resources" / "good-pods.yaml"


def test_text_explains_each_rule_after_kyverno_output(run):
    plain = run("apply", POLICIES / "disallow-latest-tag.yaml", "-r", BAD)
    result = run("apply", POLICIES / "disallow-latest-tag.yaml", "-r", BAD, "--explain")
    assert result.exit_code == plain.exit_code == 1
    out = result.stdout
    # Kyverno's lines are all there, unchanged
    for line in plain.stdout.splitlines():
        assert line in out.splitlines()
    block = out[out.index("policy disallow-latest-tag -> resource shop/Pod/bad-latest explained:"):]
    lines = [ln.strip() for ln in block.splitlines()[1:7]]
    assert lines == [
        "rule require-image-tag: fail",
        "match match.any[0] on kinds=v1/Pod",
        'pattern /spec/containers/1/image/: expected "*:*", found "registry.example.com/shop/sidecar" -> fail',
        "rule validate-image-tag: fail",
        "match match.any[0] on kinds=v1/Pod",
        'pattern /spec/containers/0/image/: expected "!*:latest", found "registry.example.com/shop/web:latest"'
        " -> fail",
    ]


def test_text_explains_foreach_elements_and_missing_values(run):
    result = run("apply", POLICIES / "require-limits.yaml", "-r", BAD, "--explain")
    out = result.stdout
    block = out[out.index("policy require-limits -> resource shop/Pod/bad-no-limits explained:"):]
    assert "[foreach[0].element[0]] pattern /resources/limits/: expected " \
           '{"cpu":"?*","memory":"?*"}, found missing -> fail' in block
    assert "[foreach[0]] element[0]: fail" in block


def test_json_gives_every_rule_with_its_trace(run):
    result = run("apply", POLICIES, "-r", BAD, "-r", GOOD, "--explain", "--output-format", "json")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)  # nothing else on stdout
    rows = {(r["policy"], r["rule"], r["resource"]): r for r in doc["results"]}
    ro = rows[("require-ro-rootfs", "validate-readOnlyRootFilesystem", "shop/Pod/bad-writable-root")]
    assert ro["result"] == "fail"
    deny = [e for e in ro["trace"] if e["step"] == "deny"]
    assert deny and all({"key", "operator", "value", "result", "block", "index"} <= set(e) for e in deny)
    decided = [e for e in ro["trace"] if e["step"] == "deny conditions"]
    assert decided[-1]["result"] is True and decided[-1]["decided_by"].startswith(("any[", "all"))
    registry = rows[("restrict-image-registries", "validate-registries", "shop/Pod/bad-registry")]
    [pattern] = [e for e in registry["trace"] if e["step"] == "pattern"]
    assert pattern["expected"] == "registry.example.com/*" and pattern["path"] == "/spec/containers/0/image/"
    assert doc["summary"]["fail"] == sum(1 for r in doc["results"] if r["result"] == "fail") > 0
    assert all(r["trace"][0]["step"] == "match" for r in doc["results"])


def test_policy_report_carries_the_trace_as_a_property(run):
    result = run("apply", POLICIES / "disallow-latest-tag.yaml", "-r", BAD, "-p", "--explain")
    [report] = list(yaml.safe_load_all(result.stdout))
    failing = [r for r in report["results"] if r["result"] == "fail"]
    assert failing
    for entry in failing:
        text = entry["properties"]["verno.io/explain"]
        assert "match match.any[0] on kinds=v1/Pod" in text and "expected" in text
        assert len(text) <= 2048
    plain = yaml.safe_load(run("apply", POLICIES / "disallow-latest-tag.yaml", "-r", BAD, "-p").stdout)
    assert all("properties" not in r for r in plain["results"])


def test_explain_with_a_table_is_an_error_saying_what_to_do(run):
    result = run("apply", POLICIES, "-r", BAD, "--explain", "-t")
    assert result.exit_code == 2
    assert "--explain cannot be shown in a table" in result.stderr
    result = run("apply", POLICIES, "-r", BAD, "--explain", "--output-format", "yaml")
    assert result.exit_code == 2 and "shown as text or as json" in result.stderr


VPOL = """apiVersion: policies.kyverno.io/v1
kind: ValidatingPolicy
metadata: {name: replica-floor}
spec:
  validationActions: [Deny]
  matchConstraints:
    resourceRules:
    - apiGroups: [apps]
      apiVersions: [v1]
      operations: [CREATE, UPDATE]
      resources: [deployments]
  matchConditions:
  - name: not-system
    expression: "object.metadata.namespace != 'kube-system'"
  validations:
  - expression: "object.metadata.name.size() < 64"
  - expression: "object.spec.replicas >= 2"
    message: at least two replicas
"""
VAP = """apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: replica-cap}
spec:
  matchConstraints:
    resourceRules:
    - apiGroups: [apps]
      apiVersions: [v1]
      operations: [CREATE]
      resources: [deployments]
  validations:
  - expression: "object.spec.replicas <= 1"
    message: at most one replica
"""
DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx:1.27}]}
"""


def test_cel_kinds_give_expressions_and_values(run, tmp_path):
    (tmp_path / "vpol.yaml").write_text(VPOL)
    (tmp_path / "vap.yaml").write_text(VAP)
    (tmp_path / "deploy.yaml").write_text(DEPLOYMENT.replace("replicas: 1", "replicas: 3"))
    result = run("apply", tmp_path / "vpol.yaml", tmp_path / "vap.yaml", "-r", tmp_path / "deploy.yaml",
                 "--explain", "--output-format", "json")
    doc = json.loads(result.stdout)
    by_policy = {r["policy"]: r for r in doc["results"]}
    vpol = by_policy["replica-floor"]
    assert vpol["result"] == "pass"
    assert [(e["field"], e["expression"], e["value"]) for e in vpol["trace"] if e["step"] == "cel"] == [
        ("matchConditions[not-system]", "object.metadata.namespace != 'kube-system'", True),
        ("validations[0]", "object.metadata.name.size() < 64", True),
        ("validations[1]", "object.spec.replicas >= 2", True)]
    vap = by_policy["replica-cap"]
    assert vap["result"] == "fail"
    assert [(e["field"], e["value"]) for e in vap["trace"] if e["step"] == "cel"] == [("validations[0]", False)]


def test_cel_kind_failure_in_text(run, tmp_path):
    (tmp_path / "vpol.yaml").write_text(VPOL)
    (tmp_path / "deploy.yaml").write_text(DEPLOYMENT)
    out = run("apply", tmp_path / "vpol.yaml", "-r", tmp_path / "deploy.yaml", "--explain").stdout
    assert "cel validations[1]: object.spec.replicas >= 2 -> false" in out
    assert "match spec.matchConstraints" in out
