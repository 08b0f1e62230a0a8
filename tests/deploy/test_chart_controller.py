"""The Helm chart's ``verno controller``: its Deployment (leader election, probes, PDB), its ServiceAccount and
RBAC, and what ties it to the webhook (the UpdateRequest namespace, the controller's username)."""
from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest

pytest.importorskip("helm_python", reason="Helm's engine (helm-python-sdk) has no wheel here")

from tests.deploy.test_chart import one
from tests.deploy.test_dockerfile import _split

CONTROLLER_KINDS = {"Deployment", "PodDisruptionBudget", "ServiceAccount", "ClusterRole", "ClusterRoleBinding",
                    "Role", "RoleBinding"}


def pod(docs: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return one(docs, "Deployment", name)["spec"]["template"]


def only_container(docs: list[dict[str, Any]], name: str) -> dict[str, Any]:
    (c,) = pod(docs, name)["spec"]["containers"]
    return c


def matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return selector.items() <= labels.items()


def permissions(docs: list[dict[str, Any]], account: str, namespace: str) -> set[tuple[str, str, str, str]]:
    """(scope, apiGroup, resource, verb) the ServiceAccount holds through the chart's bindings; scope is "*" for
    a ClusterRoleBinding, else the RoleBinding's namespace. Aggregated ClusterRoles hold their sources' rules,
    as the API server's aggregation controller fills them."""
    cluster_roles = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ClusterRole"}
    roles = {(d["metadata"]["namespace"], d["metadata"]["name"]): d for d in docs if d["kind"] == "Role"}

    def rules(role: dict[str, Any]) -> list[dict[str, Any]]:
        out = list(role.get("rules") or [])
        for term in (role.get("aggregationRule") or {}).get("clusterRoleSelectors") or []:
            for other in cluster_roles.values():
                if other is not role and matches(term["matchLabels"], other["metadata"].get("labels") or {}):
                    out.extend(other.get("rules") or [])
        return out

    held: set[tuple[str, str, str, str]] = set()
    subject = {"kind": "ServiceAccount", "name": account, "namespace": namespace}
    for binding in docs:
        if binding["kind"] not in ("ClusterRoleBinding", "RoleBinding") or subject not in binding["subjects"]:
            continue
        ref = binding["roleRef"]
        scope = "*" if binding["kind"] == "ClusterRoleBinding" else binding["metadata"]["namespace"]
        if ref["kind"] == "ClusterRole":
            if ref["name"] not in cluster_roles:
                continue  # a role the cluster already has (view)
            role = cluster_roles[ref["name"]]
        else:
            role = roles[(binding["metadata"]["namespace"], ref["name"])]
        for rule in rules(role):
            held |= {(scope, g, r, v) for g in rule["apiGroups"] for r in rule["resources"] for v in rule["verbs"]}
    return held


def can(held: set[tuple[str, str, str, str]], scope: str, group: str, resource: str, *verbs: str) -> bool:
    """Whether every verb on the resource is held in ``scope`` (a namespace), cluster-wide ("*") or there."""
    return all(("*", group, resource, v) in held or (scope, group, resource, v) in held for v in verbs)


def test_default_render_runs_the_controller(render, validate):
    docs = render(release="policy", namespace="security")
    validate(docs)
    deployment = one(docs, "Deployment", "policy-verno-controller")
    assert deployment["metadata"]["namespace"] == "security"
    spec = deployment["spec"]
    assert spec["replicas"] == 2
    assert matches(spec["selector"]["matchLabels"], spec["template"]["metadata"]["labels"])
    c = only_container(docs, "policy-verno-controller")
    webhook = only_container(docs, "policy-verno")
    assert c["image"] == webhook["image"] and c["imagePullPolicy"] == webhook["imagePullPolicy"]
    assert c["resources"] == {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}}
    assert pod(docs, "policy-verno-controller")["spec"]["serviceAccountName"] == "policy-verno-controller"


