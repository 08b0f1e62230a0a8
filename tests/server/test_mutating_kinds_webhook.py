"""The webhook's /mutate runs a MutatingPolicy and a MutatingAdmissionPolicy (with its binding) from policy
files: the answer is a JSON Patch from the original object to the mutated one. Through real TLS to
``verno serve``."""
from __future__ import annotations

import base64
import copy
import json
from importlib.metadata import entry_points

import jsonpatch
import pytest
import yaml

from serverproc import VernoServer, admission_request

pytestmark = pytest.mark.skipif(
    not {"mutatingpolicy", "mutatingadmissionpolicy"} <= {ep.name for ep in entry_points(group="verno")},
    reason="the mutating kinds' entry points are not installed")

MPOL = {"apiVersion": "policies.kyverno.io/v1", "kind": "MutatingPolicy", "metadata": {"name": "team"},
        "spec": {"matchConstraints": {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"],
                                                         "resources": ["pods"], "operations": ["CREATE"]}]},
                 "mutations": [{"patchType": "ApplyConfiguration", "applyConfiguration": {
                     "expression": "Object{metadata: Object.metadata{labels: {'team': 'platform'}}}"}}]}}
MAP = {"apiVersion": "admissionregistration.k8s.io/v1beta1", "kind": "MutatingAdmissionPolicy",
       "metadata": {"name": "pull"},
       "spec": {"matchConstraints": {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"],
                                                        "resources": ["pods"], "operations": ["CREATE"]}]},
                "mutations": [{"patchType": "JSONPatch", "jsonPatch": {"expression":
                    "[JSONPatch{op: 'replace', path: '/spec/containers/0/imagePullPolicy', value: 'Always'}]"}}]}}
BINDING = {"apiVersion": "admissionregistration.k8s.io/v1beta1", "kind": "MutatingAdmissionPolicyBinding",
           "metadata": {"name": "pull-all"}, "spec": {"policyName": "pull"}}
POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
       "spec": {"containers": [{"name": "c", "image": "nginx", "imagePullPolicy": "IfNotPresent"}]}}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    work = tmp_path_factory.mktemp("mutating-kinds")
    policies = work / "policies"
    policies.mkdir()
    (policies / "policies.yaml").write_text(yaml.safe_dump_all([MPOL, MAP, BINDING]))
    srv = VernoServer(work, ["--policies", str(policies), "--timeout", "5"])
    try:
        srv.wait_ready()
        yield srv
    finally:
        srv.stop()


def test_mutate_returns_the_patch_of_both_kinds(server):
    response = server.review("/mutate", admission_request(POD))
    assert response["allowed"] is True and response["patchType"] == "JSONPatch"
    mutated = jsonpatch.apply_patch(copy.deepcopy(POD), json.loads(base64.b64decode(response["patch"])))
    assert mutated["metadata"]["labels"] == {"team": "platform"}
    assert mutated["spec"]["containers"][0]["imagePullPolicy"] == "Always"


def test_a_failed_mutation_denies_under_failure_policy_fail(server):
    pod = copy.deepcopy(POD)
    pod["spec"]["containers"] = []  # /spec/containers/0 does not exist: the JSON patch fails
    response = server.review("/mutate", admission_request(pod))
    assert response["allowed"] is False
    assert "pull" in response["status"]["message"]
