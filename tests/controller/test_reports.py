"""Background scans into PolicyReports through the stand-in: one report per resource (named by its UID, owned
by it), Kyverno's result fields and summary, pass after a fix, results gone with their policy (the report
deleted when empty), no rewrite of an unchanged resource (on the interval, after a restart), old violations
kept when the policy turns to Enforce, openreports with the flag, ClusterPolicyReports for cluster-scoped
resources; ``kubectl get policyreport`` prints Kyverno's columns."""
from __future__ import annotations

import re
from typing import Any

from kubernetes import client

from controller.harness import wait_for
from controller.policies import cluster_policy
from verno.controller.policies import fingerprint

CPOL = ("kyverno.io", "v1", "clusterpolicies")
WG = "wgpolicyk8s.io/v1alpha2"
TEAM = {"name": "require-team", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
        "validate": {"message": "label team is required", "pattern": {"metadata": {"labels": {"team": "?*"}}}}}
NO_LATEST = {"name": "no-latest", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
             "validate": {"message": "no latest", "pattern": {"spec": {"containers": [{"image": "!*:latest"}]}}}}
NS_OWNER = {"name": "require-owner", "match": {"any": [{"resources": {"kinds": ["Namespace"]}}]},
            "validate": {"message": "label owner is required", "pattern": {"metadata": {"labels": {"owner": "?*"}}}}}
FAST = dict(scan_debounce=0.05)


def audit_policy(name: str, *rules: dict[str, Any], **spec: Any) -> dict[str, Any]:
    policy = cluster_policy(name, *rules, validationFailureAction="Audit", **spec)
    policy["metadata"]["annotations"] = {"policies.kyverno.io/severity": "medium",
                                         "policies.kyverno.io/category": "Best Practices"}
    return policy


def make_pod(api_client: Any, namespace: str, name: str, labels: dict[str, str] | None = None,
             image: str = "nginx:1.25") -> dict[str, Any]:
    core = client.CoreV1Api(api_client)
    try:
        core.create_namespace({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    except client.ApiException as exc:
        if exc.status != 409:
            raise
    body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels or {}},
            "spec": {"containers": [{"name": "c", "image": image}]}}
    return api_client.sanitize_for_serialization(core.create_namespaced_pod(namespace, body))


def report(server: Any, uid: str, namespace: str = "", kind: str = "PolicyReport", api: str = WG) -> Any:
    return server.get(api, kind, uid, namespace)


def results_of(obj: dict[str, Any] | None) -> list[tuple[str, str, str]]:
    return sorted((r["policy"], r["rule"], r["result"]) for r in (obj or {}).get("results") or [])


def report_writes(server: Any, plural: str = "policyreports") -> list[tuple[str, str]]:
    return [(verb, path) for verb, path in list(server.audit)
            if verb in ("POST", "PUT", "PATCH", "DELETE") and f"/{plural}" in path]


def _columns(out: str) -> list[dict[str, str]]:
    header, *lines = out.splitlines()
    names = re.findall(r"\S+", header)
    starts = [m.start() for m in re.finditer(r"\S+", header)] + [None]
    return [{f"{n}{i}": line[starts[i]:starts[i + 1]].strip() for i, n in enumerate(names)} for line in lines]


