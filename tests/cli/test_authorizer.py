"""`authorizer` in a ValidatingAdmissionPolicy and a ClusterPolicy's validate.cel, under `verno test`: the
checks are answered by Kubernetes' RBAC over the Roles and bindings the Test gives (its Context file)."""
from __future__ import annotations

from pathlib import Path

import yaml

SCALE_CHECK = ("authorizer.group('apps').resource('deployments').subresource('scale')"
               ".namespace(object.metadata.namespace).check('update').allowed()")

VAP = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
       "metadata": {"name": "big-needs-scale-rights"},
       "spec": {"matchConstraints": {"resourceRules": [{"apiGroups": ["apps"], "apiVersions": ["v1"],
                                                        "resources": ["deployments"], "operations": ["CREATE"]}]},
                "validations": [{"expression": f"object.spec.replicas <= 5 || {SCALE_CHECK}",
                                 "message": "more than 5 replicas needs the right to scale deployments"}]}}

CPOL = {"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy", "metadata": {"name": "secret-readers-only"},
        "spec": {"validationFailureAction": "Enforce", "background": False, "rules": [{
            "name": "can-read-secrets", "match": {"any": [{"resources": {"kinds": ["Deployment"]}}]},
            "validate": {"cel": {"expressions": [{
                "expression": "authorizer.group('').resource('secrets').namespace(object.metadata.namespace)"
                              ".check('get').allowed()",
                "message": "the requester cannot read secrets in this namespace"}]}}}]}}

RBAC = [
    {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "ops", "namespace": "team"},
     "rules": [{"apiGroups": ["apps"], "resources": ["deployments/scale"], "verbs": ["update"]},
               {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]},
    {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "ops", "namespace": "team"},
     "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "ops"},
     "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "alice"}]},
]


def deployment(name: str, namespace: str, replicas: int) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": namespace},
            "spec": {"replicas": replicas, "template": {"spec": {"containers": [{"name": "c", "image": "x"}]}}}}


def suite(tmp_path: Path, results: list[dict], *, rbac: list[dict] = RBAC) -> Path:
    (tmp_path / "policies.yaml").write_text(yaml.safe_dump_all([VAP, CPOL]))
    (tmp_path / "resources.yaml").write_text(yaml.safe_dump_all(
        [deployment("big", "team", 10), deployment("big", "prod", 10), deployment("small", "prod", 2)]))
    (tmp_path / "context.yaml").write_text(yaml.safe_dump({
        "apiVersion": "cli.kyverno.io/v1alpha1", "kind": "Context", "metadata": {"name": "rbac"},
        "spec": {"resources": rbac}}))
    (tmp_path / "user.yaml").write_text(yaml.safe_dump({
        "apiVersion": "cli.kyverno.io/v1alpha1", "kind": "UserInfo", "userInfo": {"username": "alice"}}))
    (tmp_path / "kyverno-test.yaml").write_text(yaml.safe_dump({
        "apiVersion": "cli.kyverno.io/v1alpha1", "kind": "Test", "metadata": {"name": "authz"},
        "policies": ["policies.yaml"], "resources": ["resources.yaml"], "context": "context.yaml",
        "userinfo": "user.yaml", "results": results}))
    return tmp_path


def vap(resource: str, result: str) -> dict:
    return {"policy": "big-needs-scale-rights", "isValidatingAdmissionPolicy": True, "kind": "Deployment",
            "resources": [resource], "result": result}


def cpol(resource: str, result: str) -> dict:
    return {"policy": "secret-readers-only", "rule": "can-read-secrets", "kind": "Deployment",
            "resources": [resource], "result": result}


def test_checks_follow_the_rbac_the_test_gives(run, tmp_path):
    results = [vap("team/big", "pass"), vap("prod/big", "fail"), vap("prod/small", "pass"),
               cpol("team/big", "pass"), cpol("prod/big", "fail")]
    r = run("test", suite(tmp_path, results))
    assert r.exit_code == 0, r.output
    assert "Test Summary: 5 tests passed and 0 tests failed" in r.stdout


def test_the_opposite_expectations_fail(run, tmp_path):
    results = [vap("team/big", "fail"), vap("prod/big", "pass"), cpol("team/big", "fail"), cpol("prod/big", "pass")]
    r = run("test", suite(tmp_path, results))
    assert r.exit_code == 1
    assert "Test Summary: 0 tests passed and 4 tests failed" in r.stdout


def test_without_rbac_objects_the_check_is_denied_and_never_a_silent_pass(run, tmp_path):
    configmap = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "team"}}
    r = run("test", suite(tmp_path, [vap("team/big", "pass"), cpol("team/big", "pass")], rbac=[configmap]))
    assert r.exit_code == 1
    assert "Test Summary: 0 tests passed and 2 tests failed" in r.stdout
