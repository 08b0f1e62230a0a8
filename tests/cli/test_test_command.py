"""``verno test`` end to end: suites, mismatches, selectors, output formats, unsupported and bad Test files."""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
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


OWNER_POLICY = """apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: team-owner
spec:
  rules:
  - name: owner
    match:
      any:
      - resources:
          kinds: [Pod]
    context:
    - name: owners
      @ENTRY@
    - name: owner
      variable:
        jmesPath: @PATH@
        default: nobody
    validate:
      failureAction: Enforce
      message: "team must be {{ owner }}"
      deny:
        conditions:
          any:
          - key: "{{ request.object.metadata.labels.team }}"
            operator: NotEquals
            value: "{{ owner }}"
"""

TEAM_PODS = """apiVersion: v1
kind: Pod
metadata: {name: blue-pod, namespace: shop, labels: {team: blue}}
spec: {containers: [{name: c, image: nginx}]}
---
apiVersion: v1
kind: Pod
metadata: {name: red-pod, namespace: shop, labels: {team: red}}
spec: {containers: [{name: c, image: nginx}]}
"""

OWNERS_CLUSTER = """apiVersion: cli.kyverno.io/v1alpha1
kind: ClusterResource
metadata: {name: cluster}
spec:
  resources:
  - apiVersion: v1
    kind: ConfigMap
    metadata: {name: owners, namespace: shop}
    data: {owner: blue}
  - apiVersion: example.com/v1
    kind: Team
    metadata: {name: shop, labels: {owner: "true"}}
    spec: {owner: blue}
"""


def owner_suite(tmp_path: Path, entry: str, path: str, expect: dict[str, str], extra: str = "",
                cluster: str | None = OWNERS_CLUSTER) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "policy.yaml").write_text(OWNER_POLICY.replace("@ENTRY@", entry).replace("@PATH@", path))
    (tmp_path / "pods.yaml").write_text(TEAM_PODS)
    test = {"apiVersion": "cli.kyverno.io/v1alpha1", "kind": "Test", "metadata": {"name": "owners"},
            "policies": ["policy.yaml"], "resources": ["pods.yaml"],
            "results": [{"policy": "team-owner", "rule": "owner", "kind": "Pod", "resources": [name],
                         "result": result} for name, result in expect.items()]}
    if cluster is not None:
        (tmp_path / "cluster.yaml").write_text(cluster)
        test["clusterResources"] = ["cluster.yaml"]
    (tmp_path / "kyverno-test.yaml").write_text(yaml.safe_dump(test) + extra)
    return tmp_path


def test_configmap_from_cluster_resource_wrapper(run, tmp_path):
    owner_suite(tmp_path, "configMap: {name: owners, namespace: shop}", "owners.data.owner",
                {"blue-pod": "pass", "red-pod": "fail"})
    r = run("test", tmp_path)
    assert r.exit_code == 0, r.output
    assert "Test Summary: 2 tests passed and 0 tests failed" in r.stdout


def test_configmap_from_cluster_resources_decides_the_verdict(run, tmp_path):
    owner_suite(tmp_path, "configMap: {name: owners, namespace: shop}", "owners.data.owner",
                {"blue-pod": "fail", "red-pod": "pass"})
    r = run("test", tmp_path)
    assert r.exit_code == 1
    assert [row[4:] for row in table_rows(r.stdout.split("Test Summary")[0])] == [
        ["Fail", "Want fail, got pass"], ["Fail", "Want pass, got fail"]]


def test_apicall_get_and_list_from_cluster_resources(run, tmp_path):
    owner_suite(tmp_path / "get", "apiCall: {urlPath: /apis/example.com/v1/teams/shop}", "owners.spec.owner",
                {"blue-pod": "pass", "red-pod": "fail"})
    # the list holds the Teams labelled owner, and the pods under test are in the cluster too
    owner_suite(tmp_path / "list", "apiCall: {urlPath: '/apis/example.com/v1/teams?labelSelector=owner=true'}",
                "owners.items[0].spec.owner", {"blue-pod": "pass", "red-pod": "fail"})
    owner_suite(tmp_path / "pods", "apiCall: {urlPath: '/api/v1/namespaces/shop/pods?labelSelector=team'}",
                "join('-', owners.items[].metadata.labels.team)", {"blue-pod": "fail", "red-pod": "fail"})
    for name in ("get", "list", "pods"):
        r = run("test", tmp_path / name)
        assert r.exit_code == 0, (name, r.output)
        assert "Test Summary: 2 tests passed and 0 tests failed" in r.stdout


