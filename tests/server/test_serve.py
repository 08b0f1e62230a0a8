"""A real ``verno serve`` process over TLS, answering real AdmissionReview bodies."""
from __future__ import annotations

import base64
import copy
import json
import shutil
import ssl
import time
from pathlib import Path

import httpx
import jsonpatch
import pytest

from certs import write_self_signed
from serverproc import VernoServer, admission_request

DATA = Path(__file__).parent / "data"

POD = {
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
    "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
}


def deployment(app: str) -> dict:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": app}},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": app}},
                 "template": {"metadata": {"labels": {"app": app}},
                              "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}},
    }


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    work = tmp_path_factory.mktemp("serve")
    policies = work / "policies"
    shutil.copytree(DATA / "policies", policies)
    srv = VernoServer(work, ["--policies", str(policies), "--timeout", "5"])
    srv.policies_dir = policies
    try:
        srv.wait_ready()
        yield srv
    finally:
        code = srv.stop()
        assert code in (0, -15), srv.logs()  # uvicorn re-raises SIGTERM after a clean shutdown
        assert "Application shutdown complete" in srv.logs()


def patched(response: dict, obj: dict) -> dict:
    assert response["patchType"] == "JSONPatch"
    ops = json.loads(base64.b64decode(response["patch"]))
    return jsonpatch.apply_patch(copy.deepcopy(obj), ops)


def test_pod_create_mutate_then_validate(server):
    mutate = server.review("/mutate", admission_request(POD))
    assert mutate["allowed"] is True
    mutated = patched(mutate, POD)
    assert mutated["metadata"]["labels"] == {"app": "web", "team": "platform"}
    assert mutated["spec"] == POD["spec"]
    validate = server.review("/validate", admission_request(mutated))
    assert validate == {"uid": validate["uid"], "allowed": True}


def test_mutate_without_change_has_no_patch(server):
    pod = copy.deepcopy(POD)
    pod["metadata"]["labels"]["team"] = "payments"  # +(team) adds only when missing
    response = server.review("/mutate", admission_request(pod))
    assert response["allowed"] is True
    assert "patch" not in response and "patchType" not in response


def test_enforce_failure_blocks_with_kyverno_message(server):
    pod = copy.deepcopy(POD)
    del pod["metadata"]["labels"]
    response = server.review("/validate", admission_request(pod))
    assert response["allowed"] is False
    assert response["status"]["code"] == 400
    assert response["status"]["message"] == (
        "\n\nresource Pod/default/web was blocked due to the following policies \n\n"
        "require-app-label:\n"
        "  check-app: 'validation error: label ''app'' is required. rule check-app failed at path /metadata/labels/'\n"
    )


def test_audit_failure_allowed_with_warning(server):
    pod = copy.deepcopy(POD)
    pod["spec"]["containers"][0]["image"] = "nginx:latest"
    response = server.review("/validate", admission_request(pod))
    assert response["allowed"] is True
    assert response["warnings"] == [
        "policy disallow-latest.no-latest: validation error: use a pinned image tag. "
        "rule no-latest failed at path /spec/containers/0/image/"
    ]


def test_deployment_update_uses_old_object(server):
    old, new = deployment("web"), deployment("api")
    response = server.review("/validate", admission_request(new, "UPDATE", old=old))
    assert response["allowed"] is False
    message = response["status"]["message"]
    assert "resource Deployment/default/web was blocked" in message
    assert "keep-app-label:\n  app-label-immutable: label app cannot change from web\n" in message
    same = server.review("/validate", admission_request(deployment("web"), "UPDATE", old=old))
    assert same["allowed"] is True


def test_autogen_rule_blocks_deployment_create(server):
    bad = deployment("web")
    del bad["spec"]["template"]["metadata"]["labels"]
    response = server.review("/validate", admission_request(bad))
    assert response["allowed"] is False
    assert "autogen-check-app" in response["status"]["message"]


def test_namespace_create(server):
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}}
    denied = server.review("/validate", admission_request(ns))
    assert denied["allowed"] is False
    assert "resource Namespace//team-a was blocked" in denied["status"]["message"]
    assert "namespaces need an owner label" in denied["status"]["message"]
    ns["metadata"]["labels"] = {"owner": "alice"}
    assert server.review("/validate", admission_request(ns))["allowed"] is True


