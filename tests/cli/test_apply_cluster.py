"""``verno apply --cluster`` against the API-server stand-in: objects created with kubectl, verno run as a
process with the stand-in's kubeconfig, results compared with an offline run over the same objects."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

TESTS = str(Path(__file__).resolve().parent.parent)
if TESTS not in sys.path:
    sys.path.insert(0, TESTS)

from apiserver.fixtures import apiserver, kubectl  # noqa: E402,F401
from controller.harness import load_crds  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]

POLICIES = """apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: require-team}
spec:
  validationFailureAction: Audit
  rules:
  - name: check-team
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate:
      message: label team is required
      pattern: {metadata: {labels: {team: "?*"}}}
---
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: configmap-owner}
spec:
  rules:
  - name: owner
    match: {any: [{resources: {kinds: [v1/ConfigMap]}}]}
    validate:
      message: configmaps name an owner
      pattern: {metadata: {annotations: {owner: "?*"}}}
---
apiVersion: policies.kyverno.io/v1
kind: ValidatingPolicy
metadata: {name: replica-floor}
spec:
  matchConstraints:
    resourceRules:
    - {apiGroups: [apps], apiVersions: [v1], operations: [CREATE, UPDATE], resources: [deployments]}
  validations:
  - expression: "object.spec.replicas >= 2"
    messageExpression: "'at least 2 replicas, got ' + string(object.spec.replicas)"
"""

NAMESPACE_POLICY = """apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: namespace-env}
spec:
  rules:
  - name: env-label
    match: {any: [{resources: {kinds: [Namespace]}}]}
    validate:
      message: namespaces carry an env label
      pattern: {metadata: {labels: {env: "?*"}}}
"""


def verno(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    env.pop("VERNO_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "verno", *args], capture_output=True, text=True, timeout=timeout,
                          env=env)


def populate(kubectl) -> None:
    kubectl("create", "namespace", "other")
    kubectl("label", "namespace", "other", "env=prod")
    kubectl("run", "good", "--image=nginx", "--labels=team=a")
    kubectl("run", "bad", "--image=nginx")
    kubectl("-n", "other", "run", "stray", "--image=nginx")
    kubectl("create", "deployment", "web", "--image=nginx", "--replicas=1")
    kubectl("-n", "other", "create", "deployment", "api", "--image=nginx", "--replicas=3")
    kubectl("create", "configmap", "settings", "--from-literal=a=b")
    kubectl("annotate", "configmap", "settings", "owner=platform")
    kubectl("-n", "other", "create", "configmap", "loose", "--from-literal=a=b")


def dump(kubectl, path: Path, kinds: str, *scope: str) -> Path:
    listed = yaml.safe_load(kubectl("get", kinds, *(scope or ("-A",)), "-o", "yaml").stdout)
    path.write_text(yaml.safe_dump_all(listed["items"]))
    return path


def blocks(stdout: str) -> set[str]:
    """The failure blocks of apply's text output (their order follows the resource order)."""
    return {b.strip() for b in stdout.split("\n\n") if b.strip().startswith("policy ")}


def reports(text: str) -> list[dict]:
    """PolicyReports without their results' timestamps (the time of each run)."""
    docs = list(yaml.safe_load_all(text))
    for doc in docs:
        for result in doc.get("results") or []:
            result.pop("timestamp", None)
    return docs


@pytest.fixture
def policies(tmp_path: Path) -> Path:
    path = tmp_path / "policies.yaml"
    path.write_text(POLICIES)
    return path


def test_cluster_results_equal_offline_results(apiserver, kubectl, policies, tmp_path):
    populate(kubectl)
    kube = str(apiserver.kubeconfig)
    live = verno("apply", str(policies), "--cluster", "--kubeconfig", kube)
    resources = dump(kubectl, tmp_path / "objects.yaml", "pods,configmaps,deployments")
    offline = verno("apply", str(policies), "-r", str(resources))
    assert live.returncode == offline.returncode == 1, live.stderr
    live_lines, offline_lines = live.stdout.splitlines(), offline.stdout.splitlines()
    assert live_lines[1] == offline_lines[1]  # Applying N policy rule(s) to M resource(s)...
    assert live_lines[1] == "Applying 5 policy rule(s) to 7 resource(s)..."  # 3 Pods, 2 Deployments, 2 ConfigMaps
    assert live_lines[-1] == offline_lines[-1]
    assert blocks(live.stdout) == blocks(offline.stdout)
    assert any(b.startswith("policy require-team -> resource default/Pod/bad failed:") for b in blocks(live.stdout))
    assert any("default/Deployment/web" in b and "autogen-check-team" in b for b in blocks(live.stdout))
    assert any("other/ConfigMap/loose" in b for b in blocks(live.stdout))
    assert not any("default/ConfigMap/settings" in b for b in blocks(live.stdout))
    # -p: the same PolicyReports
    live_report = verno("apply", str(policies), "--cluster", "--kubeconfig", kube, "-p")
    offline_report = verno("apply", str(policies), "-r", str(resources), "-p")
    assert live_report.returncode == offline_report.returncode == 1
    assert reports(live_report.stdout) == reports(offline_report.stdout)
    assert "replica-floor" in live_report.stdout and "at least 2 replicas, got 1" in live_report.stdout


