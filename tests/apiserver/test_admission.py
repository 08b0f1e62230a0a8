"""The admission chain against a TLS webhook written here: mutation, denial (as the Python client and kubectl
show it), reinvocation, selectors, CEL matchConditions, failurePolicy, timeouts, service references, dry run."""
from __future__ import annotations

import json
import socket
import time

import pytest
from kubernetes import client

from apiserver.webhookserver import WebhookServer

RULE = {"operations": ["CREATE", "UPDATE", "DELETE"], "apiGroups": [""], "apiVersions": ["v1"],
        "resources": ["configmaps"]}


def add_label(key: str, value: str):
    def hook(req: dict) -> dict:
        if req["object"] is None:  # DELETE
            return {"allowed": True}
        labels = (req["object"]["metadata"].get("labels") or {})
        if labels.get(key) == value:
            return {"allowed": True}
        op = {"op": "add", "path": f"/metadata/labels/{key}", "value": value} if labels else \
            {"op": "add", "path": "/metadata/labels", "value": {key: value}}
        return {"allowed": True, "patch": [op], "warnings": [f"labelled {key}"]}
    return hook


def deny_bad(req: dict) -> dict:
    obj = req["object"] or req["oldObject"]
    if "bad" in (obj["metadata"].get("labels") or {}):
        return {"allowed": False, "status": {"code": 403, "message": "no bad configmaps"}}
    return {"allowed": True}


def slow(req: dict) -> dict:
    time.sleep(5)
    return {"allowed": True}


@pytest.fixture
def hooks():
    server = WebhookServer({"/mutate": add_label("mutated", "yes"), "/second": add_label("second", "yes"),
                            "/deny": deny_bad, "/allow": lambda r: {"allowed": True}, "/slow": slow},
                           dns_names=["localhost", "hooks.webhooks.svc"])
    yield server
    server.close()


def webhook(name: str, server: WebhookServer, path: str, **extra) -> dict:
    return {"name": name, "clientConfig": {"url": f"{server.url}{path}", "caBundle": server.ca_bundle},
            "rules": [RULE], "sideEffects": "None", "admissionReviewVersions": ["v1"], **extra}


def configure(api: client.ApiClient, kind: str, name: str, *hooks: dict) -> None:
    adm = client.AdmissionregistrationV1Api(api)
    body = {"metadata": {"name": name}, "webhooks": list(hooks)}
    if kind == "mutating":
        adm.create_mutating_webhook_configuration(body)
    else:
        adm.create_validating_webhook_configuration(body)


def cm(name: str, **labels: str) -> dict:
    return {"metadata": {"name": name, "labels": labels or None}}


def error(call, *args, **kwargs) -> tuple[int, dict]:
    with pytest.raises(client.ApiException) as info:
        call(*args, **kwargs)
    return info.value.status, json.loads(info.value.body)


def test_mutation_then_validation_with_system_fields_between(api_client, hooks):
    configure(api_client, "mutating", "m", webhook("mutate.example.com", hooks, "/mutate"))
    configure(api_client, "validating", "v", webhook("deny.example.com", hooks, "/deny"))
    v1 = client.CoreV1Api(api_client)
    made = v1.create_namespaced_config_map("default", {"metadata": {"generateName": "gen-"}})
    assert made.metadata.labels == {"mutated": "yes"}
    (mpath, mreq), (vpath, vreq) = hooks.received
    assert mpath == "/mutate?timeout=10s" and vpath.startswith("/deny")
    assert mreq["name"] == "" and "uid" not in mreq["object"]["metadata"]
    assert vreq["object"]["metadata"]["uid"] == made.metadata.uid and vreq["name"] == made.metadata.name
    assert mreq["operation"] == "CREATE" and mreq["oldObject"] is None and mreq["namespace"] == "default"
    assert mreq["kind"] == {"group": "", "version": "v1", "kind": "ConfigMap"}
    assert mreq["options"] == {"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1"}
    code, body = error(v1.create_namespaced_config_map, "default", cm("x", bad="1"))
    assert (code, body["message"]) == (403, 'admission webhook "deny.example.com" denied the request: '
                                            "no bad configmaps")
    code, body = error(v1.patch_namespaced_config_map, made.metadata.name, "default",
                       {"metadata": {"labels": {"bad": "1"}}})
    assert code == 403 and hooks.received[-1][1]["operation"] == "UPDATE"
    assert hooks.received[-1][1]["oldObject"]["metadata"]["labels"] == {"mutated": "yes"}
    v1.delete_namespaced_config_map(made.metadata.name, "default")
    delete = hooks.received[-1][1]
    assert delete["operation"] == "DELETE" and delete["object"] is None and delete["oldObject"]["metadata"]["name"]


