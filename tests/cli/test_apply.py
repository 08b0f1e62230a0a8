"""``verno apply`` end to end: Kyverno's text output, counts, exit codes, reports and options."""
from __future__ import annotations

import json

import pytest
import yaml

POD_OK = """apiVersion: v1
kind: Pod
metadata:
  name: stdin-pod
  namespace: apps
  labels: {team: green}
spec:
  containers: [{name: c, image: nginx}]
"""


def test_default_output_exact(run, data):
    r = run("apply", data / "policies/require-team-label.yaml", "-r", data / "resources/pods.yaml")
    assert r.exit_code == 1
    assert r.stdout == (
        "\nApplying 3 policy rule(s) to 2 resource(s)...\n"
        "\npolicy require-team-label -> resource default/Pod/unlabelled failed:\n"
        "1 - check-team validation error: The label `team` is required. "
        "rule check-team failed at path /metadata/labels/\n"
        "\npass: 1, fail: 1, warn: 0, error: 0, skip: 0 \n"
    )


def test_real_executable_output_and_exit_code(run_exe, data):
    p = run_exe("apply", data / "policies/require-team-label.yaml", "-r", data / "resources/pods.yaml")
    assert p.returncode == 1
    lines = p.stdout.splitlines()
    assert lines[1] == "Applying 3 policy rule(s) to 2 resource(s)..."
    assert "policy require-team-label -> resource default/Pod/unlabelled failed:" in lines
    assert lines[-1] == "pass: 1, fail: 1, warn: 0, error: 0, skip: 0 "
    assert "Traceback" not in p.stderr


def test_real_executable_all_pass_exit_zero(run_exe, data):
    p = run_exe("apply", data / "policies/require-team-label.yaml", "-r", "-", input=POD_OK)
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines()[-1] == "pass: 1, fail: 0, warn: 0, error: 0, skip: 0 "


def test_deny_message_and_audit_fail(run, data):
    r = run("apply", data / "policies/no-default-namespace.yaml", "-r", data / "resources/pods.yaml")
    assert r.exit_code == 1  # an Audit failure is still a failure without --audit-warn
    assert "policy no-default-namespace -> resource default/Pod/unlabelled failed:" in r.stdout
    assert "1 - deny-default Using the default namespace is not allowed for unlabelled\n" in r.stdout
    assert r.stdout.endswith("pass: 1, fail: 1, warn: 0, error: 0, skip: 0 \n")


def test_audit_warn(run, data):
    r = run("apply", data / "policies/no-default-namespace.yaml", "-r", data / "resources/pods.yaml",
            "--audit-warn")
    assert r.exit_code == 0
    assert "default/Pod/unlabelled failed as audit warning:" in r.stdout
    assert r.stdout.endswith("pass: 1, fail: 0, warn: 1, error: 0, skip: 0 \n")
    r = run("apply", data / "policies/no-default-namespace.yaml", "-r", data / "resources/pods.yaml",
            "--audit-warn", "--warn-exit-code", "3")
    assert r.exit_code == 3


def test_audit_warn_leaves_enforce_failures(run, data):
    r = run("apply", data / "policies/require-team-label.yaml", "-r", data / "resources/pods.yaml", "--audit-warn")
    assert r.exit_code == 1
    assert "fail: 1, warn: 0" in r.stdout


def test_unscored_is_warn(run, data):
    r = run("apply", data / "policies/unscored.yaml", "-r", data / "resources/pods.yaml")
    assert r.exit_code == 0
    assert r.stdout.endswith("pass: 0, fail: 0, warn: 2, error: 0, skip: 0 \n")
    assert run("apply", data / "policies/unscored.yaml", "-r", data / "resources/pods.yaml",
               "--warn-exit-code", "7").exit_code == 7


def test_warn_no_pass(run, data):
    # nothing passes, nothing warns: --warn-no-pass uses the warn exit code
    r = run("apply", data / "extra/namespaced-policy.yaml", "-r", data / "resources/configmap.json",
            "--warn-no-pass", "--warn-exit-code", "4")
    assert r.stdout.endswith("pass: 0, fail: 0, warn: 0, error: 0, skip: 0 \n")
    assert r.exit_code == 4
    # something passed: exit 0
    r = run("apply", data / "policies/require-team-label.yaml", "-r", "-", "--warn-no-pass",
            "--warn-exit-code", "4", input=POD_OK)
    assert r.exit_code == 0