def test_namespace_restricts_resources(apiserver, kubectl, policies, tmp_path):
    populate(kubectl)
    kube = str(apiserver.kubeconfig)
    live = verno("apply", str(policies), "--cluster", "--kubeconfig", kube, "-n", "other")
    resources = dump(kubectl, tmp_path / "other.yaml", "pods,configmaps,deployments", "-n", "other")
    offline = verno("apply", str(policies), "-r", str(resources))
    assert live.returncode == offline.returncode == 1
    assert live.stdout == offline.stdout
    assert "Applying 5 policy rule(s) to 3 resource(s)..." in live.stdout  # stray, loose, api
    assert "default/" not in live.stdout

    # cluster-scoped resources are left out with -n unless asked for
    ns_policy = tmp_path / "ns.yaml"
    ns_policy.write_text(NAMESPACE_POLICY)
    without = verno("apply", str(ns_policy), "--cluster", "--kubeconfig", kube, "-n", "other")
    assert without.returncode == 0 and "to 0 resource(s)" in without.stdout
    with_cluster = verno("apply", str(ns_policy), "--cluster", "--kubeconfig", kube, "-n", "other",
                         "--cluster-wide-resources")
    assert with_cluster.returncode == 1
    assert "policy namespace-env -> resource Namespace/default failed:" in with_cluster.stdout
    assert "Namespace/other failed" not in with_cluster.stdout  # env=prod


def test_namespace_labels_and_context_lookups_read_the_cluster(apiserver, kubectl, tmp_path):
    populate(kubectl)
    kubectl("-n", "other", "create", "configmap", "limits", "--from-literal=image=nginx")
    policy = tmp_path / "p.yaml"
    policy.write_text("""apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: prod-images}
spec:
  rules:
  - name: allowed-image
    match:
      any:
      - resources:
          kinds: [Pod]
          namespaceSelector: {matchLabels: {env: prod}}
    context:
    - name: limits
      configMap: {name: limits, namespace: "{{request.namespace}}"}
    - name: pods
      apiCall:
        urlPath: "/api/v1/namespaces/{{request.namespace}}/pods"
        jmesPath: "items | length(@)"
    validate:
      message: "image must be {{limits.data.image}}:1 ({{pods}} pods here)"
      pattern: {spec: {containers: [{image: "{{limits.data.image}}:1"}]}}
""")
    live = verno("apply", str(policy), "--cluster", "--kubeconfig", str(apiserver.kubeconfig))
    assert live.returncode == 1, live.stderr
    assert "Applying 3 policy rule(s) to 5 resource(s)..." in live.stdout  # 3 Pods, 2 Deployments
    # only the Pod and Deployment of the env=prod namespace are selected; the configMap and the apiCall
    # read the cluster
    assert "policy prod-images -> resource other/Pod/stray failed:\n1 - allowed-image validation error: " \
           "image must be nginx:1 (1 pods here)." in live.stdout
    assert "policy prod-images -> resource other/Deployment/api failed:" in live.stdout
    assert "pass: 0, fail: 2, warn: 0, error: 0, skip: 0" in live.stdout