def test_audit_failure_is_reported_then_passes_when_fixed(cluster, controllers, api_client, kubectl):
    custom = client.CustomObjectsApi(api_client)
    policy = custom.create_cluster_custom_object(*CPOL, audit_policy("require-team", TEAM))
    pod = make_pod(api_client, "apps", "web")
    uid = pod["metadata"]["uid"]
    controllers(**FAST)

    polr = wait_for(lambda: report(cluster, uid, "apps"), what="the Pod's report")
    assert polr["metadata"]["namespace"] == "apps"
    assert polr["metadata"]["ownerReferences"] == [{"apiVersion": "v1", "kind": "Pod", "name": "web", "uid": uid}]
    assert polr["scope"] == {"apiVersion": "v1", "kind": "Pod", "namespace": "apps", "name": "web", "uid": uid}
    labels = polr["metadata"]["labels"]
    assert labels["app.kubernetes.io/managed-by"] == "kyverno"
    assert labels["cpol.kyverno.io/require-team"] == fingerprint(policy)[:20]
    assert re.fullmatch(r"[0-9a-f]{32}", labels["audit.kyverno.io/resource.hash"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ",
                        polr["metadata"]["annotations"]["audit.kyverno.io/last-scan-time"])
    (result,) = polr["results"]
    stamp = result.pop("timestamp")
    assert stamp["nanos"] == 0 and isinstance(stamp["seconds"], int) and stamp["seconds"] > 1_700_000_000
    assert result == {"source": "kyverno", "policy": "require-team", "rule": "require-team", "result": "fail",
                      "scored": True, "severity": "medium", "category": "Best Practices",
                      "message": "validation error: label team is required. rule require-team failed at path "
                                 "/metadata/labels/team/",
                      "properties": {"process": "background scan"}}
    assert polr["summary"] == {"pass": 0, "fail": 1, "warn": 0, "error": 0, "skip": 0}

    out = kubectl("get", "policyreport", "-n", "apps").stdout
    assert out.splitlines()[0].split() == ["NAME", "KIND", "NAME", "PASS", "FAIL", "WARN", "ERROR", "SKIP", "AGE"]
    (row,) = _columns(out)
    assert [row["NAME0"], row["KIND1"], row["NAME2"], row["PASS3"], row["FAIL4"]] == [uid, "Pod", "web", "0", "1"]

    client.CoreV1Api(api_client).patch_namespaced_pod("web", "apps", {"metadata": {"labels": {"team": "a"}}})
    fixed = wait_for(lambda: (r := report(cluster, uid, "apps")) and r["summary"]["pass"] == 1 and r,
                     what="the fixed Pod's pass")
    assert results_of(fixed) == [("require-team", "require-team", "pass")]
    assert fixed["summary"]["fail"] == 0
    assert fixed["metadata"]["labels"]["audit.kyverno.io/resource.hash"] != labels["audit.kyverno.io/resource.hash"]
    (row,) = _columns(kubectl("get", "polr", "-n", "apps").stdout)
    assert (row["PASS3"], row["FAIL4"]) == ("1", "0")


def test_deleting_a_policy_removes_its_results_and_an_empty_report(cluster, controllers, api_client):
    custom = client.CustomObjectsApi(api_client)
    custom.create_cluster_custom_object(*CPOL, audit_policy("require-team", TEAM))
    custom.create_cluster_custom_object(*CPOL, audit_policy("no-latest", NO_LATEST))
    uid = make_pod(api_client, "apps", "web", image="nginx:latest")["metadata"]["uid"]
    controllers(**FAST)
    both = wait_for(lambda: len(results_of(report(cluster, uid, "apps"))) == 2 and report(cluster, uid, "apps"),
                    what="both policies' results")
    assert results_of(both) == [("no-latest", "no-latest", "fail"), ("require-team", "require-team", "fail")]

    custom.delete_cluster_custom_object(*CPOL, "no-latest")
    one = wait_for(lambda: (r := report(cluster, uid, "apps")) and len(r["results"]) == 1 and r,
                   what="no-latest's result gone")
    assert results_of(one) == [("require-team", "require-team", "fail")]
    assert "cpol.kyverno.io/no-latest" not in one["metadata"]["labels"]
    assert one["summary"]["fail"] == 1

    custom.delete_cluster_custom_object(*CPOL, "require-team")
    wait_for(lambda: report(cluster, uid, "apps") is None, what="the empty report deleted")
    assert ("DELETE", f"/apis/{WG}/namespaces/apps/policyreports/{uid}") in report_writes(cluster)


def test_an_unchanged_resource_is_not_rewritten_on_the_interval_nor_after_a_restart(cluster, controllers,
                                                                                    api_client):
    custom = client.CustomObjectsApi(api_client)
    custom.create_cluster_custom_object(*CPOL, audit_policy("require-team", TEAM))
    uid = make_pod(api_client, "apps", "web")["metadata"]["uid"]
    running = controllers(scan_interval=0.3, **FAST)
    wait_for(lambda: report(cluster, uid, "apps"), what="the Pod's report")
    writes = report_writes(cluster)
    assert writes == [("POST", f"/apis/{WG}/namespaces/apps/policyreports")]
    counters = running.controller.scan_counters
    # several intervals pass: the Pod is evaluated again each time, and nothing is written
    wait_for(lambda: counters.scans.value("unchanged") >= 3, what="three periodic scans")
    assert report_writes(cluster) == writes
    running.stop()

    again = controllers(scan_interval=3600, **FAST)
    scanner = wait_for(lambda: again.controller.scanner and again.controller.scanner.synced.is_set()
                       and again.controller.scanner, what="the new leader's scanner")
    wait_for(lambda: again.controller.scan_counters.scans.value("skipped") >= 1,
             what=f"the Pod looked at {again.controller.metrics.render()[-1500:]}")
    assert scanner.evaluations == 0  # its report says it is current: not even evaluated
    assert report_writes(cluster) == writes


def test_flipped_to_enforce_still_reports_old_violations(cluster, controllers, api_client):
    custom = client.CustomObjectsApi(api_client)
    custom.create_cluster_custom_object(*CPOL, audit_policy("require-team", TEAM))
    uid = make_pod(api_client, "apps", "web")["metadata"]["uid"]
    controllers(**FAST)
    wait_for(lambda: report(cluster, uid, "apps"), what="the Pod's report")
    policy = custom.get_cluster_custom_object(*CPOL, "require-team")
    policy["spec"]["validationFailureAction"] = "Enforce"
    flipped = custom.replace_cluster_custom_object(*CPOL, "require-team", policy)
    mark = fingerprint(flipped)[:20]
    later = wait_for(lambda: (r := report(cluster, uid, "apps"))
                     and r["metadata"]["labels"].get("cpol.kyverno.io/require-team") == mark and r,
                     what="the report rescanned under the Enforce policy")
    assert results_of(later) == [("require-team", "require-team", "fail")]
    assert later["summary"]["fail"] == 1


def test_openreports_flag_writes_report_kinds(cluster, controllers, api_client):
    custom = client.CustomObjectsApi(api_client)
    custom.create_cluster_custom_object(*CPOL, audit_policy("require-team", TEAM))
    uid = make_pod(api_client, "apps", "web")["metadata"]["uid"]
    controllers(openreports=True, **FAST)
    rep = wait_for(lambda: report(cluster, uid, "apps", "Report", "openreports.io/v1alpha1"),
                   what="the openreports Report")
    assert rep["apiVersion"] == "openreports.io/v1alpha1" and rep["kind"] == "Report"
    assert rep["source"] == "kyverno"
    assert results_of(rep) == [("require-team", "require-team", "fail")]
    assert rep["results"][0]["source"] == "kyverno"
    assert report(cluster, uid, "apps") is None
    assert report_writes(cluster) == []


def test_cluster_scoped_resource_gets_a_cluster_policy_report(cluster, controllers, api_client, kubectl):
    custom = client.CustomObjectsApi(api_client)
    custom.create_cluster_custom_object(*CPOL, audit_policy("require-owner", NS_OWNER))
    core = client.CoreV1Api(api_client)
    ns = api_client.sanitize_for_serialization(core.create_namespace({"metadata": {"name": "team-a"}}))
    uid = ns["metadata"]["uid"]
    controllers(**FAST)
    cpolr = wait_for(lambda: report(cluster, uid, kind="ClusterPolicyReport"), what="the Namespace's report")
    assert "namespace" not in cpolr["metadata"]
    assert cpolr["scope"] == {"apiVersion": "v1", "kind": "Namespace", "name": "team-a", "uid": uid}
    assert results_of(cpolr) == [("require-owner", "require-owner", "fail")]
    rows = {r["NAME2"]: r for r in _columns(kubectl("get", "clusterpolicyreport").stdout)}
    assert (rows["team-a"]["KIND1"], rows["team-a"]["FAIL4"]) == ("Namespace", "1")


def test_a_resource_admitted_while_running_is_reported_with_a_namespaced_policys_results(cluster, controllers,
                                                                                         api_client):
    """The webhook's Audit results reach the report through the admitted resource's watch event."""
    custom = client.CustomObjectsApi(api_client)
    make_pod(api_client, "apps", "first", labels={"team": "a"})
    policy = {**audit_policy("ns-team", TEAM), "kind": "Policy"}
    custom.create_namespaced_custom_object("kyverno.io", "v1", "apps", "policies", policy)
    running = controllers(**FAST)
    wait_for(lambda: running.controller.scanner and running.controller.scanner.synced.is_set(), what="scanning")
    uid = make_pod(api_client, "apps", "later")["metadata"]["uid"]
    polr = wait_for(lambda: report(cluster, uid, "apps"), what="the admitted Pod's report")
    assert results_of(polr) == [("apps/ns-team", "require-team", "fail")]
    assert set(polr["metadata"]["labels"]) == {"app.kubernetes.io/managed-by", "audit.kyverno.io/resource.hash",
                                               "pol.kyverno.io/ns-team"}
    # a Pod elsewhere is not the namespaced Policy's
    other = make_pod(api_client, "elsewhere", "web")["metadata"]["uid"]
    wait_for(lambda: running.controller.scan_counters.scans.value("skipped") >= 1, what="the other Pod looked at")
    assert report(cluster, other, "elsewhere") is None


VPOLS = ("policies.kyverno.io", "v1", "validatingpolicies")


def validating_policy(name: str, expression: str, message: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "policies.kyverno.io/v1", "kind": "ValidatingPolicy", "metadata": {"name": name},
            "spec": {"validationActions": ["Audit"],
                     "matchConstraints": {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"],
                                                             "operations": ["CREATE", "UPDATE"],
                                                             "resources": ["pods"]}]},
                     "validations": [{"expression": expression, "message": message}], **spec}}


