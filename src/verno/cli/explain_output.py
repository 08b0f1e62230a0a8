"""``verno apply --explain``: each rule's decision trace as text, as JSON records, or as a PolicyReport
result property."""
from __future__ import annotations

from typing import Any

from verno.core.results import PolicyResponse, RuleResponse
from verno.core.trace import Trace, compact, trace_lines

#: the PolicyReport result property holding a rule's trace (``-p --explain``)
REPORT_PROPERTY = "verno.io/explain"
#: characters of a trace kept in a report property
REPORT_LIMIT = 2048


def trace_entries(rule: RuleResponse) -> list[dict[str, Any]]:
    trace = rule.trace
    return trace.as_list() if isinstance(trace, Trace) else []


def text_block(response: PolicyResponse, label: str) -> list[str]:
    """The lines explaining every rule of one policy's response for one resource."""
    lines = [f"\npolicy {response.policy.key} -> resource {label} explained:"]
    for rule in response.rules:
        lines.append(f"  rule {rule.name or '(policy)'}: {rule.status.value}")
        lines.extend(f"    {line}" for line in trace_lines(trace_entries(rule)))
    return lines


def record(response: PolicyResponse, rule: RuleResponse, label: str, result: str) -> dict[str, Any]:
    """One rule's verdict with its trace, for ``--output-format json``."""
    return {"policy": response.policy.key, "rule": rule.name, "resource": label, "result": result,
            "status": rule.status.value, "message": rule.message, "trace": trace_entries(rule)}


def report_property(rule: RuleResponse) -> str | None:
    """The compact trace a PolicyReport result carries, or None when the rule has none."""
    entries = trace_entries(rule)
    return compact(entries, REPORT_LIMIT) if entries else None
