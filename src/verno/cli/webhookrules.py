"""Admission webhook rules for a policy set (K: pkg/controllers/webhook, ``buildRulesWithOperations``).

Each prepared rule (autogen controller rules included) contributes ``(group, version, resource,
subresource, scope, operation)`` entries. Entries already covered by a wildcard entry are dropped; the
rest are grouped by (group, version, scope), then by identical operations, as Kyverno does. Kinds are
mapped to resources with a table of built-in kinds; kinds the table does not know become a guessed
plural in any group (``*``) unless the selector names the group.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from verno.core import wildcard
from verno.core.kinds import BUILTIN_KINDS, KindInfo, kind_entries, parse_kind_selector, plural  # noqa: F401
from verno.core.models.match import MatchResources, ResourceFilter
from verno.core.prepare import PreparedRule

OPERATIONS = ("CREATE", "UPDATE", "DELETE", "CONNECT")
#: Kyverno's defaults when a rule names no operation
VALIDATE_DEFAULT_OPS = frozenset(OPERATIONS)
MUTATE_DEFAULT_OPS = frozenset({"CREATE", "UPDATE"})


class Entry(NamedTuple):
    group: str
    version: str
    resource: str
    subresource: str
    scope: str
    operation: str


def _filters(block: MatchResources) -> list[ResourceFilter]:
    return [block, *block.any, *block.all]


def _only_operations(f: ResourceFilter) -> bool:
    d = f.resources
    return bool(d.operations) and not (
        d.kinds or d.name or d.names or d.namespaces or d.annotations or d.selector is not None
        or d.namespace_selector is not None or f.roles or f.cluster_roles or f.subjects)


def rule_operations(rule: PreparedRule, default: frozenset[str]) -> frozenset[str]:
    """Operations a rule needs the API server to send: its match operations (else ``default``), less
    the operations excluded unconditionally (by an exclude filter that names operations and nothing else:
    one of ``exclude.any``, the direct form, or the only filter of ``exclude.all``)."""
    named = {op for f in _filters(rule.rule.match) for op in f.resources.operations}
    ops = named or set(default)
    exclude = rule.rule.exclude
    if exclude is not None:
        unconditional = [*exclude.any, exclude]
        if len(exclude.all) == 1:
            unconditional.append(exclude.all[0])
        for f in unconditional:
            if _only_operations(f):
                ops -= set(f.resources.operations)
    return frozenset(ops)


def rule_kinds(rule: PreparedRule) -> list[str]:
    """Every kind selector named in a rule's match block."""
    block = rule.rule.match
    kinds: list[str] = list(block.resources.kinds)
    for f in list(block.any) + list(block.all):
        kinds.extend(f.resources.kinds)
    return kinds


def rule_entries(rule: PreparedRule, default_ops: frozenset[str], scope: str) -> set[Entry]:
    ops = rule_operations(rule, default_ops)
    out: set[Entry] = set()
    for selector in rule_kinds(rule):
        group, version, resource, sub = kind_entries(selector)
        for op in ops:
            out.add(Entry(group, version, resource, sub, scope, op))
    return out


def _covering(e: Entry) -> Iterable[Entry]:
    """Entries other than ``e`` that would make ``e`` redundant."""
    scopes = [e.scope] if e.scope == "*" else [e.scope, "*"]
    groups = [e.group] if e.group == "*" else [e.group, "*"]
    versions = [e.version] if e.version == "*" else [e.version, "*"]
    if e.subresource == "":
        resources = [("*", ""), ("*", "*")] if e.resource == "*" else [(e.resource, ""), ("*", ""), ("*", "*")]
    elif e.subresource == "*":
        resources = [("*", "*")] if e.resource == "*" else [(e.resource, "*"), ("*", "*")]
    elif e.resource == "*":
        resources = [("*", e.subresource), ("*", "*")]
    else:
        resources = [(e.resource, e.subresource), (e.resource, "*"), ("*", e.subresource), ("*", "*")]
    for s in scopes:
        for g in groups:
            for v in versions:
                for r, sub in resources:
                    candidate = Entry(g, v, r, sub, s, e.operation)
                    if candidate != e:
                        yield candidate


@dataclass(frozen=True)
class WebhookRule:
    api_groups: tuple[str, ...]
    api_versions: tuple[str, ...]
    resources: tuple[str, ...]
    operations: tuple[str, ...]
    scope: str

    def to_dict(self) -> dict[str, object]:
        return {"apiGroups": list(self.api_groups), "apiVersions": list(self.api_versions),
                "operations": list(self.operations), "resources": list(self.resources), "scope": self.scope}


def build_rules(entries: set[Entry]) -> list[WebhookRule]:
    """Kubernetes ``RuleWithOperations`` for a set of entries, redundant ones dropped, sorted."""
    by_gvs: dict[tuple[str, str, str], dict[str, set[str]]] = {}
    for e in entries:
        if any(c in entries for c in _covering(e)):
            continue
        resource = f"{e.resource}/{e.subresource}" if e.subresource else e.resource
        by_gvs.setdefault((e.group, e.version, e.scope), {}).setdefault(resource, set()).add(e.operation)
    out: list[WebhookRule] = []
    for (group, version, scope), resources in by_gvs.items():
        by_ops: dict[tuple[str, ...], set[str]] = {}
        for resource, ops in resources.items():
            key = tuple(o for o in OPERATIONS if o in ops)
            by_ops.setdefault(key, set()).add(resource)
        for ops, names in by_ops.items():
            if group in ("", "*") and version in ("v1", "*") and ("pods" in names or "*" in names):
                names.add("pods/ephemeralcontainers")
            out.append(WebhookRule((group,), (version,), tuple(sorted(names)), ops, scope))
    out.sort(key=lambda r: (r.api_groups, r.api_versions, r.resources, r.operations, r.scope))
    return out
