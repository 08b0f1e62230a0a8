"""Evaluating ``verno apply``'s resources: what each one adds to the output, on one core or several.

Each resource gives an :class:`Outcome`: its report results (for the counts), the text echoed for it
(failure blocks, mutated resources) and its table rows. The command prints outcomes in resource order,
so the output is the same whichever way they were computed.

Large runs are split across worker processes forked after policies and resources were read: the
workers inherit both, each parses (YAML documents) and evaluates a range of them, and sends back plain
outcomes. Runs that write files (``-o``), build PolicyReports
(``-p``) or reach registries (verifyImages) stay in one process; ``VERNO_WORKERS=1`` forces that.
"""
from __future__ import annotations

import multiprocessing
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from verno.cli.mutated_output import MutationOutput
from verno.cli.report import report_result
from verno.cli.session import ResourceFiles, Session, Unit, resource_label, unit_resources
from verno.core.errors import VernoError
from verno.core.results import PolicyResponse, Status

#: fewer resources than this are not worth starting workers for
PARALLEL_MIN = 2000
#: resources a worker evaluates per message
CHUNK = 250


@dataclass
class Outcome:
    """What one resource adds to ``verno apply``'s output."""

    results: list[str] = field(default_factory=list)
    #: ``(text, newline)`` pairs, echoed in order
    echoes: list[tuple[str, bool]] = field(default_factory=list)
    #: table rows, without their ID column (numbered when printed)
    rows: list[list[Any]] = field(default_factory=list)
    #: the policy responses themselves, kept only when PolicyReports are built
    responses: list[PolicyResponse] = field(default_factory=list)
    #: every rule's verdict with its decision trace (``--explain --output-format json``)
    explained: list[dict[str, Any]] = field(default_factory=list)
    #: the file and document index the resource was read from (where it is known: one process)
    source: tuple[str, int] | None = None


@dataclass
class Evaluation:
    """Evaluates one resource into an :class:`Outcome` (the same in a worker as in the command)."""

    session: Session
    engine: Any
    policies: list[Any]
    exceptions: list[Any]
    audit_warn: bool
    quiet: bool
    table: bool
    detailed: bool
    keep_responses: bool
    output: str = ""
    #: policies of plugin-registered kinds (CEL policies, admission policies) and what they read
    kind_policies: list[Any] = field(default_factory=list)
    kind_inputs: Any = None
    #: ``--explain``: "text" (lines after the resource's results), "json" (``Outcome.explained``) or
    #: "report" (PolicyReport properties); "" for none, and then no trace is built
    explain: str = ""

    def __post_init__(self) -> None:
        self._echoes: list[tuple[str, bool]] = []
        # one writer for the whole run: ``-o FILE`` is emptied once, then appended to
        self._mutations = None if self.quiet else MutationOutput(lambda text: self._echoes.append((text, False)),
                                                                 self.output)

    def __call__(self, resource: dict[str, Any]) -> Outcome:
        out = Outcome()
        self._echoes = out.echoes
        explain = bool(self.explain)
        responses = self.session.evaluate(self.engine, self.policies, resource, exceptions=self.exceptions,
                                          explain=explain)
        if self._mutations is not None:
            self._mutations.policy_responses(responses, _resource_path(resource), _name_of(resource))
        if self.kind_policies:
            if explain:
                kind_responses = self._explained_kinds(resource)
            else:
                kind_responses = self.session.evaluate_kinds(self.engine, self.kind_policies, resource,
                                                             self.kind_inputs)
            if self._mutations is not None:  # mutating kinds (MutatingPolicy, MAP) show what they patched
                self._mutations.policy_responses([r for r in kind_responses if any(
                    rule.rule_type == "Mutation" and rule.status == Status.PASS for rule in r.rules)],
                    _resource_path(resource), _name_of(resource))
            responses = responses + kind_responses
        for response in responses:
            if not response.rules:
                continue
            failed: list[str] = []
            errors: list[str] = []
            label = resource_label(response.resource)
            for rule in response.rules:
                result = report_result(response, rule, self.audit_warn)
                out.results.append(result)
                if self.table:
                    row = [response.policy.key, rule.name, label, result]
                    out.rows.append(row + [rule.message] if self.detailed else row)
                if rule.status == Status.FAIL:
                    failed.append(f"{len(failed) + 1} - {rule.name} {rule.message}")
                elif rule.status == Status.ERROR and not self.quiet:
                    if rule.rule_type == "Mutation":  # Kyverno's own lines for a mutate rule's error
                        out.echoes.append((f"\nerror while applying mutate policy {response.policy.key} -> "
                                           f"resource {label} \nerror:  {_with_rule(rule)}", True))
                    else:
                        errors.append(f"{len(errors) + 1} - {rule.name} {rule.message}")
            if failed and not self.quiet:
                warn = self.audit_warn and all(report_result(response, r, True) == "warn"
                                               for r in response.rules if r.status == Status.FAIL)
                how = "failed as audit warning" if warn else "failed"
                out.echoes.append((f"\npolicy {response.policy.key} -> resource {label} {how}:", True))
                out.echoes.extend((line, True) for line in failed)
            if errors:  # Kyverno prints nothing for these: the same block as failures, so none is silent
                out.echoes.append((f"\npolicy {response.policy.key} -> resource {label} error:", True))
                out.echoes.extend((line, True) for line in errors)
            if explain:
                self._explain(out, response, label)
        if self.keep_responses:
            out.responses = responses
        return out

    def _explained_kinds(self, resource: dict[str, Any]) -> list[PolicyResponse]:
        from verno.core.explain import attach_kind_traces, kind_traces

        with kind_traces() as traces:
            responses = self.session.evaluate_kinds(self.engine, self.kind_policies, resource, self.kind_inputs)
        attach_kind_traces(self.engine, responses, traces)
        return responses

    def _explain(self, out: Outcome, response: PolicyResponse, label: str) -> None:
        from verno.cli import explain_output

        if self.explain == "text":
            out.echoes.extend((line, True) for line in explain_output.text_block(response, label))
        elif self.explain == "json":
            out.explained.extend(explain_output.record(response, rule, label,
                                                       report_result(response, rule, self.audit_warn))
                                 for rule in response.rules)