def test_cluster_entry_without_its_data_is_an_error_not_a_pass(run, tmp_path):
    owner_suite(tmp_path / "service", "apiCall: {service: {url: 'https://owners.example.com/shop'}}",
                "owners.owner", {"blue-pod": "pass"})
    owner_suite(tmp_path / "missing", "configMap: {name: nobody, namespace: shop}", "owners.data.owner",
                {"blue-pod": "pass"})
    owner_suite(tmp_path / "nocluster", "configMap: {name: owners, namespace: shop}", "owners.data.owner",
                {"blue-pod": "pass"}, cluster=None)
    wants = {"service": "mock the response in the Test's apiCallResponses (url: https://owners.example.com/shop",
             "missing": 'configmaps "nobody" not found',
             "nocluster": "give the ConfigMap in the Test's clusterResources"}
    for name, message in wants.items():
        r = run("test", tmp_path / name, "--detailed-results")
        assert r.exit_code == 1, (name, r.output)
        assert "Want pass, got error" in r.stdout, (name, r.stdout)
        assert message in " ".join(r.stdout.split()), (name, r.stdout)


def test_service_call_mocked_in_the_test(run, tmp_path):
    mock = """apiCallResponses:
- url: https://owners.example.com/shop
  response: {statusCode: 200, body: {owner: red}}
"""
    owner_suite(tmp_path, "apiCall: {service: {url: 'https://owners.example.com/shop'}}", "owners.owner",
                {"blue-pod": "fail", "red-pod": "pass"}, extra=mock, cluster=None)
    r = run("test", tmp_path)
    assert r.exit_code == 0, r.output


@pytest.mark.parametrize("response, field", [
    ("{statusCode: [200], body: {owner: red}}", "statusCode"),
    ("{statusCode: 7, body: {owner: red}}", "statusCode"),
    ("{status: 200, body: {owner: red}}", "status"),
])
def test_a_malformed_mocked_response_is_an_error_naming_the_field(run, tmp_path, response, field):
    mock = f"""apiCallResponses:
- url: https://owners.example.com/shop
  response: {response}
"""
    owner_suite(tmp_path, "apiCall: {service: {url: 'https://owners.example.com/shop'}}", "owners.owner",
                {"blue-pod": "fail", "red-pod": "pass"}, extra=mock, cluster=None)
    r = run("test", tmp_path)
    assert r.exit_code != 0 and "Traceback" not in r.output and "internal error" not in r.output, r.output
    assert "apiCallResponses" in r.output and field in r.output, r.output


def test_missing_crd_file_of_a_cluster_resource_is_a_notice(run, tmp_path):
    cluster = OWNERS_CLUSTER.replace("spec:\n", "spec:\n  crds: [crds/team.yaml]\n", 1)
    owner_suite(tmp_path, "apiCall: {urlPath: /apis/example.com/v1/teams/shop}", "owners.spec.owner",
                {"blue-pod": "pass", "red-pod": "fail"}, cluster=cluster)
    r = run("test", tmp_path)
    assert r.exit_code == 0, r.output
    assert "notice:" in r.stdout and "crds/team.yaml not found" in r.stdout


def test_bad_cluster_resource_is_an_error_naming_the_field(run, tmp_path):
    cluster = OWNERS_CLUSTER.replace("  resources:", "  objects:", 1)
    owner_suite(tmp_path, "configMap: {name: owners, namespace: shop}", "owners.data.owner",
                {"blue-pod": "pass"}, cluster=cluster)
    r = run("test", tmp_path)
    assert r.exit_code == 1
    assert "cluster.yaml" in r.output and "spec.objects" in r.output


def test_missing_file_names_the_test_file_and_field(run, data, tmp_path):
    write_test(tmp_path, data, HEAD.replace("@DATA@/resources/pods.yaml", "nope/pods.yaml") + """results:
  - policy: require-team-label
    rule: check-team
    kind: Pod
    resources: [good]
    result: pass
""")
    r = run("test", tmp_path)
    assert r.exit_code == 1
    assert "kyverno-test.yaml: resources[0]: nope/pods.yaml: no such file or directory" in r.output