def test_reinvocation_if_needed(api_client, hooks):
    configure(api_client, "mutating", "a-first", webhook("first.example.com", hooks, "/mutate",
                                                         reinvocationPolicy="IfNeeded"))
    configure(api_client, "mutating", "b-second", webhook("second.example.com", hooks, "/second"))
    client.CoreV1Api(api_client).create_namespaced_config_map("default", cm("r"))
    assert hooks.paths() == ["/mutate", "/second", "/mutate"]


def test_selectors_and_match_conditions_choose_the_calls(api_client, hooks):
    v1 = client.CoreV1Api(api_client)
    v1.create_namespace({"metadata": {"name": "watched", "labels": {"policy": "on"}}})
    configure(api_client, "validating", "v",
              webhook("ns.example.com", hooks, "/allow", namespaceSelector={"matchLabels": {"policy": "on"}}),
              webhook("obj.example.com", hooks, "/allow", objectSelector={
                  "matchExpressions": [{"key": "check", "operator": "Exists"}]}),
              webhook("cel.example.com", hooks, "/allow", matchConditions=[
                  {"name": "prefix", "expression": "object.metadata.name.startsWith('cel-') && "
                                                   "request.operation == 'CREATE'"}]))
    v1.create_namespaced_config_map("watched", cm("a"))
    assert [r["name"] for _, r in hooks.received] == ["a"] and hooks.received[0][1]["namespace"] == "watched"
    hooks.received.clear()
    v1.create_namespaced_config_map("default", cm("b", check="1"))
    v1.create_namespaced_config_map("default", cm("cel-c"))
    v1.create_namespaced_config_map("default", cm("d"))
    assert [r["name"] for _, r in hooks.received] == ["b", "cel-c"]


def test_unsupported_cel_is_rejected_not_ignored(api_client, hooks):
    adm = client.AdmissionregistrationV1Api(api_client)
    bad = webhook("cel.example.com", hooks, "/allow", matchConditions=[
        {"name": "authz", "expression": "authorizer.path == '/x'"},
        {"name": "quantity", "expression": "quantity(object.spec.size) > 1"}])
    code, body = error(adm.create_validating_webhook_configuration, {"metadata": {"name": "v"}, "webhooks": [bad]})
    assert code == 422 and body["reason"] == "Invalid"
    causes = {c["field"]: c["message"] for c in body["details"]["causes"]}
    assert "undeclared reference to 'authorizer'" in causes["webhooks[0].matchConditions[0].expression"]
    assert "undeclared reference to 'quantity'" in causes["webhooks[0].matchConditions[1].expression"]
    assert client.AdmissionregistrationV1Api(api_client).list_validating_webhook_configuration().items == []


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_failure_policy_and_timeouts(api_client, hooks):
    v1 = client.CoreV1Api(api_client)
    port = _closed_port()
    down = {"name": "down.example.com", "clientConfig": {"url": f"https://127.0.0.1:{port}/x",
                                                         "caBundle": hooks.ca_bundle},
            "rules": [RULE], "sideEffects": "None", "admissionReviewVersions": ["v1"], "timeoutSeconds": 1}
    configure(api_client, "validating", "v", {**down, "failurePolicy": "Ignore"})
    v1.create_namespaced_config_map("default", cm("ignored"))
    client.AdmissionregistrationV1Api(api_client).delete_validating_webhook_configuration("v")
    configure(api_client, "validating", "v", down)
    code, body = error(v1.create_namespaced_config_map, "default", cm("failed"))
    assert code == 500 and body["reason"] == "InternalError"
    assert body["message"].startswith('Internal error occurred: failed calling webhook "down.example.com": failed to '
                                      f'call webhook: Post "https://127.0.0.1:{port}/x?timeout=1s": ')
    client.AdmissionregistrationV1Api(api_client).delete_validating_webhook_configuration("v")
    configure(api_client, "validating", "v", webhook("slow.example.com", hooks, "/slow", timeoutSeconds=1))
    started = time.monotonic()
    code, body = error(v1.create_namespaced_config_map, "default", cm("slow"))
    assert time.monotonic() - started < 4  # the hook answers after 5s
    assert code == 500 and body["message"].endswith("context deadline exceeded")


