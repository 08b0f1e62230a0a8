"""Per-policy webhook paths: a policy with matchConditions is evaluated on its own fine-grained path only.

The paths are the ones ``verno webhook-config`` writes for the same policy files; the server must
evaluate only the named policy there, and the shared ``/validate/fail`` etc. paths must skip it
(Kyverno's behaviour: the API server checks the conditions of that policy's webhook only).
"""
from __future__ import annotations

import pytest
import yaml
from click.testing import CliRunner
from serverproc import VernoServer, admission_request

from verno.cli.main import cli
from verno.server.app import route_of

CONDITIONS = [{"name": "not-system", "expression": "!request.userInfo.username.startsWith('system:')"}]


def _policy(name: str, label: str, *, namespace: str = "", failure: str = "Fail", conditions: bool = False) -> dict:
    spec: dict = {"validationFailureAction": "Enforce", "rules": [{
        "name": f"need-{label}", "match": {"any": [{"resources": {"kinds": ["ConfigMap"]}}]},
        "validate": {"message": f"label {label} is required",
                     "pattern": {"metadata": {"labels": {label: "?*"}}}}}]}
    if conditions:
        spec["webhookConfiguration"] = {"failurePolicy": failure, "matchConditions": CONDITIONS}
    else:
        spec["failurePolicy"] = failure
    meta = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {"apiVersion": "kyverno.io/v1", "kind": "Policy" if namespace else "ClusterPolicy", "metadata": meta,
            "spec": spec}


def configmap(namespace: str = "team-a") -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm", "namespace": namespace}}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    work = tmp_path_factory.mktemp("finegrained")
    policies = work / "policies.yaml"
    policies.write_text(yaml.safe_dump_all([
        _policy("plain", "owner"),
        _policy("plain-ignore", "tier", failure="Ignore"),
        _policy("cond", "team", conditions=True),
        _policy("ns-cond", "app", namespace="team-a", failure="Ignore", conditions=True),
    ]))
    from certs import write_self_signed

    write_self_signed(work / "ca.crt", work / "ca.key")
    out = CliRunner().invoke(cli, ["webhook-config", "--service", "verno", "--namespace", "verno",
                                   "--ca-bundle", str(work / "ca.crt"), "--policies", str(policies)],
                             catch_exceptions=False)
    assert out.exit_code == 0, out.output
    docs = [d for d in yaml.safe_load_all(out.stdout) if d]
    validating = next(d for d in docs if d["kind"] == "ValidatingWebhookConfiguration")
    paths = {w["name"]: w["clientConfig"]["service"]["path"] for w in validating["webhooks"]}
    srv = VernoServer(work, ["--policies", str(policies), "--timeout", "5"])
    try:
        srv.wait_ready()
        yield srv, paths
    finally:
        srv.stop()


def _blocking(srv: VernoServer, path: str, obj: dict) -> set[str]:
    """Names of the policies that blocked ``obj`` on ``path`` (empty when allowed)."""
    response = srv.review(path, admission_request(obj))
    if response["allowed"]:
        return set()
    body = response["status"]["message"].split("following policies", 1)[1]
    return set(yaml.safe_load(body))


def test_webhook_config_paths(setup):
    _, paths = setup
    assert paths == {
        "validate.verno.svc-fail": "/validate/fail",
        "validate.verno.svc-ignore": "/validate/ignore",
        "validate.verno.svc-fail-finegrained-cond": "/validate/fail/finegrained/cond",
        "validate.verno.svc-ignore-finegrained-team-a-ns-cond": "/validate/ignore/finegrained/team-a/ns-cond",
    }


def test_each_path_evaluates_its_own_policies(setup):
    srv, paths = setup
    assert _blocking(srv, paths["validate.verno.svc-fail"], configmap()) == {"plain"}
    assert _blocking(srv, paths["validate.verno.svc-ignore"], configmap()) == {"plain-ignore"}
    assert _blocking(srv, paths["validate.verno.svc-fail-finegrained-cond"], configmap()) == {"cond"}
    assert _blocking(srv, paths["validate.verno.svc-ignore-finegrained-team-a-ns-cond"], configmap()) == {"ns-cond"}


def test_shared_paths_without_failure_policy_skip_conditioned_policies(setup):
    srv, _ = setup
    assert _blocking(srv, "/validate", configmap()) == {"plain", "plain-ignore"}


def test_a_namespaced_policy_on_its_path_still_applies_to_its_namespace_only(setup):
    srv, paths = setup
    assert _blocking(srv, paths["validate.verno.svc-ignore-finegrained-team-a-ns-cond"], configmap("other")) == set()


def test_an_unknown_policy_path_evaluates_nothing(setup):
    srv, _ = setup
    assert _blocking(srv, "/validate/fail/finegrained/nope", configmap()) == set()
    assert srv.client.post("/validate/fail/other", json={}).status_code == 404


@pytest.mark.parametrize("path, route", [
    ("/validate", ("validate", "validate")),
    ("/mutate/ignore", ("mutate", "mutate/ignore")),
    ("/validate/fail/finegrained/cond", ("validate", "validate/finegrained/cond")),
    ("/mutate/ignore/finegrained/team-a/p", ("mutate", "mutate/finegrained/team-a/p")),
    ("/validate/fail/finegrained", None),
    ("/validate/fail/finegrained/a/b/c", None),
    ("/validate/other", None),
    ("/validate/fail/x", None),
])
def test_route_of(path, route):
    assert route_of(path) == route