def _with_rule(rule: Any) -> str:
    """A rule's error message, naming the rule unless the message already does."""
    message = rule.message or "(no message)"
    named = re.search(rf"\brule '?{re.escape(rule.name)}'?(?![\w-])", message)
    return message if named else f"rule {rule.name}: {message}"


def _resource_path(resource: dict[str, Any]) -> str:
    """``<ns>/<Kind>/<name>`` as Kyverno prints the resource a policy was applied to."""
    meta = resource.get("metadata") or {}
    return f"{meta.get('namespace') or ''}/{resource.get('kind') or ''}/{meta.get('name') or ''}"


def _name_of(resource: dict[str, Any]) -> str:
    return str((resource.get("metadata") or {}).get("name") or "")


# -- workers -------------------------------------------------------------------------------------------

def worker_count(evaluation: Evaluation, total: int) -> int:
    """How many processes should evaluate ``total`` resources (1: this one)."""
    if total < PARALLEL_MIN:
        return 1
    if evaluation.output or evaluation.keep_responses:
        return 1  # files written per resource, or responses kept whole
    if any("verifyImages" in p.kinds for p in evaluation.policies):
        return 1  # registry clients and their caches belong to one process
    if "fork" not in multiprocessing.get_all_start_methods():
        return 1
    wanted = os.environ.get("VERNO_WORKERS", "")
    try:
        count = int(wanted) if wanted else len(os.sched_getaffinity(0))
    except (ValueError, AttributeError):
        count = os.cpu_count() or 1
    return max(1, min(count, total // CHUNK or 1))


#: what forked workers evaluate: (evaluation, units); set just before the fork, inherited by it
_JOB: tuple[Evaluation, list[Unit]] | None = None


def _evaluate_range(bounds: tuple[int, int]) -> tuple[list[Outcome], tuple[str, str] | None]:
    """The outcomes of ``units[start:end]`` up to the first error, and that error (kind, text)."""
    assert _JOB is not None
    evaluation, units = _JOB
    done: list[Outcome] = []
    try:
        for i in range(*bounds):
            for resource in unit_resources(units[i]):
                done.append(evaluation(resource))
    except VernoError as exc:  # sent back as text: an exception class need not survive pickling
        return done, ("error", str(exc))
    except Exception as exc:  # noqa: BLE001 - reported by the command as an internal error
        return done, ("crash", f"{type(exc).__name__}: {exc}")
    return done, None


def outcomes(evaluation: Evaluation, files: ResourceFiles, workers: int) -> Iterator[Outcome]:
    """Outcomes in resource order: from this process, or from ``workers`` forked ones."""
    if workers <= 1:
        for doc in files:
            out = evaluation(doc.data)
            out.source = (doc.source, doc.index)
            yield out
        return
    global _JOB
    units = files.units()
    _JOB = (evaluation, units)
    sys.stdout.flush()
    sys.stderr.flush()
    ranges = [(start, min(start + CHUNK, len(units))) for start in range(0, len(units), CHUNK)]
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            for done, error in pool.imap(_evaluate_range, ranges):
                yield from done  # what one process would have printed before the error
                if error is not None:
                    kind, text = error
                    raise VernoError(text) if kind == "error" else RuntimeError(text)
    finally:
        _JOB = None
