"""Which of a cluster's resources a set of policies selects, so that only those are listed.

A ClusterPolicy or Policy rule (autogen rules included) names kinds in ``match.resources.kinds`` and in the
``resources.kinds`` of its ``match.any`` / ``match.all`` filters, as Kyverno's CLI collects them
(``GetKindsFromRule``); every selector form Kyverno reads works (``Pod``, ``apps/v1/Deployment``, ``*``,
wildcards), and a selector naming a subresource (``Pod/status``) selects no listable objects. A policy of
a plugin-registered kind selects through ``spec.matchConstraints.resourceRules`` (``apiGroups``,
``apiVersions``, ``resources``, ``*`` everywhere), as Kubernetes admission rules do.

A kind served in several versions is listed once: in its group's preferred version when the selector
allows it, else in the first served version it allows.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from verno.core.kinds import compile_kind
from verno.core.kube.discovery import Served
from verno.core.kube.rest import Resource


def rule_kind_selectors(rules: Iterable[Any]) -> list[str]:
    """The kind selectors of rules' ``match`` blocks, in rule order, each once."""
    out: dict[str, None] = {}
    for rule in rules:
        match = rule.match
        for block in [match, *(match.any or ()), *(match.all or ())]:
            for selector in block.resources.kinds or ():
                out.setdefault(str(selector), None)
    return list(out)


def resource_rules(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """``spec.matchConstraints.resourceRules`` of a policy document (empty when it has none)."""
    spec = document.get("spec")
    constraints = spec.get("matchConstraints") if isinstance(spec, Mapping) else None
    rules = constraints.get("resourceRules") if isinstance(constraints, Mapping) else None
    return [r for r in rules or () if isinstance(r, Mapping)]


def _allows(values: Sequence[Any] | None, value: str) -> bool:
    return bool(values) and ("*" in values or value in values)


def _rule_selects(rule: Mapping[str, Any], res: Resource) -> bool:
    if not (_allows(rule.get("apiGroups"), res.group) and _allows(rule.get("apiVersions"), res.version)):
        return False
    for name in rule.get("resources") or ():
        base, _, sub = str(name).partition("/")
        if sub and sub != "*":
            continue  # a subresource: nothing to list
        if base in ("*", res.plural):
            return True
    return False


def selected_resources(served: Sequence[Served], kind_selectors: Sequence[str],
                       admission_rules: Sequence[Mapping[str, Any]]) -> list[Resource]:
    """The served resources the selectors and admission resource rules name, one version per kind, in
    discovery order. A plain kind without a group (``Event``) is the first served resource of that kind
    (the core group's before ``events.k8s.io``), as Kyverno's discovery lookup finds one."""
    ranked = sorted(served, key=lambda s: not s.preferred)  # stable: discovery order otherwise
    chosen: dict[tuple[str, str], Resource] = {}

    def take(res: Resource) -> None:
        chosen.setdefault((res.group, res.kind), res)

    for text in kind_selectors:
        selector = compile_kind(text)
        hits = [s.resource for s in ranked
                if selector.matches(s.resource.group, s.resource.version, s.resource.kind, "", allow_ephemeral=False)]
        one_kind = selector.group == "*" and not any(c in selector.kind for c in "*?")
        for res in hits[:1] if one_kind else hits:
            take(res)
    for entry in ranked:
        if any(_rule_selects(r, entry.resource) for r in admission_rules):
            take(entry.resource)
    order = {(s.resource.group, s.resource.version, s.resource.plural): i for i, s in enumerate(served)}
    return sorted(chosen.values(), key=lambda r: order[(r.group, r.version, r.plural)])
