"""Report results as Kyverno computes them, counts, and PolicyReport (wgpolicyk8s.io/v1alpha2)."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from verno.core.failure_action import effective_action
from verno.core.results import PolicyResponse, RuleResponse, Status

ANNOTATION_SCORED = "policies.kyverno.io/scored"
ANNOTATION_CATEGORY = "policies.kyverno.io/category"
ANNOTATION_SEVERITY = "policies.kyverno.io/severity"
SEVERITIES = {"critical", "high", "medium", "low", "info"}


def scored(policy: Any) -> bool:
    return policy.annotations.get(ANNOTATION_SCORED, "true") != "false"


def is_audit(policy: Any, rule_name: str, resource: dict, namespace_labels: dict[str, str]) -> bool:
    for rule in policy.spec.rules:
        if rule.name == rule_name or rule_name.endswith("-" + rule.name):
            if rule.validate_ is None:
                break
            ns = (resource.get("metadata") or {}).get("namespace") or ""
            return effective_action(policy, rule, ns, namespace_labels) == "Audit"
    return str(policy.spec.validation_failure_action).lower() != "enforce"


def _is_kind_policy(policy: Any) -> bool:
    """A policy of a plugin-registered kind (a KindPolicy), not a ClusterPolicy/Policy."""
    return getattr(policy, "report_source", None) is not None


def report_result(response: PolicyResponse, rule: RuleResponse, audit_warn: bool = False) -> str:
    """Kyverno's ComputePolicyReportResult: a rule status as the report result."""
    if rule.status != Status.FAIL:
        return rule.status.value
    if not scored(response.policy):
        return "warn"
    if _is_kind_policy(response.policy):  # validationActions do not change a CEL kind's result
        return "fail"
    if audit_warn and is_audit(response.policy, rule.name, response.resource, response.namespace_labels):
        return "warn"
    return "fail"


@dataclass
class Counts:
    pass_: int = 0
    fail: int = 0
    warn: int = 0
    error: int = 0
    skip: int = 0

    def add(self, result: str) -> None:
        if result == "pass":
            self.pass_ += 1
        else:
            setattr(self, result, getattr(self, result) + 1)

    def as_dict(self) -> dict[str, int]:
        return {"pass": self.pass_, "fail": self.fail, "warn": self.warn, "error": self.error, "skip": self.skip}

    def line(self) -> str:
        return f"pass: {self.pass_}, fail: {self.fail}, warn: {self.warn}, error: {self.error}, skip: {self.skip} "


def report_entry(response: PolicyResponse, rule: RuleResponse, result: str, now: int) -> dict[str, Any]:
    policy = response.policy
    resource = response.resource
    meta = resource.get("metadata") or {}
    ref = {"apiVersion": resource.get("apiVersion", ""), "kind": resource.get("kind", ""),
           "name": meta.get("name", "")}
    if meta.get("namespace"):
        ref["namespace"] = meta["namespace"]
    if meta.get("uid"):
        ref["uid"] = meta["uid"]
    entry: dict[str, Any] = {
        "message": _message(rule, result),
        "policy": policy.key,
        "resources": [ref],
        "result": result,
        "rule": rule.name,
        "scored": scored(policy),
        "source": policy.report_source if _is_kind_policy(policy) else "kyverno",
        "timestamp": {"nanos": 0, "seconds": now},
    }
    category = policy.annotations.get(ANNOTATION_CATEGORY)
    severity = policy.annotations.get(ANNOTATION_SEVERITY)
    if category:
        entry["category"] = category
    if severity in SEVERITIES:
        entry["severity"] = severity
    if rule.properties:
        entry["properties"] = dict(rule.properties)
    if rule.trace is not None:  # verno apply -p --explain
        from verno.cli.explain_output import REPORT_PROPERTY, report_property

        explained = report_property(rule)
        if explained:
            entry.setdefault("properties", {})[REPORT_PROPERTY] = explained
    return entry


def _message(rule: RuleResponse, result: str) -> str:
    props = rule.properties or {}
    return props.get(f"{result}Message") or props.get("message") or rule.message


def policy_reports(responses: list[PolicyResponse], audit_warn: bool = False) -> list[dict[str, Any]]:
    """A ClusterPolicyReport for cluster-scoped resources and one PolicyReport per namespace."""
    now = int(time.time())
    groups: dict[str, list[dict[str, Any]]] = {}
    for response in responses:
        ns = (response.resource.get("metadata") or {}).get("namespace") or ""
        for rule in response.rules:
            result = report_result(response, rule, audit_warn)
            groups.setdefault(ns, []).append(report_entry(response, rule, result, now))
    reports = []
    for ns in sorted(groups):
        results = groups[ns]
        summary = {k: sum(1 for r in results if r["result"] == k) for k in ("pass", "fail", "warn", "error", "skip")}
        meta: dict[str, Any] = {"name": "merged" if not ns else f"merged-{ns}"}
        if ns:
            meta["namespace"] = ns
        reports.append({
            "apiVersion": "wgpolicyk8s.io/v1alpha2",
            "kind": "PolicyReport" if ns else "ClusterPolicyReport",
            "metadata": meta,
            "results": results,
            "summary": summary,
        })
    if not reports:
        reports.append({"apiVersion": "wgpolicyk8s.io/v1alpha2", "kind": "ClusterPolicyReport",
                        "metadata": {"name": "merged"}, "results": [],
                        "summary": {"pass": 0, "fail": 0, "warn": 0, "error": 0, "skip": 0}})
    return reports
