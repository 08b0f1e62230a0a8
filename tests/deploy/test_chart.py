"""The Helm chart: rendered with Helm's engine, validated offline against the Kubernetes schemas, and
checked for what a highly available admission webhook needs."""
from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
import yaml

helm_python = pytest.importorskip("helm_python", reason="Helm's engine (helm-python-sdk) has no wheel here")

from verno.core.engine import Engine
from verno.core.policyset import load_policy_set
from verno.server.cluster import NAMESPACES, POLICY_KINDS, kind_collections

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "policies"


def one(docs: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def container(docs: list[dict[str, Any]]) -> dict[str, Any]:
    (c,) = one(docs, "Deployment", "verno")["spec"]["template"]["spec"]["containers"]
    return c


def test_default_render_is_valid_kubernetes(render, validate):
    docs = render()
    validate(docs)
    kinds = sorted(d["kind"] for d in docs)
    assert kinds == sorted([
        "CustomResourceDefinition", "CustomResourceDefinition", "CustomResourceDefinition",
        "CustomResourceDefinition", "CustomResourceDefinition", "CustomResourceDefinition",
        "CustomResourceDefinition",
        # the report CRDs: wgpolicyk8s.io PolicyReport, ClusterPolicyReport; openreports.io Report, ClusterReport
        "CustomResourceDefinition", "CustomResourceDefinition", "CustomResourceDefinition", "CustomResourceDefinition",
        # DeletingPolicy, NamespacedDeletingPolicy
        "CustomResourceDefinition", "CustomResourceDefinition",
        # GeneratingPolicy, NamespacedGeneratingPolicy
        "CustomResourceDefinition", "CustomResourceDefinition",
        # MutatingPolicy, NamespacedMutatingPolicy, ImageValidatingPolicy, NamespacedImageValidatingPolicy
        "CustomResourceDefinition", "CustomResourceDefinition", "CustomResourceDefinition", "CustomResourceDefinition",
        "ServiceAccount", "Secret", "Service", "Deployment", "PodDisruptionBudget",
        "ClusterRole", "ClusterRole", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding",
        "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration",
        # verno controller: its own ClusterRole, the aggregated generate role and its defaults, the view binding
        "ServiceAccount", "Deployment", "PodDisruptionBudget", "ClusterRole", "ClusterRole", "ClusterRole",
        "ClusterRoleBinding", "ClusterRoleBinding", "ClusterRoleBinding", "Role", "RoleBinding",
        # background scans: writing reports, the aggregated background role and its defaults
        "ClusterRole", "ClusterRole", "ClusterRole", "ClusterRoleBinding", "ClusterRoleBinding",
        # mutateExisting: the aggregated role, its defaults and their binding
        "ClusterRole", "ClusterRole", "ClusterRoleBinding",
    ])


def test_helm_lint_passes(chart_dir, certs):
    values = {"webhooks": {"caBundle": certs.ca_bundle}, "tls": {"cert": certs.cert, "key": certs.key}}
    result = helm_python.lint(str(chart_dir), values, strict=True, namespace="verno-system")
    assert result["errors"] == []
    assert [m for m in result["messages"] if m["severity"] > 1] == []  # INFO (icon) only


def test_deployment_is_highly_available(render):
    docs = render()
    deployment = one(docs, "Deployment", "verno")
    spec = deployment["spec"]
    pod_labels = spec["template"]["metadata"]["labels"]
    assert spec["replicas"] == 3
    assert spec["selector"]["matchLabels"].items() <= pod_labels.items()
    term = spec["template"]["spec"]["affinity"]["podAntiAffinity"][
        "preferredDuringSchedulingIgnoredDuringExecution"][0]["podAffinityTerm"]
    assert term["topologyKey"] == "kubernetes.io/hostname"
    assert term["labelSelector"]["matchLabels"].items() <= pod_labels.items()
    pdb = one(docs, "PodDisruptionBudget", "verno")
    assert pdb["spec"]["maxUnavailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    service = one(docs, "Service")
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert service["spec"]["ports"] == [{"name": "https", "port": 443, "targetPort": "https", "protocol": "TCP"}]


def test_hard_anti_affinity_and_min_available(render, validate):
    docs = render({"antiAffinity": "hard", "podDisruptionBudget": {"minAvailable": 2}, "replicas": 5})
    validate(docs)
    spec = one(docs, "Deployment", "verno")["spec"]
    assert spec["replicas"] == 5
    (term,) = spec["template"]["spec"]["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert term["topologyKey"] == "kubernetes.io/hostname"
    pdb = one(docs, "PodDisruptionBudget", "verno")["spec"]
    assert pdb["minAvailable"] == 2 and "maxUnavailable" not in pdb


def test_probes_ports_and_arguments(render):
    c = container(render({"server": {"excludeNamespaces": ["monitoring", "kube-system"], "workers": 2}}))
    assert c["ports"] == [{"name": "https", "containerPort": 9443, "protocol": "TCP"}]
    for probe, path in (("livenessProbe", "/health/liveness"), ("readinessProbe", "/health/readiness")):
        assert c[probe]["httpGet"] == {"path": path, "port": "https", "scheme": "HTTPS"}
    args = c["args"]
    assert args[0] == "serve"
    assert {"--host=0.0.0.0", "--port=9443", "--tls-cert=/etc/verno/tls/tls.crt",
            "--tls-key=/etc/verno/tls/tls.key", "--workers=2", "--in-cluster"} <= set(args)
    excluded = [a.split("=", 1)[1] for a in args if a.startswith("--exclude-namespace=")]
    assert excluded == ["kube-system", "verno-system", "monitoring"]


def test_egress_allowances_become_serve_flags(render):
    assert not any(a.startswith("--allow-egress") for a in container(render())["args"])
    c = container(render({"server": {"allowEgress": ["10.0.0.0/8", "http://data.team.svc:8080"]}}))
    assert [a for a in c["args"] if a.startswith("--allow-egress")] == \
        ["--allow-egress=10.0.0.0/8", "--allow-egress=http://data.team.svc:8080"]


def test_runs_as_non_root_read_only(render):
    docs = render()
    pod = one(docs, "Deployment", "verno")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
    sc = container(docs)["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]


def test_tls_secret_is_mounted(render, certs):
    docs = render()
    secret = one(docs, "Secret")
    assert secret["type"] == "kubernetes.io/tls"
    assert base64.b64decode(secret["data"]["tls.crt"]).decode() == certs.cert
    assert base64.b64decode(secret["data"]["tls.key"]).decode() == certs.key
    pod = one(docs, "Deployment", "verno")["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["tls"]["secret"]["secretName"] == secret["metadata"]["name"]
    mounts = {m["name"]: m for m in pod["containers"][0]["volumeMounts"]}
    assert mounts["tls"]["mountPath"] == "/etc/verno/tls" and mounts["tls"]["readOnly"] is True


def test_existing_tls_secret(render, validate):
    docs = render({"tls": {"existingSecret": "my-tls", "cert": "", "key": ""}})
    validate(docs)
    assert not [d for d in docs if d["kind"] == "Secret"]
    volumes = {v["name"]: v for v in one(docs, "Deployment", "verno")["spec"]["template"]["spec"]["volumes"]}
    assert volumes["tls"]["secret"]["secretName"] == "my-tls"


def test_webhooks_point_at_the_service_with_the_ca_bundle(render, certs):
    docs = render({"webhooks": {"failurePolicy": "Fail", "timeoutSeconds": 5},
                   "server": {"excludeNamespaces": ["monitoring"]}},
                  release="policy", namespace="security")
    service = one(docs, "Service")
    assert service["metadata"] == {**service["metadata"], "name": "policy-verno", "namespace": "security"}
    for kind, word in (("MutatingWebhookConfiguration", "mutate"), ("ValidatingWebhookConfiguration", "validate")):
        (hook,) = one(docs, kind)["webhooks"]
        assert hook["name"] == f"{word}.policy-verno.svc-fail"
        assert hook["clientConfig"]["service"] == {"name": "policy-verno", "namespace": "security",
                                                   "path": f"/{word}/fail", "port": 443}
        assert base64.b64decode(hook["clientConfig"]["caBundle"]) == certs.ca
        assert hook["failurePolicy"] == "Fail" and hook["timeoutSeconds"] == 5
        assert hook["sideEffects"] == "None" and hook["admissionReviewVersions"] == ["v1"]
        (expr,) = hook["namespaceSelector"]["matchExpressions"]
        assert expr == {"key": "kubernetes.io/metadata.name", "operator": "NotIn",
                        "values": ["kube-system", "security", "monitoring"]}
        resources = {r for rule in hook["rules"] for r in rule["resources"]}
        assert {"pods", "deployments", "cronjobs"} <= resources
    (mutating,) = one(docs, "MutatingWebhookConfiguration")["webhooks"]
    assert mutating["reinvocationPolicy"] == "IfNeeded"


def test_webhook_rules_from_verno_webhook_config(render, validate, run_cli, tmp_path, certs):
    """Rules computed by ``verno webhook-config`` pasted into the values render to valid webhooks."""
    (tmp_path / "ca.crt").write_bytes(certs.ca)
    out = run_cli("webhook-config", "--service", "verno", "--namespace", "verno-system",
                  "--ca-bundle", tmp_path / "ca.crt", "--policies", EXAMPLES)
    (generated,) = [d for d in yaml.safe_load_all(out) if d]
    rules = generated["webhooks"][0]["rules"]
    matches = [{"name": "no-nodes", "expression": "!request.userInfo.username.startsWith('system:node:')"}]
    docs = render({"webhooks": {"mutating": {"enabled": False}, "validating": {"rules": rules},
                                "matchConditions": matches}})
    validate(docs)
    assert not [d for d in docs if d["kind"] == "MutatingWebhookConfiguration"]
    (hook,) = one(docs, "ValidatingWebhookConfiguration")["webhooks"]
    assert hook["rules"] == rules
    assert hook["matchConditions"] == matches


@pytest.mark.parametrize("values, message", [
    ({"webhooks": {"caBundle": ""}}, "webhooks.caBundle is required"),
    ({"tls": {"cert": ""}}, "tls.cert .PEM. or tls.existingSecret is required"),
])
def test_missing_required_values_fail_with_a_message(render, values, message):
    with pytest.raises(helm_python.HelmError, match=message):
        render(values)


def test_policies_from_a_config_map(render, validate, tmp_path):
    files = {p.name: p.read_text() for p in sorted(EXAMPLES.glob("*.yaml"))}
    docs = render({"policies": {"inCluster": False, "files": files}})
    validate(docs)
    cm = one(docs, "ConfigMap")
    assert cm["data"] == files
    pod = one(docs, "Deployment", "verno")["spec"]["template"]
    assert "checksum/policies" in pod["metadata"]["annotations"]
    args = pod["spec"]["containers"][0]["args"]
    assert "--policies=/etc/verno/policies" in args and "--in-cluster" not in args
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    assert volumes["policies"]["configMap"]["name"] == cm["metadata"]["name"]
    mounts = {m["name"]: m["mountPath"] for m in pod["spec"]["containers"][0]["volumeMounts"]}
    assert mounts["policies"] == "/etc/verno/policies"
    # what the pod will read loads as the same policies
    for name, content in cm["data"].items():
        (tmp_path / name).write_text(content)
    loaded = load_policy_set(Engine(), [str(tmp_path)])
    assert sorted(p.name for p in loaded.policies) == sorted(
        p.name for p in load_policy_set(Engine(), [str(EXAMPLES)]).policies)


def test_rbac(render):
    docs = render(release="verno", namespace="verno-system")
    sa = one(docs, "ServiceAccount", "verno")
    roles = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ClusterRole"}
    bindings = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ClusterRoleBinding"}
    subject = {"kind": "ServiceAccount", "name": sa["metadata"]["name"], "namespace": "verno-system"}

    admission = roles["verno:admission"]["rules"]
    readable = {(g, r) for rule in admission if "watch" in rule["verbs"] and "list" in rule["verbs"]
                for g in rule["apiGroups"] for r in rule["resources"]}
    assert {("kyverno.io", "clusterpolicies"), ("kyverno.io", "policies"), ("kyverno.io", "policyexceptions"),
            ("", "namespaces"), ("policies.kyverno.io", "validatingpolicies"),
            ("policies.kyverno.io", "namespacedvalidatingpolicies"), ("policies.kyverno.io", "policyexceptions"),
            ("admissionregistration.k8s.io", "validatingadmissionpolicies"),
            ("admissionregistration.k8s.io", "validatingadmissionpolicybindings")} <= readable
    # every collection the webhook's cluster mode lists and watches (a 403 would keep it from ever being ready)
    watched = {(w.group, w.plural) for w in (*POLICY_KINDS, *kind_collections(Engine()), NAMESPACES)}
    assert watched - readable == set()
    # CEL `authorizer` checks are SubjectAccessReviews, created (never read back)
    assert {"apiGroups": ["authorization.k8s.io"], "resources": ["subjectaccessreviews"],
            "verbs": ["create"]} in admission
    assert bindings["verno:admission"]["roleRef"]["name"] == "verno:admission"
    assert bindings["verno:admission"]["subjects"] == [subject]

    # generate runs in verno controller: the webhook only hands the work over, as UpdateRequests in its namespace
    assert not [n for n, b in bindings.items() if subject in b["subjects"] and n != "verno:admission"]
    handoff = one(docs, "Role", "verno:handoff")
    assert handoff["metadata"]["namespace"] == "verno-system"
    assert handoff["rules"] == [{"apiGroups": ["kyverno.io"], "resources": ["updaterequests"], "verbs": ["create"]}]
    binding = one(docs, "RoleBinding", "verno:handoff")
    assert binding["metadata"]["namespace"] == "verno-system"
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "verno:handoff"}
    assert binding["subjects"] == [subject]

    view = roles["verno:view-policies"]["metadata"]["labels"]
    assert view["rbac.authorization.k8s.io/aggregate-to-view"] == "true"
    assert roles["verno:edit-policies"]["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-edit"] == "true"


def test_no_rbac_and_external_service_account(render, validate):
    docs = render({"rbac": {"create": False}, "serviceAccount": {"create": False, "name": "policy-sa"},
                   "podDisruptionBudget": {"enabled": False},
                   "controller": {"serviceAccount": {"create": False, "name": "generate-sa"},
                                  "podDisruptionBudget": {"enabled": False}}})
    validate(docs)
    kinds = {d["kind"] for d in docs}
    assert not kinds & {"ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "ServiceAccount",
                        "PodDisruptionBudget"}
    assert one(docs, "Deployment", "verno")["spec"]["template"]["spec"]["serviceAccountName"] == "policy-sa"
    assert one(docs, "Deployment", "verno-controller")["spec"]["template"]["spec"]["serviceAccountName"] == \
        "generate-sa"
    assert "--controller-username=system:serviceaccount:verno-system:generate-sa" in container(docs)["args"]


@pytest.fixture
def run_cli():
    from click.testing import CliRunner

    from verno.cli.main import cli

    def _run(*args: Any) -> str:
        result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.stdout
    return _run


def test_schema_check_is_not_vacuous(render, validate):
    # values.schema.json leaves Kubernetes' own objects open (security contexts, tolerations): the
    # Kubernetes schemas check what they become
    with pytest.raises(AssertionError, match="Deployment/verno(-controller)? invalid.*'three'"):
        validate(render({"podSecurityContext": {"runAsUser": "three"}}))
    with pytest.raises(AssertionError, match="Deployment/verno-controller invalid"):
        validate(render({"tolerations": [], "controller": {"tolerations": [{"tolerationSeconds": "ten"}]}}))