def test_policies_from_the_cluster(apiserver, kubectl, tmp_path):
    load_crds(apiserver)
    populate(kubectl)
    kubectl("apply", "--validate=false", "-f", "-", input=POLICIES)
    kubectl("apply", "--validate=false", "-f", "-", input="""apiVersion: kyverno.io/v1
kind: Policy
metadata: {name: other-only, namespace: other}
spec:
  rules:
  - name: no-latest
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate:
      message: pin the image
      pattern: {spec: {containers: [{image: "*:*"}]}}
""")
    kube = str(apiserver.kubeconfig)
    live = verno("apply", "--cluster", "--kubeconfig", kube)
    assert live.returncode == 1, live.stderr
    # 3 ClusterPolicy rules + autogen, the Policy's rule + autogen, the ValidatingPolicy
    from_files = tmp_path / "all.yaml"
    from_files.write_text(POLICIES + "---\n" + yaml.safe_dump(yaml.safe_load(
        kubectl("get", "policy", "-n", "other", "other-only", "-o", "yaml").stdout)))
    files = verno("apply", str(from_files), "--cluster", "--kubeconfig", kube)
    assert blocks(live.stdout) == blocks(files.stdout)
    assert live.stdout.splitlines()[-1] == files.stdout.splitlines()[-1]
    assert "policy other/other-only -> resource other/Pod/stray failed:" in live.stdout
    assert "replica-floor" in verno("apply", "--cluster", "--kubeconfig", kube, "-t").stdout

    # -n: the Policies of that namespace only, and its resources
    only = verno("apply", "--cluster", "--kubeconfig", kube, "-n", "other")
    assert "default/" not in only.stdout and "other/other-only" in only.stdout

    # a policy in the cluster that does not load is an error naming it
    kubectl("apply", "--validate=false", "-f", "-", input="""apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: broken}
spec:
  rules:
  - name: r
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate: {message: m, pattern: {a: b}}
    mutate: {patchStrategicMerge: {a: b}}
""")
    broken = verno("apply", "--cluster", "--kubeconfig", kube)
    assert broken.returncode == 1 and broken.stdout == ""
    assert broken.stderr == "Error: clusterpolicies/broken (document 1): spec.rules[0]: rule 'r' must set exactly " \
                            "one of mutate, validate, generate, verifyImages (found mutate, validate)\n"


def test_no_policies_in_the_cluster_is_an_error(apiserver, kubectl):
    load_crds(apiserver)
    found = verno("apply", "--cluster", "--kubeconfig", str(apiserver.kubeconfig))
    assert found.returncode == 1
    assert found.stderr.startswith("Error: no policies found in the cluster at http://127.0.0.1:")
    assert found.stdout == ""


def test_resource_names_filter(apiserver, kubectl, policies):
    populate(kubectl)
    kube = str(apiserver.kubeconfig)
    one = verno("apply", str(policies), "--cluster", "--kubeconfig", kube, "-r", "bad")
    assert one.returncode == 1 and "to 1 resource(s)" in one.stdout and "default/Pod/bad" in one.stdout
    missing = verno("apply", str(policies), "--cluster", "--kubeconfig", kube, "-r", "nosuch")
    assert missing.returncode == 1
    assert "Error: nosuch not found in cluster" in missing.stderr


def test_unreachable_cluster_is_an_error(tmp_path, policies):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = tmp_path / "kubeconfig"
    config.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}]}))
    got = verno("apply", str(policies), "--cluster", "--kubeconfig", str(config))
    assert got.returncode == 1 and got.stdout == ""
    assert got.stderr == (f"Error: cannot reach the cluster at http://127.0.0.1:{port} (kubeconfig {config}) to "
                          "read its API resources (discovery): [Errno 111] Connection refused\n")
    missing = verno("apply", str(policies), "--cluster", "--kubeconfig", str(config), "--context", "nope")
    assert missing.returncode == 1 and "context nope" in missing.stderr and "Traceback" not in missing.stderr


def test_forbidden_list_is_an_error(apiserver, kubectl, policies):
    populate(kubectl)
    apiserver.deny("list", "", "pods")
    got = verno("apply", str(policies), "--cluster", "--kubeconfig", str(apiserver.kubeconfig))
    assert got.returncode == 1 and got.stdout == ""
    assert got.stderr.startswith(f"Error: cannot list pods in the cluster at http://127.0.0.1:")
    assert 'cannot list resource "pods" in API group "" at the cluster scope (HTTP 403 Forbidden); ' \
           "grant the user permission to list pods\n" in got.stderr


def test_cluster_flags_need_cluster(run, policies):
    got = run("apply", str(policies), "-r", str(policies), "-n", "x")
    assert got.exit_code == 2 and "-n/--namespace needs --cluster" in got.stderr
    got = run("apply", "-r", str(policies))
    assert got.exit_code == 2 and "require policy" in got.stderr
