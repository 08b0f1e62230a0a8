"""Counts of report results and ``verno apply -p``'s PolicyReports (wgpolicyk8s.io/v1alpha2), one per namespace;
the results themselves are the core's (``verno.core.policyreport``)."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from verno.core.policyreport import report_entry as core_report_entry
from verno.core.policyreport import report_result, summary
from verno.core.results import PolicyResponse, RuleResponse

__all__ = ["Counts", "policy_reports", "report_result"]


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
    """The core's report result, with the rule's decision trace as a property under ``-p --explain``."""
    entry = core_report_entry(response, rule, result, now)
    if rule.trace is not None:
        from verno.cli.explain_output import REPORT_PROPERTY, report_property

        explained = report_property(rule)
        if explained:
            entry.setdefault("properties", {})[REPORT_PROPERTY] = explained
    return entry


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
        meta: dict[str, Any] = {"name": "merged" if not ns else f"merged-{ns}"}
        if ns:
            meta["namespace"] = ns
        reports.append({
            "apiVersion": "wgpolicyk8s.io/v1alpha2",
            "kind": "PolicyReport" if ns else "ClusterPolicyReport",
            "metadata": meta,
            "results": results,
            "summary": summary(results),
        })
    if not reports:
        reports.append({"apiVersion": "wgpolicyk8s.io/v1alpha2", "kind": "ClusterPolicyReport",
                        "metadata": {"name": "merged"}, "results": [],
                        "summary": {"pass": 0, "fail": 0, "warn": 0, "error": 0, "skip": 0}})
    return reports
