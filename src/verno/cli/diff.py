"""``verno diff``: what a policy edit changes. Two policy sets (files, directories or ``git:REV:PATH``) are
evaluated over the same manifests, each as ``verno apply`` evaluates it, and every rule result whose
verdict, message or mutation differs is listed: as a table, JSON, or markdown for a pull request comment.

A rule result is keyed by resource, policy and rule; a policy only one side has (added or removed) gives
results only on that side. Exit code 1 when a result is newly denied (``fail`` or ``error`` where it was
``pass``, ``skip``, ``warn`` or absent), 0 otherwise; input errors as ``verno apply`` reports them.
"""
from __future__ import annotations

import copy
import json
import sys
from dataclasses import dataclass, field
from typing import Any

import click

from verno.cli.apply_run import Evaluation
from verno.cli.mutation_effects import canonical, rule_effects
from verno.cli.policy_sources import iter_source_documents
from verno.cli.report import report_result
from verno.cli.resource_changes import short
from verno.cli.session import (
    Session,
    iter_resources,
    load_userinfo,
    load_values,
    merge_values,
    namespace_objects,
    parse_set,
    resource_label,
)
from verno.cli.table import render
from verno.core.engine import Engine
from verno.core.loading import iter_path_documents
from verno.core.policykinds import KindInputs
from verno.core.policyset import PolicySet, no_policies_error, policy_set_from_documents

DENIED = ("fail", "error")


@dataclass(frozen=True)
class Verdict:
    result: str
    message: str
    #: the rule's own mutation (edits as dicts), None for a rule that does not mutate
    mutation: list[dict[str, Any]] | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"result": self.result, "message": self.message}
        if self.mutation is not None:
            out["mutation"] = self.mutation
        return out


@dataclass
class RuleChange:
    resource: str
    where: str
    policy: str
    rule: str
    old: Verdict | None
    new: Verdict | None
    what: list[str] = field(default_factory=list)

    @property
    def regression(self) -> bool:
        return self.new is not None and self.new.result in DENIED and (
            self.old is None or self.old.result not in DENIED)

    def as_dict(self) -> dict[str, Any]:
        return {"resource": self.resource, "where": self.where, "policy": self.policy, "rule": self.rule,
                "old": self.old.as_dict() if self.old else None, "new": self.new.as_dict() if self.new else None,
                "changed": self.what, "regression": self.regression}

    def detail(self, limit: int = 120) -> str:
        """What changed besides the verdict, in one line."""
        parts = []
        if "result" in self.what and self.new and self.new.message:
            parts.append(_clip(self.new.message, limit))
        if "message" in self.what and self.old and self.new:
            parts.append(f"message {json.dumps(_clip(self.old.message, limit), ensure_ascii=False)} -> "
                         f"{json.dumps(_clip(self.new.message, limit), ensure_ascii=False)}")
        if "mutation" in self.what:
            parts.append(f"mutation {_effect(self.old)} -> {_effect(self.new)}")
        return "; ".join(parts)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _effect(verdict: Verdict | None) -> str:
    if verdict is None or not verdict.mutation:
        return "(none)"
    items = []
    for edit in verdict.mutation:
        if edit["op"] == "remove":
            items.append(f"-{edit['path']}")
        elif edit["op"] == "target":
            items.append(f"target {resource_label(edit['value'])}")
        else:
            items.append(f"{edit['path']}={short(edit.get('value'), 40)}")
    return ", ".join(items)


@dataclass
class Side:
    label: str
    policy_set: PolicySet
    evaluation: Evaluation

    @property
    def policy_keys(self) -> list[str]:
        return [p.policy.key for p in self.policy_set.policies] + [p.key for p in self.policy_set.kind_policies]

    def verdicts(self, resource: dict[str, Any], audit_warn: bool) -> dict[tuple[str, str], Verdict]:
        responses = self.evaluation(copy.deepcopy(resource)).responses
        effects = rule_effects(responses)
        out: dict[tuple[str, str], Verdict] = {}
        for response in responses:
            for rule in response.rules:
                key = (response.policy.key, rule.name)
                n = 1
                while key in out:  # a rule reported twice for one resource keeps both results
                    n += 1
                    key = (response.policy.key, f"{rule.name}#{n}")
                out[key] = Verdict(report_result(response, rule, audit_warn), rule.message, effects.get(key))
        return out


def compare(old: dict[tuple[str, str], Verdict], new: dict[tuple[str, str], Verdict], resource: str,
            where: str) -> list[RuleChange]:
    out = []
    for key in [*old, *(k for k in new if k not in old)]:
        a, b = old.get(key), new.get(key)
        if a is None:
            what = ["added"]
        elif b is None:
            what = ["removed"]
        else:
            what = []
            if a.result != b.result:
                what.append("result")
            if a.message != b.message and a.result == b.result:  # a new verdict brings its own message
                what.append("message")
            if canonical(a.mutation) != canonical(b.mutation):
                what.append("mutation")
            if not what:
                continue
        out.append(RuleChange(resource, where, key[0], key[1], a, b, what))
    return out


def load_side(engine: Engine, specs: tuple[str, ...], exceptions: tuple[str, ...]) -> PolicySet:
    """One side's policies (and the PolicyExceptions both sides share)."""
    policy_set = policy_set_from_documents(engine, iter_source_documents(specs), iter_path_documents(exceptions))
    engine.require_handlers(policy_set.policies)
    return policy_set