def test_a_validating_policy_is_reported_with_its_autogen_and_exceptions(cluster, controllers, api_client):
    """ValidatingPolicies are scanned like ClusterPolicies: the Pod's report holds the CEL verdict (source
    KyvernoValidatingPolicy, label vpol.kyverno.io/<name>), a Deployment is scanned through autogen, a
    policies.kyverno.io PolicyException makes a skip, and a fixed Pod passes."""
    custom = client.CustomObjectsApi(api_client)
    custom.create_cluster_custom_object(*VPOLS, validating_policy(
        "require-team", "has(object.metadata.labels) && 'team' in object.metadata.labels", "label team is required"))
    pod = make_pod(api_client, "apps", "web")
    exempt = make_pod(api_client, "apps", "legacy")
    custom.create_namespaced_custom_object("policies.kyverno.io", "v1", "apps", "policyexceptions", {
        "apiVersion": "policies.kyverno.io/v1", "kind": "PolicyException", "metadata": {"name": "legacy"},
        "spec": {"policyRefs": [{"name": "require-team", "kind": "ValidatingPolicy"}],
                 "matchConditions": [{"name": "legacy", "expression": "object.metadata.name == 'legacy'"}]}})
    apps = client.AppsV1Api(api_client)
    deploy = api_client.sanitize_for_serialization(apps.create_namespaced_deployment("apps", {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "api"},
        "spec": {"selector": {"matchLabels": {"app": "api"}},
                 "template": {"metadata": {"labels": {"app": "api", "team": "core"}},
                              "spec": {"containers": [{"name": "c", "image": "nginx:1.25"}]}}}}))
    controllers(**FAST)

    uid = pod["metadata"]["uid"]
    polr = wait_for(lambda: report(cluster, uid, "apps"), what="the Pod's report")
    [result] = polr["results"]
    assert (result["policy"], result["result"], result["message"]) == ("require-team", "fail",
                                                                      "label team is required")
    assert result["source"] == "KyvernoValidatingPolicy"
    assert result["properties"]["process"] == "background scan"
    assert "vpol.kyverno.io/require-team" in polr["metadata"]["labels"]
    skipped = wait_for(lambda: report(cluster, exempt["metadata"]["uid"], "apps"), what="the exempt Pod's report")
    assert [r["result"] for r in skipped["results"]] == ["skip"]
    autogen = wait_for(lambda: report(cluster, deploy["metadata"]["uid"], "apps"), what="the Deployment's report")
    assert [(r["policy"], r["result"]) for r in autogen["results"]] == [("require-team", "pass")]

    client.CoreV1Api(api_client).patch_namespaced_pod("web", "apps", {"metadata": {"labels": {"team": "a"}}})
    wait_for(lambda: [(r["policy"], r["result"]) for r in report(cluster, uid, "apps")["results"]]
             == [("require-team", "pass")], what="the fixed Pod passes")
    assert report(cluster, uid, "apps")["summary"] == {"pass": 1, "fail": 0, "warn": 0, "error": 0, "skip": 0}
    custom.delete_namespaced_custom_object("policies.kyverno.io", "v1", "apps", "policyexceptions", "legacy")
    wait_for(lambda: [r["result"] for r in report(cluster, exempt["metadata"]["uid"], "apps")["results"]]
             == ["fail"], what="the exception gone: the legacy Pod fails")


