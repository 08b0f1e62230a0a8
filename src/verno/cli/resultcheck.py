"""Checking one expected Test result against the engine's responses, resources included.

Kyverno's ``printTestResult``/``checkResult`` (``commands/test/output.go``, ``command.go``):

* a mutate rule's row compares the policy's patched resource with ``patchedResources``;
* a mutateExisting rule's passing responses are rows about their patched *targets* (a Test names the
  target, e.g. ``staging/secret-1``), compared with ``patchedResources`` too;
* a generate rule gives one row per generated resource, compared with ``generatedResource``; a generate
  rule that generated nothing gives no row (the resource then shows as ``Excluded``);
* when the expected file holds no document for the actual resource (same kind, name, namespace), the
  row is left out (Kyverno's "not found in manifest"; the resource then shows as ``Excluded``), except
  for a generated resource, which is then a ``Resource diff``.

A row passes when the resource matches and the rule's report result is the expected one. With a
resource file, ``result: fail`` asserts the opposite: the resource differs from (or is absent in) the file,
so a row expecting ``fail`` passes on a difference, and fails when the resource matches but the rule
passed (``Want fail, got pass``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from verno.cli.compare import label, load_documents, pick_expected, same_resource, unified_diff
from verno.cli.report import report_result
from verno.cli.sarif import resource_path
from verno.core.errors import LoadError, VernoError
from verno.core.models.testfile import TestResult
from verno.core.results import PolicyResponse, RuleResponse

DIFF_MESSAGES = {
    "patched": "Patched resource didn't match the patched resource in the test result",
    "generated": "Generated resource didn't match the generated resource in the test result",
}


@dataclass
class Outcome:
    """One row's verdict before it becomes a TestRow."""

    resource: str
    ok: bool
    reason: str
    message: str
    actual: str
    #: the pattern path the rule failed at, where it reports one
    path: str = ""


