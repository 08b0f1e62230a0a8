"""``verno test --coverage``: which rules the Test results exercise, which never, and which can never match.

* A rule is *exercised* by a Test result row when the rule ran on the row's resource (the row's actual
  result is a rule result: pass, fail, warn, error or skip). Rows are counted per policy and rule, by the
  actual result (``pass``/``fail``; warn, error and skip are counted too).
* A rule *can never match* when its match block cannot select anything: a kind no known API group serves
  (the built-in kinds, and the kinds of the suite's own resources: a custom resource is known once a
  resource of its kind is), a label selector that contradicts itself (``matchLabels`` k=v with
  ``matchExpressions`` k ``NotIn [v]``, ``In []``, ``In`` without v, ``DoesNotExist``; ``Exists`` and
  ``DoesNotExist`` together), or namespaces that the rule's own exclude removes.
* An expectation is *vacuous* when it names no existing policy, rule or resource (verno's rows already
  fail with ``Not found``/``Rule not found``) or when the rule never applied to the resource it names
  (an ``Excluded`` row expecting pass or fail, which passes as Kyverno's CLI counts it). Under ``--coverage`` a vacuous
  expectation is an error.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, Iterable

from verno.cli.table import render
from verno.core import wildcard
from verno.core.kinds import parse_kind_selector

#: actual results that mean the rule ran on the resource
RAN = ("pass", "fail", "warn", "error", "skip")


@dataclass
class RuleCoverage:
    policy: str
    rule: str
    source: str
    counts: dict[str, int] = field(default_factory=dict)
    never_matches: list[str] = field(default_factory=list)

    @property
    def exercised(self) -> bool:
        return bool(self.counts)


@dataclass
class Coverage:
    rules: dict[tuple[str, str, str], RuleCoverage] = field(default_factory=dict)
    vacuous: list[dict[str, str]] = field(default_factory=list)

    def add_suite(self, policy_set: Any, rows: Iterable[Any], known_kinds: set[str]) -> None:
        """Rules of a suite's policies, and the rows of its results."""
        by_name: dict[str, list[RuleCoverage]] = {}
        for prepared in policy_set.policies:
            source = os.path.normpath(prepared.source) if prepared.source else ""
            for rule in prepared.policy.spec.rules:
                key = (source, prepared.policy.key, rule.name)
                entry = self.rules.get(key)
                if entry is None:
                    entry = self.rules[key] = RuleCoverage(prepared.policy.key, rule.name, source,
                                                           never_matches=never_matches(rule, known_kinds))
                by_name.setdefault(prepared.policy.key, []).append(entry)
                if prepared.name != prepared.policy.key:
                    by_name.setdefault(prepared.name, []).append(entry)
        for kind_policy in policy_set.kind_policies:
            key = (os.path.normpath(getattr(kind_policy, "source", "") or ""), kind_policy.key, "")
            entry = self.rules.setdefault(key, RuleCoverage(kind_policy.key, "", key[0]))
            by_name.setdefault(kind_policy.key, []).append(entry)
            by_name.setdefault(kind_policy.name, []).append(entry)
        for row in rows:
            # an Excluded row expecting skip asserts that the rule does not apply: it is not vacuous
            if row.reason in ("Not found", "Rule not found") or (row.actual == "excluded" and row.expected != "skip"):
                what = {"Not found": "names no policy or resource the Test loads",
                        "Rule not found": "names no rule of the policy"}.get(row.reason,
                                                                             "the rule never applied to the resource")
                self.vacuous.append({"test": row.test, "policy": row.policy, "rule": row.rule,
                                     "resource": row.resource, "expected": row.expected, "problem": what})
                continue
            if row.actual not in RAN:
                continue
            name = row.rule  # a result without a rule is about every rule of the policy
            for entry in by_name.get(row.policy, []) or by_name.get(row.policy.rsplit("/", 1)[-1], []):
                if not name or entry.rule in ("", name) or name in (f"autogen-{entry.rule}", f"autogen-cronjob-{entry.rule}"):
                    entry.counts[row.actual] = entry.counts.get(row.actual, 0) + 1

    # -- figures ---------------------------------------------------------------------------------------
    @property
    def percent(self) -> float:
        total = len(self.rules)
        return 100.0 * sum(1 for r in self.rules.values() if r.exercised) / total if total else 100.0

    def as_dict(self) -> dict[str, Any]:
        rules = [{"policy": r.policy, "rule": r.rule, "source": r.source, "exercised": r.exercised,
                  "results": dict(sorted(r.counts.items())), "neverMatches": r.never_matches}
                 for r in self.rules.values()]
        return {
            "summary": {"rules": len(rules), "exercised": sum(1 for r in rules if r["exercised"]),
                        "neverExercised": sum(1 for r in rules if not r["exercised"]),
                        "neverMatching": sum(1 for r in rules if r["neverMatches"]),
                        "vacuousExpectations": len(self.vacuous), "percent": round(self.percent, 1)},
            "rules": rules,
            "vacuousExpectations": self.vacuous,
        }

    def table(self) -> str:
        rows = []
        for i, r in enumerate(self.rules.values(), 1):
            rows.append([i, r.policy, r.rule or "-", r.counts.get("pass", 0), r.counts.get("fail", 0),
                         sum(v for k, v in r.counts.items() if k not in ("pass", "fail")),
                         "; ".join(r.never_matches) or ("" if r.exercised else "never exercised")])
        out = ["", "Coverage:", render(["ID", "POLICY", "RULE", "PASS", "FAIL", "OTHER", "NOTE"], rows)]
        if self.vacuous:
            out += ["", "Vacuous expectations:",
                    render(["ID", "TEST", "POLICY", "RULE", "RESOURCE", "PROBLEM"],
                           [[i, v["test"], v["policy"], v["rule"], v["resource"], v["problem"]]
                            for i, v in enumerate(self.vacuous, 1)])]
        s = self.as_dict()["summary"]
        out.append(f"\nCoverage: {s['exercised']} of {s['rules']} rules exercised ({s['percent']}%), "
                   f"{s['neverExercised']} never exercised, {s['neverMatching']} can never match, "
                   f"{s['vacuousExpectations']} vacuous expectations")
        return "\n".join(out)

    def json(self) -> str:
        return json.dumps(self.as_dict(), indent=2)