def test_arguments_are_controller_options_with_leader_election(render):
    from verno.cli.controller import _duration, controller_command

    docs = render({"controller": {"workers": 8, "scanInterval": "10m", "leaderElection": {"retryPeriod": "5s"}}},
                  release="policy", namespace="security")
    args = only_container(docs, "policy-verno-controller")["args"]
    assert args[0] == "controller"
    pairs = dict(_split(args[1:], "controller"))
    assert pairs == {"--in-cluster": None, "--namespace": "security", "--workers": "8", "--scan-interval": "10m",
                     "--leader-elect": None, "--leader-election-retry-period": "5s", "--host": "0.0.0.0",
                     "--port": "8000", "--log-level": "INFO"}
    # what `verno controller` makes of them: every option known, every value accepted
    ctx = controller_command.make_context("controller", list(args[1:]))
    assert ctx.params["in_cluster"] is True and ctx.params["leader_elect"] is True
    assert ctx.params["workers"] == 8 and ctx.params["namespace"] == "security"
    assert _duration(ctx.params["scan_interval"], "--scan-interval") == 600
    assert _duration(ctx.params["leader_election_retry_period"], "--leader-election-retry-period") == 5


def test_probes_reach_the_controller_health_endpoints(render):
    """The probe paths and port are the ones ``verno controller`` serves (its own HTTP server answers them)."""
    from verno.controller.metrics import Metrics, serve

    c = only_container(render(), "verno-controller")
    (port,) = c["ports"]
    assert port["containerPort"] == 8000 and "--port=8000" in c["args"] and "--host=0.0.0.0" in c["args"]
    probes = {name: c[name]["httpGet"] for name in ("livenessProbe", "readinessProbe")}
    assert probes == {"livenessProbe": {"path": "/health/liveness", "port": port["name"], "scheme": "HTTP"},
                      "readinessProbe": {"path": "/health/readiness", "port": port["name"], "scheme": "HTTP"}}
    httpd = serve("127.0.0.1", 0, Metrics(lambda: 0, lambda: False), lambda: True)
    try:
        for probe in probes.values():
            with urllib.request.urlopen(f"http://127.0.0.1:{httpd.server_address[1]}{probe['path']}",
                                        timeout=5) as resp:
                assert resp.status == 200 and json.loads(resp.read())["status"] in ("ok", "ready")
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_pdb_and_selectors_keep_the_two_deployments_apart(render):
    docs = render()
    controller_pod = pod(docs, "verno-controller")["metadata"]["labels"]
    webhook_pod = pod(docs, "verno")["metadata"]["labels"]
    pdb = one(docs, "PodDisruptionBudget", "verno-controller")["spec"]
    assert pdb["maxUnavailable"] == 1
    assert matches(pdb["selector"]["matchLabels"], controller_pod)
    assert not matches(pdb["selector"]["matchLabels"], webhook_pod)
    # the webhook's Service, PDB and Deployment never select the controller's pods
    for selector in (one(docs, "Service")["spec"]["selector"],
                     one(docs, "PodDisruptionBudget", "verno")["spec"]["selector"]["matchLabels"],
                     one(docs, "Deployment", "verno")["spec"]["selector"]["matchLabels"]):
        assert matches(selector, webhook_pod) and not matches(selector, controller_pod)
    term = pod(docs, "verno-controller")["spec"]["affinity"]["podAntiAffinity"][
        "preferredDuringSchedulingIgnoredDuringExecution"][0]["podAffinityTerm"]
    assert term["topologyKey"] == "kubernetes.io/hostname"
    assert matches(term["labelSelector"]["matchLabels"], controller_pod)