@dataclass
class Report:
    old: list[str]
    new: list[str]
    resources: int
    added: list[str]
    removed: list[str]
    changes: list[RuleChange]

    @property
    def regressions(self) -> int:
        return sum(1 for c in self.changes if c.regression)

    def summary(self) -> str:
        if not self.changes:
            return f"no verdict changes over {self.resources} resource(s)"
        return (f"{len(self.changes)} changed rule result(s) over {self.resources} resource(s), "
                f"{self.regressions} newly denied")

    def to_json(self) -> str:
        return json.dumps({"old": self.old, "new": self.new, "resources": self.resources,
                           "policies": {"added": self.added, "removed": self.removed},
                           "changes": [c.as_dict() for c in self.changes],
                           "summary": {"changes": len(self.changes), "regressions": self.regressions}},
                          indent=2, ensure_ascii=False) + "\n"

    def to_table(self) -> str:
        lines = [f"old: {' '.join(self.old)}", f"new: {' '.join(self.new)}"]
        lines += _policy_lines(self.added, self.removed, lambda names: ", ".join(names))
        if self.changes:
            rows = [[i, c.resource, c.policy, c.rule, c.old.result if c.old else "-", c.new.result if c.new else "-",
                     ", ".join(c.what), c.detail()] for i, c in enumerate(self.changes, 1)]
            lines.append(render(["ID", "RESOURCE", "POLICY", "RULE", "OLD", "NEW", "CHANGED", "DETAIL"], rows))
        lines.append(self.summary())
        return "\n".join(lines) + "\n"

    def to_markdown(self) -> str:
        lines = ["### verno diff", "", f"`{' '.join(self.old)}` → `{' '.join(self.new)}`: **{self.summary()}**"]
        policies = _policy_lines(self.added, self.removed, lambda names: ", ".join(f"`{n}`" for n in names))
        if policies:
            lines += ["", *(f"- {line}" for line in policies)]
        if self.changes:
            lines += ["", "| | Resource | Policy | Rule | Old | New | Change |", "|---|---|---|---|---|---|---|"]
            for c in self.changes:
                mark = "❌" if c.regression else ("✅" if c.new and c.new.result == "pass" and c.old and
                                                 c.old.result in DENIED else "")
                cells = [mark, f"`{c.resource}`", c.policy, c.rule, c.old.result if c.old else "—",
                         c.new.result if c.new else "—", ", ".join(c.what) + (f": {c.detail()}" if c.detail() else "")]
                lines.append("| " + " | ".join(_md(cell) for cell in cells) + " |")
        return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\r", "").replace("\n", "<br>")


def _policy_lines(added: list[str], removed: list[str], names: Any) -> list[str]:
    out = []
    if added:
        out.append(f"policies added: {names(added)}")
    if removed:
        out.append(f"policies removed: {names(removed)}")
    return out


FORMATS = ("table", "json", "markdown")


@click.command("diff")
@click.option("--old", "old", multiple=True, required=True,
              help="Policy set before the change: file, directory or git:REV:PATH (repeatable).")
@click.option("--new", "new", multiple=True, required=True,
              help="Policy set after the change: file, directory or git:REV:PATH (repeatable).")
@click.option("-r", "--resource", "--resources", "resources", multiple=True,
              help="Resource file or directory (repeatable); - for stdin.")
@click.option("-e", "--exception", "--exceptions", "exceptions", multiple=True,
              help="PolicyException file for both sets (repeatable).")
@click.option("-f", "--values-file", "values_file", default="", help="Values file (kind: Values).")
@click.option("-s", "--set", "set_values", multiple=True, help="Variables: key=value,key2=value2.")
@click.option("-u", "--userinfo", "userinfo", default="", help="UserInfo file (roles, clusterRoles, subjects).")
@click.option("--audit-warn", is_flag=True, help="Report failures of Audit rules as warnings (not denials).")
@click.option("-o", "--output", "output", type=click.Choice(FORMATS), default="table", show_default=True,
              help="table, json, or markdown (for a pull request comment).")
def diff_command(old: tuple[str, ...], new: tuple[str, ...], resources: tuple[str, ...], exceptions: tuple[str, ...],
                 values_file: str, set_values: tuple[str, ...], userinfo: str, audit_warn: bool, output: str) -> None:
    """Compare the verdicts of two policy sets over the same resources.

    Lists every rule result whose verdict (pass, fail, warn, error, skip), message or mutation differs;
    exit code 1 when a result is newly denied (fail or error).
    """
    if not resources:
        raise click.UsageError("give resources with -r/--resource")
    engine = Engine()
    values = merge_values(load_values(values_file) if values_file else None, None, parse_set(set_values))
    user = load_userinfo(userinfo) if userinfo else None
    sides = []
    for label, specs in (("old", old), ("new", new)):
        session = Session.build(values, user)
        policy_set = load_side(engine, specs, exceptions)
        kind_inputs = KindInputs(session.sources, policy_set.companions, namespaces=namespace_objects(values),
                                 engine=engine)
        evaluation = Evaluation(session, engine, policy_set.policies, policy_set.exceptions, audit_warn, True, False,
                                False, True, "", policy_set.kind_policies, kind_inputs)
        sides.append(Side(label, policy_set, evaluation))
    before, after = sides
    if not before.policy_keys and not after.policy_keys:
        raise no_policies_error(engine, ", ".join((*old, *new)))
    changes: list[RuleChange] = []
    count = 0
    for doc in iter_resources(resources):
        count += 1
        label = resource_label(doc.data)
        where = f"{doc.source} document {doc.index + 1}"
        changes += compare(before.verdicts(doc.data, audit_warn), after.verdicts(doc.data, audit_warn), label, where)
    old_keys, new_keys = before.policy_keys, after.policy_keys
    report = Report(list(old), list(new), count, [k for k in new_keys if k not in old_keys],
                    [k for k in old_keys if k not in new_keys], changes)
    text = {"table": report.to_table, "json": report.to_json, "markdown": report.to_markdown}[output]()
    click.echo(text, nl=False)
    sys.exit(1 if report.regressions else 0)