def test_a_validating_policy_without_background_is_not_scanned(cluster, controllers, api_client):
    custom = client.CustomObjectsApi(api_client)
    custom.create_cluster_custom_object(*VPOLS, validating_policy(
        "admission-only", "false", "never", evaluation={"background": {"enabled": False}}))
    custom.create_cluster_custom_object(*CPOL, audit_policy("require-team", TEAM))
    pod = make_pod(api_client, "apps", "web")
    controllers(**FAST)
    polr = wait_for(lambda: report(cluster, pod["metadata"]["uid"], "apps"), what="the Pod's report")
    assert [r["policy"] for r in polr["results"]] == ["require-team"]


def test_a_policy_exception_makes_a_skip_and_its_deletion_a_fail(cluster, controllers, api_client):
    custom = client.CustomObjectsApi(api_client)
    custom.create_cluster_custom_object(*CPOL, audit_policy("require-team", TEAM))
    pod = make_pod(api_client, "apps", "legacy")
    exception = {"apiVersion": "kyverno.io/v2", "kind": "PolicyException", "metadata": {"name": "legacy"},
                 "spec": {"exceptions": [{"policyName": "require-team", "ruleNames": ["require-team"]}],
                          "match": {"any": [{"resources": {"kinds": ["Pod"], "names": ["legacy"]}}]}}}
    custom.create_namespaced_custom_object("kyverno.io", "v2", "apps", "policyexceptions", exception)
    controllers(**FAST)
    uid = pod["metadata"]["uid"]
    polr = wait_for(lambda: report(cluster, uid, "apps"), what="the Pod's report")
    assert results_of(polr) == [("require-team", "require-team", "skip")]
    custom.delete_namespaced_custom_object("kyverno.io", "v2", "apps", "policyexceptions", "legacy")
    wait_for(lambda: results_of(report(cluster, uid, "apps")) == [("require-team", "require-team", "fail")],
             what="the exception gone: the Pod fails again")
