"""``verno test`` with envoyPayloads and httpPayloads: Envoy and HTTP-mode ValidatingPolicies decide them."""
from __future__ import annotations

import json
from pathlib import Path

from .test_test_command import table_rows

ENVOY_POLICY = """apiVersion: policies.kyverno.io/v1
kind: ValidatingPolicy
metadata: {name: envoy-header}
spec:
  evaluation: {mode: Envoy}
  validations:
  - expression: >
      object.attributes.request.http.headers[?"x-allow"].orValue("") == "yes"
        ? envoy.Allowed().Response()
        : envoy.Denied(403).WithBody("x-allow header missing").Response()
"""
HTTP_POLICY = """apiVersion: policies.kyverno.io/v1
kind: ValidatingPolicy
metadata: {name: http-host}
spec:
  evaluation: {mode: HTTP}
  validations:
  - expression: 'object.attributes.host == "evil.example" ? http.Denied("host refused").Response() : null'
"""
K8S_POLICY = """apiVersion: policies.kyverno.io/v1
kind: ValidatingPolicy
metadata: {name: k8s-labels}
spec:
  matchConstraints:
    resourceRules:
    - {apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}
  validations:
  - expression: "has(object.metadata.labels)"
"""


def suite(tmp_path: Path, results: str, extra: str = "") -> Path:
    (tmp_path / "policies.yaml").write_text("---\n".join([ENVOY_POLICY, HTTP_POLICY, K8S_POLICY]))
    (tmp_path / "allowed.json").write_text(json.dumps(
        {"attributes": {"request": {"http": {"method": "GET", "path": "/", "headers": {"x-allow": "yes"}}}}}))
    (tmp_path / "denied.json").write_text(json.dumps(
        {"attributes": {"request": {"http": {"method": "GET", "path": "/", "headers": {}}}}}))
    (tmp_path / "evil.json").write_text(json.dumps({"attributes": {"method": "GET", "host": "evil.example"}}))
    (tmp_path / "fine.json").write_text(json.dumps({"attributes": {"method": "GET", "host": "ok.example"}}))
    (tmp_path / "pod.yaml").write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: {a: b}}\n")
    (tmp_path / "kyverno-test.yaml").write_text(f"""apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata: {{name: authz}}
policies: [policies.yaml]
resources: [pod.yaml]
envoyPayloads: [allowed.json, denied.json]
httpPayloads: [evil.json, fine.json]
{extra}results:
{results}""")
    return tmp_path


def test_envoy_and_http_payloads_are_decided_by_their_modes(run, tmp_path):
    r = run("test", suite(tmp_path, """- {policy: envoy-header, resources: [allowed.json], result: pass}
- {policy: envoy-header, resources: [denied.json], result: fail}
- {policy: http-host, resources: [evil.json], result: fail}
- {policy: http-host, resources: [fine.json], result: pass}
- {policy: k8s-labels, kind: Pod, resources: [p], result: pass}
"""), "--detailed-results")
    assert r.exit_code == 0, r.output
    assert "Test Summary: 5 tests passed and 0 tests failed" in r.stdout
    messages = {row[3]: row for row in table_rows(r.stdout)}
    assert "x-allow header missing" in " ".join(messages["denied.json"])
    assert "host refused" in " ".join(messages["evil.json"])


def test_payload_policies_give_one_row_per_payload_and_ignore_resources(run, tmp_path):
    r = run("test", suite(tmp_path, """- {policy: envoy-header, kind: "", result: pass}
"""))
    assert r.exit_code == 1  # denied.json is denied: one pass row and one fail row, the Pod gives none
    rows = table_rows(r.stdout)
    # (the failing row is listed again under the summary)
    assert {(row[3], row[4]) for row in rows} == {("allowed.json", "Pass"), ("denied.json", "Fail")}
    assert "Want pass, got fail" in r.stdout


def test_missing_payload_file_names_the_field(run, tmp_path):
    suite(tmp_path, "- {policy: envoy-header, result: pass}\n")
    (tmp_path / "denied.json").unlink()
    r = run("test", tmp_path)
    assert r.exit_code == 1
    assert "kyverno-test.yaml: envoyPayloads[1]: denied.json: no such file or directory" in r.output
    assert "Traceback" not in r.output


def test_payload_that_is_not_an_object_is_an_error(run, tmp_path):
    suite(tmp_path, "- {policy: http-host, result: pass}\n")
    (tmp_path / "fine.json").write_text("[1, 2]")
    r = run("test", tmp_path)
    assert r.exit_code == 1
    assert "fine.json" in r.output and "an HTTP payload must be an object, got list" in r.output