def test_ca_bundle_is_checked(api_client, hooks):
    other = WebhookServer({"/allow": lambda r: {"allowed": True}})
    try:
        configure(api_client, "validating", "v", {**webhook("ca.example.com", hooks, "/allow"),
                                                  "clientConfig": {"url": f"{hooks.url}/allow",
                                                                   "caBundle": other.ca_bundle}})
    finally:
        other.close()
    code, body = error(client.CoreV1Api(api_client).create_namespaced_config_map, "default", cm("x"))
    assert code == 500 and "CERTIFICATE_VERIFY_FAILED" in body["message"] and not hooks.received


def test_service_references_use_the_service_map(api_client, apiserver, hooks):
    svc = {"service": {"namespace": "webhooks", "name": "hooks", "path": "/mutate", "port": 443},
           "caBundle": hooks.ca_bundle}
    configure(api_client, "mutating", "m", {**webhook("svc.example.com", hooks, "/mutate"), "clientConfig": svc})
    v1 = client.CoreV1Api(api_client)
    code, body = error(v1.create_namespaced_config_map, "default", cm("unmapped"))
    assert code == 500 and "no --service-map entry for webhooks/hooks" in body["message"]
    apiserver.admission.service_map["webhooks/hooks"] = hooks.url
    assert v1.create_namespaced_config_map("default", cm("mapped")).metadata.labels == {"mutated": "yes"}


def test_dry_run_reaches_webhooks_and_persists_nothing(api_client, apiserver, hooks):
    configure(api_client, "mutating", "m", webhook("mutate.example.com", hooks, "/mutate"))
    v1 = client.CoreV1Api(api_client)
    made = v1.create_namespaced_config_map("default", cm("dry"), dry_run="All")
    assert made.metadata.labels == {"mutated": "yes"} and hooks.received[0][1]["dryRun"] is True
    assert v1.list_namespaced_config_map("default").items == []


def test_kubectl_shows_denials_and_warnings(apiserver, kubectl, hooks):
    configure(_client(apiserver), "mutating", "m", webhook("mutate.example.com", hooks, "/mutate"))
    configure(_client(apiserver), "validating", "v", webhook("deny.example.com", hooks, "/deny"))
    good = kubectl("create", "configmap", "good")
    assert good.stdout == "configmap/good created\n" and "Warning: labelled mutated" in good.stderr
    manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bad\n  labels: {bad: 'yes'}\n"
    bad = kubectl("apply", "--validate=false", "-f", "-", input=manifest, check=False)
    assert bad.returncode == 1
    assert bad.stderr.strip().endswith('Error from server: error when creating "STDIN": admission webhook '
                                       '"deny.example.com" denied the request: no bad configmaps')


def _client(apiserver) -> client.ApiClient:
    configuration = client.Configuration()
    configuration.host = apiserver.url
    return client.ApiClient(configuration)
