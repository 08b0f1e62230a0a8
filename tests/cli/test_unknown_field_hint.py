"""An unknown field names the closest field the model accepts at that place."""
from __future__ import annotations

from pathlib import Path

import yaml

POLICY = {
    "apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy", "metadata": {"name": "typo"},
    "spec": {"validationFailureAction": "Audit", "rules": [{
        "name": "r", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
        "validate": {"pattern": {"metadata": {"name": "?*"}}}}]},
}
POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "n"}}


def _apply(run, tmp_path: Path, policy: dict, *extra: str):
    (tmp_path / "policy.yaml").write_text(yaml.safe_dump(policy))
    (tmp_path / "pod.yaml").write_text(yaml.safe_dump(POD))
    return run("apply", tmp_path / "policy.yaml", "-r", tmp_path / "pod.yaml", *extra)


def _renamed(mapping: dict, old: str, new: str) -> dict:
    return {new if k == old else k: v for k, v in mapping.items()}


def test_top_level_misspelling(run, tmp_path):
    policy = {**POLICY, "spec": _renamed(POLICY["spec"], "validationFailureAction", "validationFailureActon")}
    r = _apply(run, tmp_path, policy)
    assert r.exit_code == 1
    assert r.stderr == (f"Error: {tmp_path / 'policy.yaml'} (document 1): spec.validationFailureActon: unknown field "
                        "(did you mean validationFailureAction?)\n")


def test_nested_misspellings(run, tmp_path):
    rule = POLICY["spec"]["rules"][0]
    policy = {**POLICY, "spec": {**POLICY["spec"], "rules": [_renamed(rule, "match", "matchh")]}}
    r = _apply(run, tmp_path, policy)
    assert r.exit_code == 1
    assert r.stderr.endswith("spec.rules[0].matchh: unknown field (did you mean match?)\n")
    deeper = {**rule, "match": {"any": [{"resourcess": {"kinds": ["Pod"]}}]}}
    r = _apply(run, tmp_path, {**POLICY, "spec": {**POLICY["spec"], "rules": [deeper]}})
    assert r.stderr.endswith("spec.rules[0].match.any[0].resourcess: unknown field (did you mean resources?)\n")


def test_no_hint_when_nothing_is_close(run, tmp_path):
    rule = {**POLICY["spec"]["rules"][0], "zzz": 1}
    r = _apply(run, tmp_path, {**POLICY, "spec": {**POLICY["spec"], "rules": [rule]}})
    assert r.exit_code == 1
    assert r.stderr.endswith("spec.rules[0].zzz: unknown field\n")


def test_userinfo_file_misspelling(run, tmp_path):
    info = tmp_path / "user.yaml"
    info.write_text(yaml.safe_dump({"apiVersion": "cli.kyverno.io/v1alpha1", "kind": "UserInfo",
                                    "clusterRole": ["admin"]}))
    r = _apply(run, tmp_path, POLICY, "-u", info)
    assert r.exit_code == 1
    assert r.stderr.endswith("clusterRole: unknown field (did you mean clusterRoles?)\n")