def test_delete_sees_old_object(server):
    cm = {"apiVersion": "v1", "kind": "ConfigMap",
          "metadata": {"name": "settings", "namespace": "default", "labels": {"protected": "true"}}}
    response = server.review("/validate", admission_request(None, "DELETE", old=cm))
    assert response["allowed"] is False
    assert "no-delete-protected: configmap settings is protected" in response["status"]["message"]
    cm["metadata"]["labels"] = {}
    assert server.review("/validate", admission_request(None, "DELETE", old=cm))["allowed"] is True
    mutate = server.review("/mutate", admission_request(None, "DELETE", old=POD))
    assert mutate["allowed"] is True and "patch" not in mutate


def test_dry_run_is_passed_to_policies(server):
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "default"}}
    assert server.review("/validate", admission_request(cm))["allowed"] is True
    response = server.review("/validate", admission_request(cm, dryRun=True))
    assert response["allowed"] is False
    assert "dry-run creation of configmaps is disabled" in response["status"]["message"]


def test_subresource_scale(server):
    scale = {"apiVersion": "autoscaling/v1", "kind": "Scale",
             "metadata": {"name": "web", "namespace": "default"}, "spec": {"replicas": 10}}
    old = copy.deepcopy(scale)
    old["spec"]["replicas"] = 2
    request = admission_request(scale, "UPDATE", old=old, subResource="scale",
                                resource={"group": "apps", "version": "v1", "resource": "deployments"},
                                requestSubResource="scale")
    response = server.review("/validate", request)
    assert response["allowed"] is False
    assert "resource Scale/default/web was blocked" in response["status"]["message"]
    assert "at most 5 replicas" in response["status"]["message"]
    scale["spec"]["replicas"] = 3
    request["object"], request["uid"] = scale, "second"
    assert server.review("/validate", request)["allowed"] is True


def test_kube_system_is_excluded(server):
    pod = copy.deepcopy(POD)
    pod["metadata"] = {"name": "dns", "namespace": "kube-system"}
    mutate = server.review("/mutate", admission_request(pod))
    assert mutate["allowed"] is True and "patch" not in mutate
    assert server.review("/validate", admission_request(pod))["allowed"] is True


def test_kyverno_paths_and_failure_policy_routes(server):
    pod = copy.deepcopy(POD)
    del pod["metadata"]["labels"]
    # every policy here has the default failurePolicy (Fail): /validate/fail serves them, /ignore none
    assert server.review("/validate/fail", admission_request(pod))["allowed"] is False
    assert server.review("/validate/ignore", admission_request(pod))["allowed"] is True
    assert "patch" in server.review("/mutate/fail", admission_request(pod))


@pytest.mark.parametrize("body, reason", [
    (b"{not json", "not JSON"),
    (b"[]", "must be an object"),
    (b'{"apiVersion": "v1", "kind": "Pod"}', "AdmissionReview"),
    (b'{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}', "request"),
    (b'{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {"uid": 7}}', "request.uid"),
    (b"\xff\xfe\x00", "not JSON"),
])
def test_unreadable_bodies_get_400_json(server, body, reason):
    resp = server.client.post("/validate", content=body, headers={"content-type": "application/json"})
    assert resp.status_code == 400
    assert resp.headers["content-type"] == "application/json"
    assert reason in resp.json()["error"]


@pytest.mark.parametrize("request_fields, reason", [
    ({"operation": "CREATE", "object": "nope"}, "request.object must be an object, got a string"),
    ({"operation": "PATCH", "object": {}}, "request.operation must be one of"),
    ({"operation": "CREATE", "object": {"apiVersion": ["v1"], "kind": "Pod"}},
     "request.object.apiVersion must be a string, got a list"),
    ({"operation": "CREATE", "object": {"apiVersion": "v1", "kind": ["Pod"]}},
     "request.object.kind must be a string, got a list"),
    ({"operation": "CREATE", "namespace": {"a": 1}, "object": dict(POD)}, "request.namespace must be a string"),
    ({"operation": "CREATE", "object": {**POD, "metadata": {"name": "p", "namespace": {"x": 1}}}},
     "request.object.metadata.namespace must be a string, got a mapping"),
    ({"operation": "CREATE", "kind": {"kind": ["Pod"]}, "object": dict(POD)}, "request.kind.kind must be a string"),
    ({"operation": "CREATE", "userInfo": {"groups": "admins"}, "object": dict(POD)},
     "request.userInfo.groups must be a list of strings"),
])
def test_ill_typed_reviews_get_an_admission_review_denial(server, request_fields, reason):
    """A review whose uid is readable is answered with an AdmissionReview for that uid: denied by the
    route's failurePolicy Fail policies, naming the field (never a 500, never allowed)."""
    body = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {"uid": "u-1", **request_fields}}
    resp = server.client.post("/validate", json=body)
    assert resp.status_code == 200, resp.text
    doc = resp.json()
    assert doc["kind"] == "AdmissionReview" and doc["apiVersion"] == "admission.k8s.io/v1"
    answer = doc["response"]
    assert answer["uid"] == "u-1" and answer["allowed"] is False
    assert answer["status"]["code"] == 400
    assert reason in answer["status"]["message"]
    # the failurePolicy Ignore route allows, with a warning saying why
    ignore = server.client.post("/validate/ignore", json=body).json()["response"]
    assert ignore["uid"] == "u-1"
    assert ignore["allowed"] is True or reason in ignore["status"]["message"]


