"""``verno apply``'s default output names every rule error: policy, rule, resource and message."""
from __future__ import annotations

from pathlib import Path

POLICY = """apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: errs
spec:
  rules:
  - name: deny-unresolved
    match:
      any:
      - resources:
          kinds: [Pod]
    validate:
      deny:
        conditions:
          any:
          - key: "{{ request.object.spec.nosuch.x }}"
            operator: Equals
            value: a
  - name: label-unresolved
    match:
      any:
      - resources:
          kinds: [Pod]
    mutate:
      patchStrategicMerge:
        metadata:
          labels:
            x: "{{ request.object.spec.nosuch.y }}"
  - name: pss-on-configmap
    match:
      any:
      - resources:
          kinds: [ConfigMap]
    validate:
      podSecurity:
        level: baseline
        version: latest
"""

RESOURCES = """apiVersion: v1
kind: Pod
metadata:
  name: p1
  namespace: ns1
spec:
  containers:
  - name: c
    image: nginx
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: cm1
  namespace: ns1
data: {}
"""


def _files(tmp_path: Path) -> tuple[Path, Path]:
    policy, resources = tmp_path / "policy.yaml", tmp_path / "resources.yaml"
    policy.write_text(POLICY)
    resources.write_text(RESOURCES)
    return policy, resources


def test_each_error_is_printed_with_its_policy_rule_resource_and_message(run, tmp_path):
    policy, resources = _files(tmp_path)
    r = run("apply", policy, "-r", resources)
    assert r.exit_code == 1
    out = r.stdout
    assert out.endswith("pass: 0, fail: 0, warn: 0, error: 3, skip: 0 \n")
    # a mutate rule's error: Kyverno's own two lines
    assert ("\nerror while applying mutate policy errs -> resource ns1/Pod/p1 \nerror:  mutate rule "
            "label-unresolved: variable substitution failed: failed to resolve request.object.spec.nosuch.y"
            in out)
    # a validate rule's error (deny conditions), in the shape of a failure block
    assert "\npolicy errs -> resource ns1/Pod/p1 error:\n1 - deny-unresolved failed to check deny conditions: " \
        "failed to resolve request.object.spec.nosuch.x" in out
    # a podSecurity rule's error
    assert ("\npolicy errs -> resource ns1/ConfigMap/cm1 error:\n1 - pss-on-configmap Error while getting new "
            "resource: could not find correct resource type\n") in out


def test_errors_are_left_out_of_table_and_report_modes(run, tmp_path):
    policy, resources = _files(tmp_path)
    for flag in ("-t", "-p"):
        r = run("apply", policy, "-r", resources, flag)
        assert r.exit_code == 1
        assert "error while applying" not in r.stdout and " error:\n" not in r.stdout