def test_policy_report_yaml(run, data):
    r = run("apply", data / "policies", "-r", data / "resources/pods.yaml", "-p")
    assert r.exit_code == 1
    assert "Applying" not in r.stdout
    assert not any(line.startswith("pass: ") for line in r.stdout.splitlines())
    reports = list(yaml.safe_load_all(r.stdout))
    assert all(rep["apiVersion"] == "wgpolicyk8s.io/v1alpha2" for rep in reports)
    results = [res for rep in reports for res in rep["results"]]
    total = {k: sum(rep["summary"][k] for rep in reports) for k in ("pass", "fail", "warn", "error", "skip")}
    assert total == {"pass": 2, "fail": 2, "warn": 2, "error": 0, "skip": 0}
    check = [x for x in results if x["rule"] == "check-team" and x["result"] == "fail"]
    assert len(check) == 1
    entry = check[0]
    assert entry["policy"] == "require-team-label"
    assert entry["resources"][0] == {"apiVersion": "v1", "kind": "Pod", "name": "unlabelled",
                                     "namespace": "default"}
    assert entry["message"].startswith("validation error: The label `team` is required.")
    assert entry["scored"] is True and entry["source"] == "kyverno"
    assert entry["category"] == "Best Practices" and entry["severity"] == "medium"
    unscored = [x for x in results if x["policy"] == "unscored-priority"]
    assert {x["result"] for x in unscored} == {"warn"} and all(x["scored"] is False for x in unscored)


def test_policy_report_json(run, data):
    r = run("apply", data / "policies/require-team-label.yaml", "-r", data / "resources/pods.yaml", "-p",
            "--output-format", "json")
    doc = json.loads(r.stdout)
    reports = doc if isinstance(doc, list) else [doc]
    summary = {k: sum(rep["summary"][k] for rep in reports) for k in ("pass", "fail")}
    assert summary == {"pass": 1, "fail": 1}


def test_table_and_detailed(run, data):
    r = run("apply", data / "policies/require-team-label.yaml", "-r", data / "resources/pods.yaml", "-t")
    assert r.exit_code == 1
    lines = r.stdout.splitlines()
    header = [c.strip() for c in lines[1].strip("│").split("│")]
    assert header == ["ID", "POLICY", "RULE", "RESOURCE", "RESULT"]
    body = [[c.strip() for c in ln.strip("│").split("│")] for ln in lines[3:-1]]
    assert ["2", "require-team-label", "check-team", "default/Pod/unlabelled", "fail"] in body
    assert "pass:" not in r.stdout
    r = run("apply", data / "policies/require-team-label.yaml", "-r", data / "resources/pods.yaml", "-t",
            "--detailed-results")
    assert "MESSAGE" in r.stdout.splitlines()[1]
    assert "The label `team` is required" in r.stdout


def test_set_and_values_file(run, data):
    pol = data / "extra/env-policy.yaml"
    res = data / "resources/pods.yaml"
    r = run("apply", pol, "-r", res, "-s", "envName=production")
    assert r.exit_code == 0 and r.stdout.endswith("pass: 2, fail: 0, warn: 0, error: 0, skip: 0 \n")
    r = run("apply", pol, "-r", res, "-s", "envName=dev")
    assert r.exit_code == 1 and "1 - allowed-env env dev is not production" in r.stdout
    # per-resource values: only `good` is production
    r = run("apply", pol, "-r", res, "-f", data / "extra/values.yaml")
    assert r.exit_code == 1
    assert "resource default/Pod/unlabelled failed:" in r.stdout
    assert "apps/Pod/good failed" not in r.stdout
    assert r.stdout.endswith("pass: 1, fail: 1, warn: 0, error: 0, skip: 0 \n")


def test_a_values_subresource_with_a_field_of_the_wrong_type_is_an_error_naming_it(run, data, tmp_path):
    values = tmp_path / "values.yaml"
    values.write_text("""apiVersion: cli.kyverno.io/v1alpha1
kind: Value
subresources:
- parentResource: {kind: 64, name: pods, namespaced: true, version: v1}
  subresource: {kind: Binding, name: pods/binding, namespaced: true, version: v1}
""")
    r = run("apply", data / "extra/env-policy.yaml", "-r", data / "resources/pods.yaml", "-f", values)
    assert r.exit_code != 0 and "internal error" not in r.output and "Traceback" not in r.output
    assert "subresources[0].parentResource.kind: Input should be a valid string" in r.output, r.output


