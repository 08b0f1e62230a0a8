"""PolicyReport results as Kyverno computes them: one rule response as a ``results[]`` entry, and a summary.

Shared by ``verno apply -p`` (reports grouped per namespace, offline) and ``verno controller``'s background
scans (one report per resource). Kyverno's ``ComputePolicyReportResult`` and ``ToPolicyReportResult``
(K: pkg/utils/report/results.go): ``scored: false`` turns ``fail`` into ``warn``; severity and category come
from the policy's annotations; the message is the rule's, unless a ``<result>Message`` or ``message``
property overrides it.
"""
from __future__ import annotations

from typing import Any

from verno.core.failure_action import effective_action
from verno.core.results import PolicyResponse, RuleResponse, Status

ANNOTATION_SCORED = "policies.kyverno.io/scored"
ANNOTATION_CATEGORY = "policies.kyverno.io/category"
ANNOTATION_SEVERITY = "policies.kyverno.io/severity"
SEVERITIES = {"critical", "high", "medium", "low", "info"}
#: the report results, in the order of a summary
RESULTS = ("pass", "fail", "warn", "error", "skip")
#: ``properties.process`` of a background scan's results (Kyverno says so for background-enabled policies
#: even for results met at admission)
BACKGROUND_SCAN = "background scan"
ADMISSION_REVIEW = "admission review"


def scored(policy: Any) -> bool:
    return policy.annotations.get(ANNOTATION_SCORED, "true") != "false"


def is_kind_policy(policy: Any) -> bool:
    """A policy of a plugin-registered kind (a KindPolicy), not a ClusterPolicy/Policy."""
    return getattr(policy, "report_source", None) is not None


def is_audit(policy: Any, rule_name: str, resource: dict, namespace_labels: dict[str, str]) -> bool:
    for rule in policy.spec.rules:
        if rule.name == rule_name or rule_name.endswith("-" + rule.name):
            if rule.validate_ is None:
                break
            ns = (resource.get("metadata") or {}).get("namespace") or ""
            return effective_action(policy, rule, ns, namespace_labels) == "Audit"
    return str(policy.spec.validation_failure_action).lower() != "enforce"


def report_result(response: PolicyResponse, rule: RuleResponse, audit_warn: bool = False) -> str:
    """Kyverno's ComputePolicyReportResult: a rule status as the report result."""
    if rule.status != Status.FAIL:
        return rule.status.value
    if not scored(response.policy):
        return "warn"
    if is_kind_policy(response.policy):  # validationActions do not change a CEL kind's result
        return "fail"
    if audit_warn and is_audit(response.policy, rule.name, response.resource, response.namespace_labels):
        return "warn"
    return "fail"


def resource_reference(resource: dict[str, Any]) -> dict[str, Any]:
    """The ObjectReference of a resource as reports hold it (``apiVersion, kind, namespace, name, uid``)."""
    meta = resource.get("metadata") or {}
    ref = {"apiVersion": resource.get("apiVersion", ""), "kind": resource.get("kind", ""),
           "name": meta.get("name", "")}
    if meta.get("namespace"):
        ref["namespace"] = meta["namespace"]
    if meta.get("uid"):
        ref["uid"] = meta["uid"]
    return ref


def report_entry(response: PolicyResponse, rule: RuleResponse, result: str, now: int, *,
                 resources: bool = True, process: str = "") -> dict[str, Any]:
    """One ``results[]`` entry. ``resources``: name the resource in the entry (reports grouping several
    resources; a per-resource report names it in its ``scope`` instead). ``process``: set
    ``properties.process`` (``background scan``, ``admission review``)."""
    policy = response.policy
    entry: dict[str, Any] = {"message": _message(rule, result), "policy": policy.key}
    if resources:
        entry["resources"] = [resource_reference(response.resource)]
    entry.update({
        "result": result,
        "rule": rule.name,
        "scored": scored(policy),
        "source": policy.report_source if is_kind_policy(policy) else "kyverno",
        "timestamp": {"nanos": 0, "seconds": now},
    })
    category = policy.annotations.get(ANNOTATION_CATEGORY)
    severity = policy.annotations.get(ANNOTATION_SEVERITY)
    if category:
        entry["category"] = category
    if severity in SEVERITIES:
        entry["severity"] = severity
    properties = dict(rule.properties or {})
    if process:
        properties["process"] = process
    if properties:
        entry["properties"] = properties
    return entry


def _message(rule: RuleResponse, result: str) -> str:
    props = rule.properties or {}
    return props.get(f"{result}Message") or props.get("message") or rule.message


def summary(results: list[dict[str, Any]]) -> dict[str, int]:
    """``{pass, fail, warn, error, skip}`` counts of report results."""
    return {k: sum(1 for r in results if r.get("result") == k) for k in RESULTS}
