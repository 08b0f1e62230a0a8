"""``verno serve`` denies a Pod by a ClusterPolicy ``validate.cel`` rule with Kyverno's message."""
from __future__ import annotations

import copy

import pytest

from serverproc import VernoServer, admission_request

POLICY = """apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: disallow-host-path
spec:
  background: false
  rules:
  - name: host-path
    match:
      any:
      - resources:
          kinds: [Pod]
    celPreconditions:
    - name: not-a-system-pod
      expression: "!object.metadata.name.startsWith('system-')"
    validate:
      failureAction: Enforce
      cel:
        variables:
        - name: hostPaths
          expression: "object.spec.?volumes.orValue([]).filter(v, has(v.hostPath))"
        expressions:
        - expression: "size(variables.hostPaths) == 0"
          messageExpression: "'hostPath volumes are forbidden: ' + variables.hostPaths.map(v, v.name).join(', ')"
"""

POD = {
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "web", "namespace": "default"},
    "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}],
             "volumes": [{"name": "logs", "hostPath": {"path": "/var/log"}}, {"name": "tmp", "emptyDir": {}}]},
}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    work = tmp_path_factory.mktemp("serve-cel")
    policies = work / "policies"
    policies.mkdir()
    (policies / "disallow-host-path.yaml").write_text(POLICY)
    srv = VernoServer(work, ["--policies", str(policies), "--timeout", "5"])
    try:
        srv.wait_ready()
        yield srv
    finally:
        srv.stop()


def test_a_pod_violating_a_validate_cel_rule_is_denied_with_kyverno_message(server):
    response = server.review("/validate", admission_request(POD))
    assert response["allowed"] is False
    assert response["status"]["message"] == (
        "\n\nresource Pod/default/web was blocked due to the following policies \n\n"
        "disallow-host-path:\n"
        "  host-path: 'hostPath volumes are forbidden: logs'\n"
    )


def test_a_compliant_or_precondition_skipped_pod_is_allowed(server):
    good = copy.deepcopy(POD)
    good["spec"]["volumes"] = [{"name": "tmp", "emptyDir": {}}]
    assert server.review("/validate", admission_request(good))["allowed"] is True
    system = copy.deepcopy(POD)
    system["metadata"]["name"] = "system-logger"
    assert server.review("/validate", admission_request(system))["allowed"] is True
