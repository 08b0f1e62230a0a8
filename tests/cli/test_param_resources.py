"""``verno test`` with a Test's ``paramResources``: the parameter objects of ``validate.cel`` rules offline."""
from __future__ import annotations

from pathlib import Path


POLICY = """apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: limit-replicas
spec:
  rules:
  - name: max-replicas
    match:
      any:
      - resources:
          kinds: [Deployment]
    validate:
      failureAction: Enforce
      cel:
        paramKind:
          apiVersion: v1
          kind: ConfigMap
        paramRef:
          name: replica-limits
        expressions:
        - expression: "object.spec.replicas <= int(params.data.maxReplicas)"
          messageExpression: "'at most ' + params.data.maxReplicas + ' replicas'"
"""

PARAMS = """apiVersion: v1
kind: ConfigMap
metadata:
  name: replica-limits
data:
  maxReplicas: "3"
"""


def deployment(name: str, replicas: int, namespace: str = "") -> str:
    ns = f"\n  namespace: {namespace}" if namespace else ""
    return f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}{ns}
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: web}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      containers:
      - name: web
        image: nginx:1.27
"""


def suite(tmp_path: Path, *, params: str = "params.yaml", results: str = "") -> Path:
    (tmp_path / "policy.yaml").write_text(POLICY)
    (tmp_path / "params.yaml").write_text(PARAMS)
    (tmp_path / "resources.yaml").write_text(
        deployment("small", 2) + "---\n" + deployment("large", 5) + "---\n" + deployment("elsewhere", 1, "team"))
    (tmp_path / "kyverno-test.yaml").write_text(f"""apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata:
  name: replicas
policies: [policy.yaml]
resources: [resources.yaml]
paramResources: [{params}]
results:
{results or '''- policy: limit-replicas
  rule: max-replicas
  kind: Deployment
  resources: [small]
  result: pass
- policy: limit-replicas
  rule: max-replicas
  kind: Deployment
  resources: [large]
  result: fail
- policy: limit-replicas
  rule: max-replicas
  kind: Deployment
  resources: [elsewhere]
  result: error
'''}""")
    return tmp_path


def rows(text: str) -> list[list[str]]:
    return [[c.strip() for c in ln.strip().strip("│").split("│")] for ln in text.splitlines()
            if ln.startswith("│ ") and not ln.startswith("│ ID ")]


def test_params_are_read_from_param_resources(run, tmp_path):
    r = run("test", suite(tmp_path), "--detailed-results")
    assert r.exit_code == 0, r.output
    assert "Loading parameter resources ..." in r.stdout
    assert "Test Summary: 3 tests passed and 0 tests failed" in r.stdout
    # the params carry no namespace: as the resources, they are in "default" (not in "team")
    assert [row[3:] for row in rows(r.stdout)] == [
        ["Deployment/small", "Pass", "Ok", "Validation rule 'max-replicas' passed."],
        ["Deployment/large", "Pass", "Ok", "at most 3 replicas"],
        ["Deployment/elsewhere", "Pass", "Ok",
         'error in parameterized resource: configmaps "replica-limits" not found'],
    ]


def test_a_missing_param_resources_file_is_an_error_naming_the_field(run, tmp_path):
    r = run("test", suite(tmp_path, params="missing.yaml"))
    assert r.exit_code == 1
    assert "kyverno-test.yaml: paramResources[0]: missing.yaml: no such file or directory" in r.output
    assert "Traceback" not in r.output


def test_without_param_resources_the_rule_errors(run, tmp_path):
    suite(tmp_path, params="params.yaml")
    text = (tmp_path / "kyverno-test.yaml").read_text().replace("paramResources: [params.yaml]\n", "")
    (tmp_path / "kyverno-test.yaml").write_text(text)
    r = run("test", tmp_path, "--detailed-results")
    assert r.exit_code == 1
    assert "Test Summary: 1 tests passed and 2 tests failed" in r.stdout
    failed = r.stdout.split("Aggregated Failed Test Cases : ")[1]
    assert [row[3:] for row in rows(failed)] == [
        ["Deployment/small", "Fail", "Want pass, got error",
         'error in parameterized resource: configmaps "replica-limits" not found'],
        ["Deployment/large", "Fail", "Want fail, got error",
         'error in parameterized resource: configmaps "replica-limits" not found'],
    ]