def test_userinfo_roles_cluster_roles_subjects(run, data):
    pol = data / "extra/admins-only.yaml"
    res = data / "resources/configmap.json"
    for user, name in (("dev", "dave"), ("editor", "erin"), ("mallory", "mallory")):
        r = run("apply", pol, "-r", res, "-u", data / f"extra/user-{user}.yaml")
        assert r.exit_code == 1, user
        assert f"1 - block-developers {name} may not touch ConfigMaps" in r.stdout
    r = run("apply", pol, "-r", res, "-u", data / "extra/user-admin.yaml")
    assert r.exit_code == 0
    assert r.stdout.endswith("pass: 0, fail: 0, warn: 0, error: 0, skip: 0 \n")


def test_policy_exception_skips(run, data):
    r = run("apply", data / "policies/require-team-label.yaml", "-r", data / "resources/pods.yaml",
            "-e", data / "extra/exception.yaml")
    assert r.exit_code == 0
    assert "Applying 3 policy rule(s) to 2 resource(s) with 1 exception(s)..." in r.stdout
    assert r.stdout.endswith("pass: 1, fail: 0, warn: 0, error: 0, skip: 1 \n")


def test_namespaced_policy_scope(run, data):
    r = run("apply", data / "extra/namespaced-policy.yaml", "-r", data / "resources/pods.yaml")
    # only the Pod in the policy's namespace is evaluated
    assert r.exit_code == 1
    assert "apps-need-owner -> resource apps/Pod/good failed:" in r.stdout
    assert "default/Pod/unlabelled" not in r.stdout
    assert r.stdout.endswith("pass: 0, fail: 1, warn: 0, error: 0, skip: 0 \n")


def test_autogen_on_deployment(run, data):
    r = run("apply", data / "policies/require-team-label.yaml", "-r", data / "resources/deployment.yaml")
    assert r.exit_code == 1
    assert "policy require-team-label -> resource apps/Deployment/web failed:" in r.stdout
    assert ("1 - autogen-check-team validation error: The label `team` is required. rule autogen-check-team "
            "failed at path /spec/template/metadata/labels/team/") in r.stdout


def test_resource_directory_json_and_list(run, data):
    r = run("apply", data / "policies/require-team-label.yaml", "-r", data / "resources")
    # configmap.json (not matched), deployment, List of 2, 2 pods: 6 resources
    assert "to 6 resource(s)" in r.stdout
    assert "apps/Pod/listed-b failed:" in r.stdout
    assert r.stdout.endswith("pass: 2, fail: 3, warn: 0, error: 0, skip: 0 \n")


def test_list_kind(run, data):
    r = run("apply", data / "policies/require-team-label.yaml", "-r", data / "resources/list.yaml")
    assert "to 2 resource(s)" in r.stdout
    assert r.stdout.endswith("pass: 1, fail: 1, warn: 0, error: 0, skip: 0 \n")


def test_resources_from_stdin(run, data):
    r = run("apply", data / "policies/require-team-label.yaml", "-r", "-", input=POD_OK + "---\n" + POD_OK)
    assert r.exit_code == 0
    assert "to 2 resource(s)" in r.stdout


def test_policy_directory_with_non_policy_is_an_error(run, data, tmp_path):
    (tmp_path / "pol.yaml").write_text((data / "policies/require-team-label.yaml").read_text())
    (tmp_path / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    r = run("apply", tmp_path, "-r", "-", input=POD_OK)
    assert r.exit_code == 1
    assert "cm.yaml (document 1): kind: ConfigMap (v1) is not a policy" in r.stderr
    assert "pass:" not in r.stdout


@pytest.mark.parametrize("policy", [
    "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: nginx}]}\n",
    "apiVersion: kyverno.io/v2\nkind: ClusterCleanupPolicy\nmetadata: {name: v}\nspec:\n"
    "  schedule: '* * * * *'\n  match: {any: [{resources: {kinds: [Pod]}}]}\n",
])
def test_policy_that_is_not_run_fails_the_command(run, tmp_path, policy):
    """A CI gate whose policies verno cannot run must not pass: the command fails before evaluating."""
    (tmp_path / "p.yaml").write_text(policy)
    r = run("apply", tmp_path / "p.yaml", "-r", "-", input=POD_OK)
    assert r.exit_code == 1 and "Error:" in r.stderr and "p.yaml (document 1): kind:" in r.stderr
    assert "pass:" not in r.stdout


def test_empty_policy_directory_fails_the_command(run, tmp_path):
    (tmp_path / "policies").mkdir()
    r = run("apply", tmp_path / "policies", "-r", "-", input=POD_OK)
    assert r.exit_code == 1 and "no policies found" in r.stderr


def test_resources_required(run, data):
    r = run("apply", data / "policies/require-team-label.yaml")
    assert r.exit_code == 2
    assert "-r" in r.stderr
