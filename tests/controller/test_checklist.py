"""The cluster check list, step by step, on 127.0.0.1 with every part a real process or server: the stand-in API
server calls `verno serve` (cluster mode: policies read from the cluster) as its mutating and validating
webhook over TLS, `verno controller` runs beside it, images live in the local docker-registry, and kubectl
drives it all as a user would:

1. the policies applied with kubectl show READY;
2. a Pod breaking an Enforce policy is rejected with the policy's message (`--dry-run=server`);
3. a mutate rule's default (runAsNonRoot) is on the stored Pod;
4. a new namespace gets its default-deny NetworkPolicy, deleted -> back, edited -> reverted;
5. a signed image's tag is pinned to its digest on the stored Pod, an unsigned one is rejected;
6. `kubectl get policyreport` shows an Audit policy's failure in the Pod's namespace, from the background scan;
7. that policy flipped to Enforce: a new violation is denied, the old one is still reported.
"""
from __future__ import annotations

import base64
import sys
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from controller.harness import NAMESPACE, ControllerProcess, wait_for
from controller.policies import NETPOL, cluster_policy

TESTS = Path(__file__).resolve().parents[1]
for helpers in (TESTS / "server", TESTS / "verifyimages"):
    if str(helpers) not in sys.path:
        sys.path.insert(0, str(helpers))

from serverproc import VernoServer  # noqa: E402
from vi_cosign import push_signatures, signature  # noqa: E402
from vi_fixtures import pusher, registry  # noqa: E402,F401  (the real docker-registry, shared)
from vi_pki import new_key, public_pem  # noqa: E402
from vi_policy import OFFLINE  # noqa: E402

POD = {"any": [{"resources": {"kinds": ["Pod"]}}]}
LATEST_MESSAGE = "An image tag is required and must not be latest; pin a version."

RUN_AS_NON_ROOT = cluster_policy("default-run-as-non-root", {
    "name": "default-run-as-non-root", "match": POD,
    "mutate": {"patchStrategicMerge": {"spec": {"securityContext": {"+(runAsNonRoot)": True}}}}})

DISALLOW_LATEST = cluster_policy("disallow-latest-tag", {
    "name": "require-image-tag", "match": POD,
    "validate": {"message": LATEST_MESSAGE, "pattern": {"spec": {"containers": [{"image": "!*:latest"}]}}}},
    validationFailureAction="Enforce")


TEAM_MESSAGE = "Every Pod needs a team label."
REQUIRE_TEAM = cluster_policy("require-team-label", {
    "name": "team-label", "match": POD,
    "validate": {"message": TEAM_MESSAGE, "pattern": {"metadata": {"labels": {"team": "?*"}}}}},
    validationFailureAction="Audit", background=True)


def verify_signed(host: str, pem: str) -> dict:
    return cluster_policy("verify-signed-images", {
        "name": "verify-signature", "match": POD,
        "verifyImages": [{"imageReferences": [f"{host}/signed/*", f"{host}/unsigned/*"],
                          "attestors": [{"entries": [{"keys": {"publicKeys": pem, **OFFLINE}}]}]}]},
        validationFailureAction="Enforce", webhookTimeoutSeconds=10)


@pytest.fixture
def images(registry, pusher):  # noqa: F811
    key = new_key()
    host = registry.host
    signed = pusher.image("signed/app", "v1")
    push_signatures(pusher, "signed/app", signed, [signature(key, f"{host}/signed/app", signed)])
    pusher.image("unsigned/app", "v1")
    return {"host": host, "pem": public_pem(key), "signed": (f"{host}/signed/app:v1", signed),
            "unsigned": f"{host}/unsigned/app:v1"}


@pytest.fixture
def webhook(cluster, api_client, tmp_path):
    server = VernoServer(tmp_path, ["--kubeconfig", str(cluster.kubeconfig), "--timeout", "8",
                                    "--allow-insecure-registry", "--allow-egress", "127.0.0.1"],
                         env={"POD_NAMESPACE": NAMESPACE})
    try:
        server.wait_ready()
        ca = base64.b64encode(server.cert_pem).decode()

        def hook(name: str, path: str, resources: list[str]) -> dict:
            return {"name": name, "failurePolicy": "Fail", "sideEffects": "NoneOnDryRun",
                    "admissionReviewVersions": ["v1"], "timeoutSeconds": 10,
                    "clientConfig": {"url": f"{server.base}{path}", "caBundle": ca},
                    "rules": [{"operations": ["CREATE", "UPDATE", "DELETE"], "apiGroups": [""],
                               "apiVersions": ["v1"], "resources": resources}]}

        admission = client.AdmissionregistrationV1Api(api_client)
        admission.create_mutating_webhook_configuration(
            {"metadata": {"name": "verno-resource-mutating-webhook-cfg"},
             "webhooks": [{**hook("mutate.verno.svc-fail", "/mutate/fail", ["pods"]),
                           "reinvocationPolicy": "IfNeeded"}]})
        admission.create_validating_webhook_configuration(
            {"metadata": {"name": "verno-resource-validating-webhook-cfg"},
             "webhooks": [hook("validate.verno.svc-fail", "/validate/fail", ["pods", "namespaces"])]})
        yield server
    finally:
        server.stop()


def pod_manifest(name: str, namespace: str, image: str) -> str:
    return yaml.safe_dump({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace},
                           "spec": {"containers": [{"name": "app", "image": image}]}})


