"""The Helm chart's side of background scans: the report CRDs with Kyverno's printer columns, the controller's
permission to write reports and to list and watch what policies match (the aggregated ``:background`` role),
and ``--openreports`` from ``controller.openreports``."""
from __future__ import annotations

import pytest

pytest.importorskip("helm_python", reason="Helm's engine (helm-python-sdk) has no wheel here")

from tests.deploy.test_chart import one
from tests.deploy.test_chart_controller import can, only_container, permissions
from tests.deploy.test_dockerfile import _split

REPORT_KINDS = {("wgpolicyk8s.io", "PolicyReport"): ("Namespaced", "polr", "v1alpha2"),
                ("wgpolicyk8s.io", "ClusterPolicyReport"): ("Cluster", "cpolr", "v1alpha2"),
                ("openreports.io", "Report"): ("Namespaced", "reps", "v1alpha1"),
                ("openreports.io", "ClusterReport"): ("Cluster", "creps", "v1alpha1")}


def _report_crds(docs):
    return {(d["spec"]["group"], d["spec"]["names"]["kind"]): d for d in docs
            if d["kind"] == "CustomResourceDefinition" and d["spec"]["group"] in ("wgpolicyk8s.io", "openreports.io")}


def test_report_crds_with_kyvernos_printer_columns(render, validate):
    crds = _report_crds(render())
    assert set(crds) == set(REPORT_KINDS)
    validate(list(crds.values()))
    for (group, kind), (scope, short, version) in REPORT_KINDS.items():
        spec = crds[(group, kind)]["spec"]
        assert spec["scope"] == scope and spec["names"]["shortNames"] == [short]
        (served,) = spec["versions"]
        assert served["name"] == version and served["served"] and served["storage"]
        columns = [(c["name"], c["jsonPath"], c.get("priority", 0)) for c in served["additionalPrinterColumns"]]
        wide = 1 if group == "openreports.io" else 0  # Kyverno's wgpolicy CRDs show Kind and Name by default
        assert columns == [("Kind", ".scope.kind", wide), ("Name", ".scope.name", wide),
                           ("Pass", ".summary.pass", 0), ("Fail", ".summary.fail", 0), ("Warn", ".summary.warn", 0),
                           ("Error", ".summary.error", 0), ("Skip", ".summary.skip", 0),
                           ("Age", ".metadata.creationTimestamp", 0)]
        props = served["schema"]["openAPIV3Schema"]["properties"]
        assert {"scope", "summary", "results"} <= set(props)
        assert ("source" in props) == (group == "openreports.io")
        result = props["results"]["items"]["properties"]
        assert result["result"]["enum"] == ["pass", "fail", "warn", "error", "skip"]
        assert set(result["timestamp"]["properties"]) == {"seconds", "nanos"}


def test_controller_writes_reports_and_lists_what_policies_match(render, validate):
    docs = render(release="policy", namespace="security")
    validate(docs)
    held = permissions(docs, "policy-verno-controller", "security")
    for group, plural in (("wgpolicyk8s.io", "policyreports"), ("wgpolicyk8s.io", "clusterpolicyreports"),
                          ("openreports.io", "reports"), ("openreports.io", "clusterreports")):
        assert can(held, "*", group, plural, "get", "list", "create", "update", "delete"), plural
    # background scans list and watch every kind a policy matches: the aggregated role's defaults
    for group, plural in (("", "pods"), ("", "namespaces"), ("apps", "deployments"), ("batch", "cronjobs")):
        assert can(held, "*", group, plural, "list", "watch"), plural
    aggregated = one(docs, "ClusterRole", "policy-verno:background")
    assert aggregated["aggregationRule"]["clusterRoleSelectors"] == [
        {"matchLabels": {"rbac.verno.io/aggregate-to-background": "true"}}]


def test_a_labelled_cluster_role_adds_kinds_to_background_scans(render):
    extra = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
             "metadata": {"name": "scan-pdbs", "labels": {"rbac.verno.io/aggregate-to-background": "true"}},
             "rules": [{"apiGroups": ["policy"], "resources": ["poddisruptionbudgets"], "verbs": ["list", "watch"]}]}
    docs = render()
    assert not can(permissions(docs, "verno-controller", "verno-system"), "*", "policy", "poddisruptionbudgets",
                   "list")
    held = permissions([*docs, extra], "verno-controller", "verno-system")
    assert can(held, "*", "policy", "poddisruptionbudgets", "list", "watch")


def test_openreports_value_passes_the_flag(render):
    from verno.cli.controller import controller_command

    plain = only_container(render(), "verno-controller")["args"]
    assert "--openreports" not in plain
    args = only_container(render({"controller": {"openreports": True}}), "verno-controller")["args"]
    assert dict(_split(args[1:], "controller"))["--openreports"] is None
    ctx = controller_command.make_context("controller", list(args[1:]))
    assert ctx.params["openreports"] is True
