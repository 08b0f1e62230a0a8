"""``request.userInfo``, ``request.roles`` and ``request.clusterRoles`` in the CLI, as Kyverno builds them.

Kyverno's CLI adds the RequestInfo to the JSON context only when a UserInfo file is given, and marshals
it with ``omitempty`` (``k8s.io/api/authentication/v1.UserInfo`` and ``RequestInfo``): without ``-u`` none
of the three keys exists; with ``-u`` an empty field is absent rather than ``""``, ``[]`` or ``{}``.
"""
from __future__ import annotations

from pathlib import Path

import yaml

POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p1", "namespace": "ns1"},
       "spec": {"containers": [{"name": "c", "image": "nginx"}]}}


def _policy(tmp_path: Path, expressions: dict[str, str]) -> Path:
    """One deny rule per expression: it denies when the expression's value equals ``absent``."""
    rules = [{"name": name, "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
              "validate": {"message": f"{name}: absent", "deny": {"conditions": {"any": [
                  {"key": "{{ " + expr + " }}", "operator": "Equals", "value": "absent"}]}}}}
             for name, expr in expressions.items()]
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump({"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy",
                                    "metadata": {"name": "who"}, "spec": {"rules": rules}}))
    (tmp_path / "pod.yaml").write_text(yaml.safe_dump(POD))
    return path


def _results(r) -> dict[str, tuple[str, str]]:
    rows = {}
    for line in r.stdout.splitlines():
        cells = [c.strip() for c in line.strip("│").split("│")]
        if len(cells) == 6 and cells[1] == "who":
            rows[cells[2]] = (cells[4], cells[5])
    return rows


def test_without_userinfo_the_request_has_no_user_roles_or_cluster_roles(run, tmp_path):
    policy = _policy(tmp_path, {
        "user": "not_null(request.userInfo, 'absent')",
        "roles": "not_null(request.roles, 'absent')",
        "cluster-roles": "not_null(request.clusterRoles, 'absent')",
        "username-default": "request.userInfo.username || 'absent'",
        "filtered": "request.userInfo.groups[?contains(@, 'x')]",
        "operation": "request.operation",
    })
    rows = _results(run("apply", policy, "-r", tmp_path / "pod.yaml", "-t", "--detailed-results"))
    assert rows["user"][0] == rows["roles"][0] == rows["cluster-roles"][0] == "fail"
    assert rows["username-default"][0] == "fail"
    # a path through the missing userInfo outside ||, filters and function arguments: Kyverno's error
    assert rows["filtered"] == ("error", 'failed to check deny conditions: failed to resolve '
                                "request.userInfo.groups[?contains(@, 'x')] at path : JMESPath query failed: "
                                'Unknown key "userInfo" in path')
    assert rows["operation"][0] == "pass"


def test_with_userinfo_empty_fields_are_absent_and_set_ones_present(run, tmp_path):
    policy = _policy(tmp_path, {
        "groups": "not_null(request.userInfo.groups, 'absent')",
        "uid": "not_null(request.userInfo.uid, 'absent')",
        "cluster-roles": "not_null(request.clusterRoles, 'absent')",
        "username": "request.userInfo.username",
        "roles": "request.roles[0]",
    })
    info = tmp_path / "user.yaml"
    info.write_text(yaml.safe_dump({"apiVersion": "cli.kyverno.io/v1alpha1", "kind": "UserInfo",
                                    "roles": ["absent"], "userInfo": {"username": "absent"}}))
    rows = _results(run("apply", policy, "-r", tmp_path / "pod.yaml", "-u", info, "-t", "--detailed-results"))
    assert {name: result for name, (result, _) in rows.items()} == {
        "groups": "fail", "uid": "fail", "cluster-roles": "fail", "username": "fail", "roles": "fail"}
