"""`authorizer` at admission: `verno serve` against the API-server stand-in asks the cluster with a
SubjectAccessReview for the request's user (or a service account), as the API server's own VAP evaluation
does. A ValidatingAdmissionPolicy and its binding are read from the cluster."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

TESTS = str(Path(__file__).resolve().parents[1])
if TESTS not in sys.path:
    sys.path.insert(0, TESTS)

from apiserver.fixtures import apiserver  # noqa: E402,F401
from controller.harness import load_crds  # noqa: E402
from serverproc import VernoServer, admission_request  # noqa: E402

PROTECTED = {
    "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
    "metadata": {"name": "protected-configmaps"},
    "spec": {"failurePolicy": "Fail",
             "matchConstraints": {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"],
                                                     "resources": ["configmaps"], "operations": ["CREATE"]}]},
             "validations": [
                 {"expression": "!object.metadata.name.startsWith('protected-') || "
                                "authorizer.requestResource.check('approve').allowed()",
                  "messageExpression": "'only approvers may create ' + object.metadata.name"},
                 {"expression": "!has(object.data.token) || authorizer.serviceAccount('ci', 'publisher')"
                                ".group('').resource('secrets').namespace(object.metadata.namespace)"
                                ".check('create').allowed()",
                  "message": "the publisher service account cannot create secrets here"}]}}
BINDING = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
           "metadata": {"name": "protected-configmaps"},
           "spec": {"policyName": "protected-configmaps", "validationActions": ["Deny"]}}


def configmap(name: str, **data: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "default"},
            "data": data}


def as_user(name: str) -> dict:
    return {"userInfo": {"username": name, "groups": ["system:authenticated"]}}


@pytest.fixture
def webhook(apiserver, tmp_path):  # noqa: F811
    load_crds(apiserver)  # verno's policy kinds, which the webhook lists
    apiserver.create(PROTECTED)
    apiserver.create(BINDING)
    apiserver.deny("approve", "", "configmaps", user="bob")
    apiserver.deny("create", "", "secrets", "locked", user="system:serviceaccount:ci:publisher")
    srv = VernoServer(tmp_path, ["--kubeconfig", str(apiserver.kubeconfig), "--timeout", "5"])
    try:
        srv.wait_ready()
        yield srv
    finally:
        srv.stop()


def sars(apiserver) -> int:  # noqa: F811
    return sum(1 for method, path in apiserver.audit if method == "POST" and path.endswith("/subjectaccessreviews"))


def test_the_requesters_and_a_service_accounts_rights_decide(webhook, apiserver):  # noqa: F811
    before = sars(apiserver)
    allowed = webhook.review("/validate", admission_request(configmap("protected-a"), **as_user("alice")))
    assert allowed["allowed"] is True
    denied = webhook.review("/validate", admission_request(configmap("protected-b"), **as_user("bob")))
    assert denied["allowed"] is False
    assert denied["status"]["message"] == ("ValidatingAdmissionPolicy 'protected-configmaps' with binding "
                                           "'protected-configmaps' denied request: only approvers may create "
                                           "protected-b")
    assert sars(apiserver) == before + 2
    plain = webhook.review("/validate", admission_request(configmap("plain"), **as_user("bob")))
    assert plain["allowed"] is True and sars(apiserver) == before + 2  # `||` short-circuits: nothing asked

    # a service account's rights, asked by name whoever makes the request
    ok = webhook.review("/validate", admission_request(configmap("cfg", token="t"), **as_user("alice")))
    assert ok["allowed"] is True
    locked = configmap("cfg", token="t")
    locked["metadata"]["namespace"] = "locked"
    denied = webhook.review("/validate", admission_request(locked, **as_user("alice")))
    assert denied["allowed"] is False
    assert denied["status"]["message"].endswith("the publisher service account cannot create secrets here")