def test_hard_anti_affinity_and_min_available(render, validate):
    docs = render({"controller": {"replicas": 3, "antiAffinity": "hard", "podDisruptionBudget": {"minAvailable": 2}}})
    validate(docs)
    spec = one(docs, "Deployment", "verno-controller")["spec"]
    assert spec["replicas"] == 3
    (term,) = spec["template"]["spec"]["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert matches(term["labelSelector"]["matchLabels"], spec["template"]["metadata"]["labels"])
    pdb = one(docs, "PodDisruptionBudget", "verno-controller")["spec"]
    assert pdb["minAvailable"] == 2 and "maxUnavailable" not in pdb


def test_runs_as_non_root_read_only_like_the_webhook(render):
    docs = render()
    controller, webhook = pod(docs, "verno-controller")["spec"], pod(docs, "verno")["spec"]
    assert controller["securityContext"] == webhook["securityContext"]
    assert controller["securityContext"]["runAsNonRoot"] is True and controller["securityContext"]["runAsUser"] != 0
    sc = controller["containers"][0]["securityContext"]
    assert sc == webhook["containers"][0]["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]
    mounts = {m["mountPath"] for m in controller["containers"][0]["volumeMounts"]}
    assert "/tmp" in mounts  # the one writable place


def test_the_webhook_names_the_controller_service_account(render, monkeypatch, tmp_path):
    """``serve --controller-username`` is the user the chart's controller runs as, so the controller's own writes
    make no generate work; the webhook hands UpdateRequests to the namespace the controller works in."""
    from verno.cli.serve import serve_command
    from verno.server.settings import Settings, own_namespace

    docs = render(release="policy", namespace="security")
    sa = one(docs, "ServiceAccount", "policy-verno-controller")
    assert sa["metadata"]["namespace"] == "security"
    args = only_container(docs, "policy-verno")["args"]
    username = dict(_split(args[1:]))["--controller-username"]
    assert username == "system:serviceaccount:security:policy-verno-controller"
    assert Settings(controller_username=username).background_username == username
    (tmp_path / "tls.crt").write_text("")
    (tmp_path / "tls.key").write_text("")
    given = [a for a in args[1:] if not a.startswith("--tls-")]
    ctx = serve_command.make_context("serve", [*given, f"--tls-cert={tmp_path / 'tls.crt'}",
                                               f"--tls-key={tmp_path / 'tls.key'}"])
    assert ctx.params["controller_username"] == username

    # the namespace: the webhook's POD_NAMESPACE is its pod's namespace (the release's), the controller's
    # --namespace the same
    webhook = one(docs, "Deployment", "policy-verno")
    (env,) = [e for e in only_container(docs, "policy-verno")["env"] if e["name"] == "POD_NAMESPACE"]
    assert env["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"
    monkeypatch.setenv("POD_NAMESPACE", webhook["metadata"]["namespace"])
    controller_args = dict(_split(only_container(docs, "policy-verno-controller")["args"][1:], "controller"))
    assert own_namespace() == controller_args["--namespace"] == "security"

    # a differently named service account is followed
    docs = render({"controller": {"serviceAccount": {"name": "generator"}}}, release="policy", namespace="security")
    assert one(docs, "ServiceAccount", "generator")
    assert pod(docs, "policy-verno-controller")["spec"]["serviceAccountName"] == "generator"
    assert "--controller-username=system:serviceaccount:security:generator" in \
        only_container(docs, "policy-verno")["args"]


def test_controller_rbac(render):
    docs = render(release="verno", namespace="verno-system")
    held = permissions(docs, "verno-controller", "verno-system")
    ns = "verno-system"
    for resource in ("clusterpolicies", "policies"):
        assert can(held, "*", "kyverno.io", resource, "get", "list", "watch")
        assert not can(held, "*", "kyverno.io", resource, "create") and not can(held, "*", "kyverno.io", resource,
                                                                                "update")
        # the policies' status (READY) is written through its subresource only
        assert can(held, "*", "kyverno.io", f"{resource}/status", "get", "update")
    # UpdateRequests: watched everywhere (the informer lists all namespaces), written only in its namespace
    assert can(held, "*", "kyverno.io", "updaterequests", "get", "list", "watch")
    assert can(held, ns, "kyverno.io", "updaterequests", "create", "update", "delete")
    assert not ("*", "kyverno.io", "updaterequests", "create") in held
    assert can(held, ns, "kyverno.io", "updaterequests/status", "get", "update")
    assert not ("*", "kyverno.io", "updaterequests/status", "update") in held
    # the Lease, only in its namespace
    assert can(held, ns, "coordination.k8s.io", "leases", "get", "create", "update")
    assert not [h for h in held if h[2] == "leases" and h[0] != ns]
    assert can(held, "*", "", "namespaces", "get", "list", "watch")
    assert can(held, "*", "", "events", "create", "patch")
    # the CEL kinds it runs: MutatingPolicy mutateExisting, DeletingPolicy schedules (and their last run)
    for resource in ("mutatingpolicies", "namespacedmutatingpolicies", "deletingpolicies",
                     "namespaceddeletingpolicies", "policyexceptions"):
        assert can(held, "*", "policies.kyverno.io", resource, "get", "list", "watch"), resource
    for resource in ("deletingpolicies/status", "namespaceddeletingpolicies/status"):
        assert can(held, "*", "policies.kyverno.io", resource, "get", "update"), resource
    # the default kinds generate rules may create and keep in sync
    for group, resource in (("networking.k8s.io", "networkpolicies"), ("", "configmaps"), ("", "secrets"),
                            ("", "resourcequotas"), ("", "limitranges"), ("rbac.authorization.k8s.io", "roles"),
                            ("rbac.authorization.k8s.io", "rolebindings")):
        assert can(held, "*", group, resource, "get", "list", "watch", "create", "update", "patch", "delete"), resource
    # triggers of any kind are read through the built-in view role
    view = one(docs, "ClusterRoleBinding", "verno:controller:view")
    assert view["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"}
    assert view["subjects"] == [{"kind": "ServiceAccount", "name": "verno-controller", "namespace": ns}]

    # the webhook creates UpdateRequests in that namespace and writes nothing generate rules describe
    webhook = permissions(docs, "verno", ns)
    assert (ns, "kyverno.io", "updaterequests", "create") in webhook
    assert not [h for h in webhook if h[2] == "updaterequests" and h != (ns, "kyverno.io", "updaterequests", "create")]
    assert not [h for h in webhook if h[2] in ("networkpolicies", "secrets", "roles") or
                h[3] in ("create", "update", "delete")
                and h[2] not in ("events", "updaterequests", "subjectaccessreviews")]  # a review asks, writes nothing


def test_generate_kinds_are_extended_by_labelled_cluster_roles(render, validate):
    docs = render()
    generate = one(docs, "ClusterRole", "verno:generate")
    assert generate["rules"] == []
    (term,) = generate["aggregationRule"]["clusterRoleSelectors"]
    aggregated = [d["metadata"]["name"] for d in docs if d["kind"] == "ClusterRole"
                  and matches(term["matchLabels"], d["metadata"].get("labels") or {})]
    assert aggregated == ["verno:generate:defaults"]
    binding = one(docs, "ClusterRoleBinding", "verno:generate")
    assert binding["roleRef"]["name"] == "verno:generate"
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "verno-controller", "namespace": "verno-system"}]
    # a user's ClusterRole with the label adds its kinds to what the controller holds
    users = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
             "metadata": {"name": "generate-gateways", "labels": dict(term["matchLabels"])},
             "rules": [{"apiGroups": ["gateway.networking.k8s.io"], "resources": ["gateways"],
                        "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]}]}
    validate([users])
    held = permissions([*docs, users], "verno-controller", "verno-system")
    assert can(held, "*", "gateway.networking.k8s.io", "gateways", "create", "update", "delete")
    assert not can(permissions(docs, "verno-controller", "verno-system"), "*", "gateway.networking.k8s.io",
                   "gateways", "create")
    # the defaults are values
    docs = render({"rbac": {"generate": {"rules": [{"apiGroups": [""], "resources": ["configmaps"],
                                                    "verbs": ["get", "create"]}]}},
                   "controller": {"rbac": {"viewRoleName": ""}}})
    validate(docs)
    held = permissions(docs, "verno-controller", "verno-system")
    assert can(held, "*", "", "configmaps", "create") and not can(held, "*", "", "secrets", "create")
    assert not [d for d in docs if d["kind"] == "ClusterRoleBinding" and d["roleRef"]["name"] == "view"]


def test_controller_disabled(render, validate):
    docs = render({"controller": {"enabled": False}})
    validate(docs)
    assert not [d for d in docs if d["kind"] in CONTROLLER_KINDS and "controller" in d["metadata"]["name"]]
    assert not [d for d in docs if d["kind"] == "ClusterRole" and d["metadata"]["name"].startswith("verno:generate")]
    assert [d["metadata"]["name"] for d in docs if d["kind"] == "Deployment"] == ["verno"]
    args = only_container(docs, "verno")["args"]
    assert not [a for a in args if a.startswith("--controller-username")]
    # the webhook still hands generate work over (to a controller run elsewhere)
    assert one(docs, "Role", "verno:handoff")["rules"][0]["verbs"] == ["create"]


def test_no_hand_off_role_in_file_mode(render, validate):
    docs = render({"policies": {"inCluster": False}})
    validate(docs)
    assert not [d for d in docs if d["kind"] in ("Role", "RoleBinding") and d["metadata"]["name"] == "verno:handoff"]


def test_mutate_existing_targets_are_extended_by_labelled_cluster_roles(render, validate):
    docs = render()
    validate(docs)
    role = one(docs, "ClusterRole", "verno:mutate-existing")
    assert role["rules"] == []
    (term,) = role["aggregationRule"]["clusterRoleSelectors"]
    assert term["matchLabels"] == {"rbac.verno.io/aggregate-to-mutate-existing": "true"}
    aggregated = [d["metadata"]["name"] for d in docs if d["kind"] == "ClusterRole"
                  and matches(term["matchLabels"], d["metadata"].get("labels") or {})]
    assert aggregated == ["verno:mutate-existing:defaults"]
    binding = one(docs, "ClusterRoleBinding", "verno:mutate-existing")
    assert binding["roleRef"]["name"] == "verno:mutate-existing"
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "verno-controller", "namespace": "verno-system"}]
    held = permissions(docs, "verno-controller", "verno-system")
    # targets are read and written back with PUT; PolicyExceptions (which can skip the rule) are read
    assert can(held, "*", "", "secrets", "get", "list", "update") and can(held, "*", "", "configmaps", "update")
    assert can(held, "*", "kyverno.io", "policyexceptions", "get", "list", "watch")
    # a user's ClusterRole with the label lets mutateExisting patch Deployments (and their status)
    users = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
             "metadata": {"name": "mutate-deployments", "labels": dict(term["matchLabels"])},
             "rules": [{"apiGroups": ["apps"], "resources": ["deployments", "deployments/status"],
                        "verbs": ["get", "list", "update"]}]}
    validate([users])
    assert not can(held, "*", "apps", "deployments", "update")
    held = permissions([*docs, users], "verno-controller", "verno-system")
    assert can(held, "*", "apps", "deployments", "get", "list", "update")
    assert can(held, "*", "apps", "deployments/status", "update")
    # the defaults are values; a disabled controller has none of it
    docs = render({"rbac": {"mutateExisting": {"rules": [{"apiGroups": [""], "resources": ["configmaps"],
                                                          "verbs": ["get", "list", "update"]}]},
                            "generate": {"rules": []}}})
    validate(docs)
    held = permissions(docs, "verno-controller", "verno-system")
    assert can(held, "*", "", "configmaps", "update") and not can(held, "*", "", "secrets", "update")
    docs = render({"controller": {"enabled": False}})
    assert not [d for d in docs if d["kind"] in ("ClusterRole", "ClusterRoleBinding")
                and d["metadata"]["name"].startswith("verno:mutate-existing")]