@pytest.mark.parametrize("depth", [300, 4000, 100_000])
def test_deep_json_is_refused_not_a_500(server, depth):
    nested = "[" * depth + "]" * depth
    body = ('{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {"uid": "d", '
            '"operation": "CREATE", "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, '
            '"spec": {"x": ' + nested + '}}}}').encode()
    resp = server.client.post("/validate", content=body, headers={"content-type": "application/json"})
    assert resp.status_code == 400
    assert "nested more than 256 levels" in resp.json()["error"]


def test_other_routes(server):
    assert server.client.get("/validate").status_code == 405
    missing = server.client.get("/nope")
    assert missing.status_code == 404 and "error" in missing.json()
    assert server.client.get("/health/liveness").json() == {"status": "ok"}


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_tls_only_and_minimum_version(server):
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{server.port}/health/liveness", timeout=5)
    ctx = server.ssl_context()
    ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    with pytest.raises((httpx.TransportError, ssl.SSLError)):
        httpx.get(f"{server.base}/health/liveness", verify=ctx, timeout=5)


def test_metrics_after_requests(server):
    server.review("/validate", admission_request(POD))
    text = server.client.get("/metrics").text
    assert 'verno_admission_requests_total{endpoint="validate",operation="CREATE",kind="Pod",allowed="true"}' in text
    assert "verno_admission_request_duration_seconds_bucket{" in text
    assert 'verno_policy_rule_results_total{endpoint="validate",policy="require-app-label",rule="check-app",' \
           'result="pass"}' in text
    assert "verno_admission_bad_requests_total" in text
    assert "default" not in text.split("verno_admission_requests_total", 1)[1]  # no namespaces as labels


def test_policy_file_reload(server):
    pod = copy.deepcopy(POD)
    pod["metadata"]["labels"]["tier"] = "gold"
    extra = server.policies_dir / "deny-gold.yaml"
    extra.write_text((DATA / "policies" / "require-app-label.yaml").read_text()
                     .replace("require-app-label", "deny-gold")
                     .replace("app: \"?*\"", "tier: \"!gold\"").replace("label 'app' is required", "no gold"))
    try:
        _eventually(lambda: not server.review("/validate", admission_request(pod))["allowed"])
        # a broken file keeps the previous set: requests are still answered with it
        extra.write_text("apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: x}\nspec: {rules: [{}]}\n")
        _eventually(lambda: "policy load failed" in server.logs())
        assert server.review("/validate", admission_request(pod))["allowed"] is False
    finally:
        extra.unlink()
    _eventually(lambda: server.review("/validate", admission_request(pod))["allowed"])


def test_certificate_reload(server):
    before = _peer_cert(server)
    new_pem = write_self_signed(server.cert, server.key, common_name="verno-rotated")
    ctx = ssl.create_default_context(cadata=new_pem.decode())

    def rotated() -> bool:
        try:
            return httpx.get(f"{server.base}/health/liveness", verify=ctx, timeout=5).status_code == 200
        except httpx.TransportError:
            return False

    _eventually(rotated)
    server.cert_pem = new_pem
    server.client.close()
    server.client = httpx.Client(base_url=server.base, verify=server.ssl_context(), timeout=30)
    assert _peer_cert(server) != before


def test_still_healthy_afterwards(server):
    assert server.client.get("/health/readiness").status_code == 200
    assert server.review("/mutate", admission_request(POD))["allowed"] is True
    assert server.proc.poll() is None


def _peer_cert(server) -> bytes:
    import socket

    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            return tls.getpeercert(binary_form=True)


def _eventually(check, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"condition not met within {timeout}s")