class ResultChecker:
    """Checks rows of one result; ``path_of`` resolves a file named by the Test."""

    def __init__(self, result: TestResult, path_of: Callable[[str], str], rule_names: set[str],
                 is_existing: Callable[[Any, str], bool], test: str = ""):
        self.result = result
        self.path_of = path_of
        #: the Test file (named in the error when a file it names cannot be read)
        self.test = test
        self.rule_names = rule_names
        self.is_existing = is_existing
        self._docs: dict[str, list[dict[str, Any]]] = {}

    def _expected_docs(self, rel: str, field: str = "patchedResources") -> list[dict[str, Any]]:
        if rel not in self._docs:
            try:
                self._docs[rel] = load_documents(self.path_of(rel))
            except VernoError as exc:
                if not self.test:
                    raise
                raise LoadError(self.test, str(exc), field=f"results[].{field}") from None
        return self._docs[rel]

    # -- rows ------------------------------------------------------------------------------------------
    def outcomes(self, response: PolicyResponse, name: str, matches: Callable[[dict[str, Any], str], bool]) \
            -> tuple[list[Outcome], bool]:
        """(rows, whether a matching rule ran on the trigger) for ``response`` and resource ``name``."""
        out: list[Outcome] = []
        trigger_hit = bool(name == "" or matches(response.resource, name))
        ran = False
        for rule in response.rules:
            if rule.name not in self.rule_names:
                continue
            existing = self.is_existing(response.policy, rule.name)
            if existing and rule.patched_resource is not None:
                if matches(rule.patched_resource, name) or name == "":
                    ran = True
                    row = self._compare_row(response, rule, rule.patched_resource, "patched",
                                            self.result.patched_resources or self.result.patched_resource)
                    if row is not None:
                        out.append(row)
                if not trigger_hit:
                    continue
                # on the trigger a target response compares the (unchanged) trigger, as Kyverno does
                row = self._compare_row(response, rule, response.patched_resource or response.resource,
                                        "patched", self.result.patched_resources or self.result.patched_resource)
                if row is not None:
                    out.append(row)
                continue
            if not trigger_hit:
                continue
            ran = True
            if rule.rule_type == "Generation":
                out.extend(self.generated_outcomes(response, rule))
                continue
            actual = response.patched_resource if rule.rule_type == "Mutation" else response.resource
            row = self._compare_row(response, rule, actual or response.resource, "patched",
                                    self.result.patched_resources or self.result.patched_resource)
            if row is not None:
                out.append(row)
        return out, ran

    def generated_outcomes(self, response: PolicyResponse, rule: RuleResponse) -> list[Outcome]:
        """One row per resource ``rule`` generated, compared with ``generatedResource(s)``."""
        files = [f for f in [self.result.generated_resource, *self.result.generated_resources] if f]
        rows = (self._generated_row(response, rule, generated, files) for generated in rule.generated_resources)
        return [row for row in rows if row is not None]

    def compare_patched(self, response: PolicyResponse, rule: RuleResponse, actual: dict[str, Any],
                        rel: str) -> Outcome | None:
        """One rule's row comparing ``actual`` with the ``patchedResources`` file ``rel`` (None: the file
        does not describe the resource, and Kyverno leaves the row out)."""
        return self._compare_row(response, rule, actual, "patched", rel)

    def _generated_row(self, response: PolicyResponse, rule: RuleResponse, generated: dict[str, Any],
                       files: list[str]) -> Outcome | None:
        if not files:
            return self._status_row(response, rule, generated)
        docs = [d for f in files for d in self._expected_docs(f, "generatedResource")]
        if pick_expected(docs, generated) is None:
            # a generated resource the expected files do not describe is a difference, not a skip
            return Outcome(_row_label(generated), False, "Resource diff",
                           f"generated resource {label(generated)} not found in {', '.join(files)}",
                           report_result(response, rule, False))
        return self._against(response, rule, generated, docs, "generated")

    def _compare_row(self, response: PolicyResponse, rule: RuleResponse, actual: dict[str, Any], what: str,
                     rel: str) -> Outcome | None:
        if not rel:
            return self._status_row(response, rule, actual)
        return self._against(response, rule, actual, self._expected_docs(rel), what)

    def _against(self, response: PolicyResponse, rule: RuleResponse, actual: dict[str, Any],
                 docs: list[dict[str, Any]], what: str) -> Outcome | None:
        expected = pick_expected(docs, actual)
        wants_difference = self.result.expected == "fail"
        if expected is None:
            if wants_difference:  # ``fail`` asserts the resource is not what the file describes
                return Outcome(_row_label(actual), True, "Ok", f"{label(actual)} is not in the expected file",
                               "fail")
            return None  # not found in the manifest: Kyverno leaves the row out
        if not same_resource(actual, expected):
            status = report_result(response, rule, False)
            if wants_difference:
                return Outcome(_row_label(actual), True, "Ok", DIFF_MESSAGES[what], "fail")
            message = f"{DIFF_MESSAGES[what]}\n(- only in expected, + only in actual)\n{unified_diff(expected, actual)}"
            return Outcome(_row_label(actual), False, "Resource diff", message, status)
        return self._status_row(response, rule, actual)

    def _status_row(self, response: PolicyResponse, rule: RuleResponse, actual: dict[str, Any]) -> Outcome:
        status = report_result(response, rule, False)
        expected = self.result.expected
        ok = status == expected
        return Outcome(_row_label(actual), ok, "Ok" if ok else f"Want {expected}, got {status}", rule.message, status,
                       resource_path(response.policy, rule))


def _row_label(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    name = meta.get("name") or meta.get("generateName") or ""
    ns = meta.get("namespace") or ""
    kind = obj.get("kind") or ""
    return f"{kind}/{ns}/{name}" if ns else f"{kind}/{name}"


__all__ = ["ResultChecker", "Outcome", "label"]