def ready_column(kubectl) -> dict[str, str]:
    out = kubectl("get", "clusterpolicy", "-o",
                  "custom-columns=NAME:.metadata.name,READY:.status.conditions[?(@.type=='Ready')].status",
                  "--no-headers").stdout
    return dict(line.split() for line in out.splitlines() if line.strip())


def test_the_cluster_check_list(cluster, api_client, kubectl, webhook, images, tmp_path):
    policies = [NETPOL, RUN_AS_NON_ROOT, DISALLOW_LATEST, verify_signed(images["host"], images["pem"]), REQUIRE_TEAM]
    (tmp_path / "policies.yaml").write_text(yaml.safe_dump_all(policies))
    controller = ControllerProcess(cluster.kubeconfig, tmp_path / "controller.log")
    try:
        kubectl("apply", "--validate=false", "-f", str(tmp_path / "policies.yaml"))

        # 1. READY, through the CRD's printer columns
        names = {p["metadata"]["name"] for p in policies}
        wait_for(lambda: ready_column(kubectl) == {n: "True" for n in names}, timeout=30, what="every policy READY")
        table = kubectl("get", "cpol").stdout
        assert table.split("\n")[0].split()[:4] == ["NAME", "ADMISSION", "BACKGROUND", "READY"], table

        # 2. an Enforce policy denies, with its message; the webhook may still be loading the policies
        kubectl("create", "namespace", "probe")
        manifest = pod_manifest("latest", "probe", "nginx:latest")

        def denied():
            proc = kubectl("apply", "--validate=false", "--dry-run=server", "-f", "-", input=manifest, check=False)
            return proc if proc.returncode != 0 else None

        proc = wait_for(denied, timeout=20, what="the Enforce policy loaded by the webhook")
        assert 'admission webhook "validate.verno.svc-fail" denied the request' in proc.stderr, proc.stderr
        assert "disallow-latest-tag" in proc.stderr and LATEST_MESSAGE in proc.stderr, proc.stderr
        assert cluster.get("v1", "Pod", "latest", "probe") is None

        # 3. a mutate rule's default is on the stored Pod, and 5. its signed image pinned to the digest
        image, digest = images["signed"]
        kubectl("apply", "--validate=false", "-f", "-", input=pod_manifest("web", "probe", image))
        stored = client.CoreV1Api(api_client).read_namespaced_pod("web", "probe")
        assert stored.spec.security_context.run_as_non_root is True
        assert stored.spec.containers[0].image == f"{image}@{digest}"
        assert '"pass"' in stored.metadata.annotations["kyverno.io/verify-images"]
        proc = kubectl("apply", "--validate=false", "-f", "-", input=pod_manifest("bad", "probe", images["unsigned"]),
                       check=False)
        assert proc.returncode != 0 and "verify-signed-images" in proc.stderr, proc.stderr
        assert "no signatures found" in proc.stderr, proc.stderr
        assert cluster.get("v1", "Pod", "bad", "probe") is None

        # 4. the namespace got its NetworkPolicy; deleted -> back, edited -> reverted, each within 5 s
        def netpol():
            return cluster.get("networking.k8s.io/v1", "NetworkPolicy", "default-deny", "probe")

        wait_for(netpol, timeout=5, what="default-deny in probe")
        kubectl("delete", "networkpolicy", "default-deny", "-n", "probe")
        wait_for(netpol, timeout=5, what="default-deny back after deletion")
        kubectl("patch", "networkpolicy", "default-deny", "-n", "probe", "--type", "merge",
                "-p", '{"spec":{"policyTypes":["Ingress"]}}')
        wait_for(lambda: netpol()["spec"]["policyTypes"] == ["Ingress", "Egress"], timeout=5,
                 what="edited default-deny reverted")

        # 6. the background scan reports the Audit policy's failure in the Pod's namespace
        def team_results():
            reports = client.CustomObjectsApi(api_client).list_namespaced_custom_object(
                "wgpolicyk8s.io", "v1alpha2", "probe", "policyreports")["items"]
            return [(r["scope"]["name"], x["result"]) for r in reports for x in r.get("results") or []
                    if x["policy"] == "require-team-label" and TEAM_MESSAGE in x["message"]]

        wait_for(lambda: ("web", "fail") in team_results(), timeout=20,
                 what="the Audit failure in probe's PolicyReport")
        table = kubectl("get", "policyreport", "-n", "probe").stdout
        assert "Pod" in table and "web" in table, table

        # 7. flipped to Enforce: a new violation is denied (once the webhook has the change), the old one stays reported
        kubectl("patch", "clusterpolicy", "require-team-label", "--type", "merge",
                "-p", '{"spec":{"validationFailureAction":"Enforce"}}')
        unlabelled = pod_manifest("new", "probe", images["signed"][0])

        def team_denied():
            proc = kubectl("apply", "--validate=false", "--dry-run=server", "-f", "-", input=unlabelled, check=False)
            return proc if proc.returncode != 0 and TEAM_MESSAGE in proc.stderr else None

        wait_for(team_denied, timeout=20, what="the flipped policy enforced by the webhook")
        wait_for(lambda: ("web", "fail") in team_results(), timeout=20,
                 what="the old violation still reported after the flip")
    finally:
        assert controller.stop() == 0, (tmp_path / "controller.log").read_text()