# -- rules that can never match ------------------------------------------------------------------------

def known_kinds() -> set[str]:
    from verno.core.kinds import BUILTIN_KINDS

    return set(BUILTIN_KINDS)


def never_matches(rule: Any, known: set[str]) -> list[str]:
    """Why a rule's match block can select nothing (empty: it can match)."""
    match = rule.match
    if match is None:
        return []
    problems: list[str] = []
    filters = list(match.any) or list(match.all) or [match]
    excluded = _excluded_namespaces(rule.exclude)
    dead = [_dead_filter(f.resources, known, excluded) for f in filters]
    if match.any or not match.all:  # any (or a lone resources block): every filter must be dead
        if dead and all(dead):
            problems.extend(p for d in dead for p in d)
    else:  # all: one dead filter is enough
        problems.extend(p for d in dead for p in d)
    return list(dict.fromkeys(problems))


def _dead_filter(res: Any, known: set[str], excluded: list[str]) -> list[str]:
    problems = []
    for selector in res.kinds:
        group, _, kind, _ = parse_kind_selector(selector)
        if "*" in kind or "?" in kind or group != "*":  # a group named: a custom resource verno cannot know
            continue
        if kind not in known:
            problems.append(f"kind {selector} is served by no known API group")
    if res.kinds and len(problems) < len(res.kinds):
        problems = []  # another kind of the filter can match
    for what, selector in (("selector", res.selector), ("namespaceSelector", res.namespace_selector)):
        reason = selector_contradiction(selector)
        if reason:
            problems.append(f"{what} {reason}")
    if res.namespaces and excluded and all(
            any(wildcard.match(pattern, ns) for pattern in excluded) for ns in res.namespaces
            if "*" not in ns and "?" not in ns) and not any("*" in ns or "?" in ns for ns in res.namespaces):
        problems.append(f"namespaces {', '.join(res.namespaces)} are all removed by the rule's exclude")
    return problems


def _excluded_namespaces(exclude: Any) -> list[str]:
    """Namespace patterns an exclude block removes whatever else the resource is (filters with namespaces only)."""
    if exclude is None:
        return []
    out: list[str] = []
    filters = list(exclude.any) + ([exclude] if not exclude.any and not exclude.all else [])
    if len(exclude.all) == 1:
        filters.append(exclude.all[0])
    for f in filters:
        if f.roles or f.cluster_roles or f.subjects:
            continue
        res = f.resources
        if res.namespaces and not (res.kinds or res.name or res.names or res.annotations or res.selector
                                   or res.namespace_selector or res.operations):
            out.extend(res.namespaces)
    return out


def selector_contradiction(selector: Any) -> str:
    """Why a label selector can select no object ("" when it can)."""
    if selector is None:
        return ""
    labels = dict(selector.match_labels or {})
    exists: set[str] = set(labels)
    absent: set[str] = set()
    for req in selector.match_expressions or []:
        values = list(req.values or [])
        if req.operator == "In":
            if not values:
                return f"has {req.key} In [] (no value can match)"
            if req.key in labels and labels[req.key] not in values:
                return f"has matchLabels {req.key}={labels[req.key]} and {req.key} In {values}"
            exists.add(req.key)
        elif req.operator == "NotIn":
            if req.key in labels and labels[req.key] in values:
                return f"has matchLabels {req.key}={labels[req.key]} and {req.key} NotIn {values}"
        elif req.operator == "Exists":
            exists.add(req.key)
        elif req.operator == "DoesNotExist":
            absent.add(req.key)
    both = sorted(exists & absent)
    if both:
        return f"requires label {both[0]} and DoesNotExist {both[0]}"
    return ""


def finish(coverage: Coverage, fmt: str, min_coverage: float | None, echo: Any, machine_output: bool) -> bool:
    """Print the coverage (``fmt``: table or json) and say whether it fails the run: a vacuous expectation,
    or a coverage below ``min_coverage`` percent. JSON goes to stdout unless stdout holds ``-o`` output."""
    import click

    if fmt == "json":
        click.echo(coverage.json(), err=machine_output)
    else:
        echo(coverage.table())
    failed = False
    if coverage.vacuous:
        click.echo(f"Error: {len(coverage.vacuous)} vacuous expectation(s): they name no existing policy, rule "
                   "or resource, or a rule that never applies to their resource; fix their names or remove them",
                   err=True)
        failed = True
    if min_coverage is not None and coverage.percent < min_coverage:
        click.echo(f"Error: rule coverage {coverage.percent:.1f}% is below --min-coverage {min_coverage:g}%: "
                   "add Test results for the rules never exercised", err=True)
        failed = True
    return failed
