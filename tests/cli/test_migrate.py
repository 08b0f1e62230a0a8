"""`verno migrate`: ClusterPolicies written as CEL policies that load, decide as the originals on the
bundled examples (`--check`), and say what could not be translated."""
from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"

GENERATE_AND_MUTATE = """
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: defaults}
spec:
  rules:
  - name: netpol
    match: {any: [{resources: {kinds: [Namespace]}}]}
    generate:
      apiVersion: networking.k8s.io/v1
      kind: NetworkPolicy
      name: default-deny
      namespace: "{{request.object.metadata.name}}"
      synchronize: true
      data: {spec: {podSelector: {}, policyTypes: [Ingress]}}
  - name: team-label
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    preconditions:
      all:
      - {key: "{{ request.object.metadata.namespace }}", operator: NotEquals, value: kube-system}
    mutate:
      patchStrategicMerge:
        metadata:
          labels:
            team: platform
  - name: uses-context
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    context:
    - name: cm
      configMap: {name: settings, namespace: default}
    validate:
      message: "needs a ConfigMap"
      deny: {}
"""


def test_the_examples_migrate_and_decide_alike(run_exe, tmp_path):
    out = run_exe("migrate", EXAMPLES / "policies")
    assert out.returncode == 0, out.stderr
    docs = [d for d in yaml.safe_load_all(out.stdout) if d]
    assert {d["kind"] for d in docs} == {"ValidatingPolicy"}
    assert "not translated" not in out.stdout  # the foreach rules too
    assert "5 of 5 rules translated; 4 of 4 policies whole" in out.stderr
    (tmp_path / "migrated.yaml").write_text(out.stdout)
    applied = run_exe("apply", tmp_path / "migrated.yaml", "-r", EXAMPLES / "resources")  # they load and run
    assert "Error" not in applied.stderr, applied.stderr
    check = run_exe("migrate", "--check", EXAMPLES / "policies", "-r", EXAMPLES / "resources")
    assert check.returncode == 0, check.stdout + check.stderr
    assert "0 differ" in check.stderr


def test_partial_migration_exits_1_and_names_the_rule(run_exe, tmp_path):
    (tmp_path / "policy.yaml").write_text(GENERATE_AND_MUTATE)
    out = run_exe("migrate", tmp_path / "policy.yaml")
    assert out.returncode == 1
    assert "2 of 3 rules translated; 0 of 1 policies whole" in out.stderr


def test_generate_mutate_and_what_is_left_out(run_exe, tmp_path):
    (tmp_path / "policy.yaml").write_text(GENERATE_AND_MUTATE)
    out = run_exe("migrate", tmp_path / "policy.yaml", "--allow-partial")
    docs = {d["metadata"]["name"]: d for d in yaml.safe_load_all(out.stdout) if d}
    assert docs["defaults-netpol"]["kind"] == "GeneratingPolicy"
    assert docs["defaults-netpol"]["spec"]["evaluation"] == {"synchronize": {"enabled": True}}
    assert docs["defaults-team-label"]["kind"] == "MutatingPolicy"
    assert docs["defaults-team-label"]["spec"]["matchConditions"][0]["expression"] == \
        '((object.metadata["namespace"] != "kube-system"))'  # `namespace` is a reserved word in CEL
    assert "rule uses-context not translated: the context entry 'cm' is never read" in out.stdout
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}}
    configmaps = [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": ns}}
                  for ns in ("default", "kube-system")]
    (tmp_path / "resources.yaml").write_text(yaml.safe_dump_all([namespace, *configmaps]))
    check = run_exe("migrate", "--check", tmp_path / "policy.yaml", "-r", tmp_path / "resources.yaml")
    assert check.returncode == 0, check.stdout + check.stderr
    assert "3 resources, 6 rule verdicts compared, 0 differ" in check.stderr


def test_check_lists_a_difference(run_exe, tmp_path):
    # every container skipped by its conditional anchor is Kyverno's skip; inside a list in a list the
    # translation cannot say so (it passes): --check shows it
    policy = {"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy", "metadata": {"name": "ports"},
              "spec": {"rules": [{"name": "named", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
                                  "validate": {"pattern": {"spec": {"containers": [
                                      {"ports": [{"(name)": "http", "containerPort": 80}]}]}}}}]}}
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
           "spec": {"containers": [{"name": "c", "image": "x", "ports": [{"name": "grpc", "containerPort": 9}]}]}}
    (tmp_path / "policy.yaml").write_text(yaml.safe_dump(policy))
    (tmp_path / "pod.yaml").write_text(yaml.safe_dump(pod))
    check = run_exe("migrate", "--check", tmp_path / "policy.yaml", "-r", tmp_path / "pod.yaml")
    assert check.returncode == 1
    assert "default/Pod/p: ports/named:" in check.stdout and "1 differ" in check.stderr


EXISTING = """
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: label-secrets}
spec:
  rules:
  - name: on-configmap
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    mutate:
      targets: [{apiVersion: v1, kind: Secret, name: "secret-*", namespace: staging}]
      patchStrategicMerge: {metadata: {labels: {foo: bar}}}
"""


def test_check_patches_mutate_existing_targets(run_exe, tmp_path):
    (tmp_path / "policy.yaml").write_text(EXISTING)
    (tmp_path / "trigger.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: staging}\n")
    (tmp_path / "targets.yaml").write_text(
        "apiVersion: v1\nkind: Secret\nmetadata: {name: secret-1, namespace: staging}\n---\n"
        "apiVersion: v1\nkind: Secret\nmetadata: {name: other, namespace: staging}\n")
    out = run_exe("migrate", tmp_path / "policy.yaml")
    [doc] = [d for d in yaml.safe_load_all(out.stdout) if d]
    assert doc["spec"]["evaluation"]["mutateExisting"] == {"enabled": True}
    assert doc["spec"]["targetMatchConstraints"]["resourceRules"][0]["resources"] == ["secrets"]
    check = run_exe("migrate", "--check", tmp_path / "policy.yaml", "-r", tmp_path / "trigger.yaml",
                    "--target-resource", tmp_path / "targets.yaml")
    assert check.returncode == 0 and "1 rule verdicts compared, 0 differ" in check.stderr, check.stdout + check.stderr
