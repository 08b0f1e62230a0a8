"""Running Kyverno ``kyverno-test.yaml`` suites: load, evaluate, compare, tabulate."""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable

from verno.cli.report import report_result
from verno.cli.session import Session, iter_resources, load_userinfo, load_values, merge_values
from verno.core.engine import Engine
from verno.core.errors import LoadError, VernoError
from verno.core.loading import iter_file_documents, validate_model
from verno.core.models.testfile import TestFile, TestResult
from verno.core.policyset import PolicySet, load_policy_set
from verno.core.results import PolicyResponse
from verno.core.wildcard import match as wildcard

#: Test fields that later features serve; a Test using them fails clearly until then.
UNSUPPORTED_FIELDS = {
    "targetResources": "target_resources",
    "paramResources": "param_resources",
    "context": "context",
    "jsonPayloads": "json_payloads",
    "httpPayloads": "http_payloads",
    "envoyPayloads": "envoy_payloads",
}
UNSUPPORTED_RESULT_FIELDS = {
    "patchedResources": "patched_resources",
    "patchedResource": "patched_resource",
    "generatedResource": "generated_resource",
    "generatedResources": "generated_resources",
    "cloneSourceResource": "clone_source_resource",
}


@dataclass
class TestRow:
    id: int
    test: str
    policy: str
    rule: str
    resource: str
    result: str  # "Pass" or "Fail": whether the expectation held
    reason: str
    message: str = ""
    expected: str = ""
    actual: str = ""
    counted_as: str = "pass"  # pass | skip | fail

    @property
    def ok(self) -> bool:
        return self.result == "Pass"

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("counted_as")
        return d


@dataclass
class Selector:
    policy: str = "*"
    rule: str = "*"
    resource: str = "*"

    @classmethod
    def parse(cls, text: str) -> "Selector":
        sel = cls()
        for part in filter(None, (p.strip() for p in text.split(","))):
            if "=" not in part:
                raise VernoError(f"invalid test case selector {part!r}: expected key=value")
            key, value = part.split("=", 1)
            if key not in ("policy", "rule", "resource"):
                raise VernoError(f"invalid test case selector key {key!r}: use policy, rule or resource")
            setattr(sel, key, value)
        return sel

    def keep(self, result: TestResult) -> bool:
        if not wildcard(self.policy, result.policy) or not wildcard(self.rule, result.rule):
            return False
        names = result.resources or [s.name for s in result.resource_specs] or [result.resource]
        return any(wildcard(self.resource, n) for n in names)


@dataclass
class SuiteOutcome:
    path: str
    rows: list[TestRow] = field(default_factory=list)
    error: str = ""
    notices: list[str] = field(default_factory=list)


def discover(paths: Iterable[str], file_name: str) -> list[str]:
    found: list[str] = []
    for path in paths:
        if os.path.isfile(path):
            found.append(path)
        elif os.path.isdir(path):
            for root, dirs, files in os.walk(path):
                dirs.sort()
                if file_name in files:
                    found.append(os.path.join(root, file_name))
        else:
            raise LoadError(path, "no such file or directory")
    return found


def load_tests(path: str) -> list[tuple[int, TestFile | None, str]]:
    """(document index, Test or None, error) for each document of a test file."""
    out: list[tuple[int, TestFile | None, str]] = []
    try:
        docs = list(iter_file_documents(path))
    except LoadError as exc:
        return [(0, None, str(exc))]
    for doc in docs:
        if isinstance(doc.data, dict) and (not doc.data.get("apiVersion") or not doc.data.get("kind")):
            out.append((doc.index, None, f"{doc.where}: uses a deprecated schema (no apiVersion/kind) — please "
                                         "migrate: add apiVersion: cli.kyverno.io/v1alpha1 and kind: Test"))
            continue
        try:
            out.append((doc.index, validate_model(TestFile, doc), ""))
        except LoadError as exc:
            out.append((doc.index, None, str(exc)))
    return out


def expected_rows(test: TestFile, selector: Selector) -> list[tuple[TestResult, str]]:
    rows = []
    for result in test.results:
        if not selector.keep(result):
            continue
        names = list(result.resources) or [_spec_name(s) for s in result.resource_specs] or \
            ([result.resource] if result.resource else [])
        rows.extend((result, name) for name in names)
    return rows


def _spec_name(spec: Any) -> str:
    return f"{spec.namespace}/{spec.name}" if spec.namespace else spec.name


class SuiteRunner:
    def __init__(self, engine: Engine, path: str, test: TestFile, selector: Selector, echo):
        self.engine = engine
        self.path = path
        self.base = os.path.dirname(path)
        self.test = test
        self.selector = selector
        self.echo = echo

    def _p(self, rel: str) -> str:
        return rel if os.path.isabs(rel) else os.path.join(self.base, rel)

    def unsupported(self) -> str:
        t = self.test
        for name, attr in UNSUPPORTED_FIELDS.items():
            if getattr(t, attr):
                return name
        for r in t.results:
            for name, attr in UNSUPPORTED_RESULT_FIELDS.items():
                if getattr(r, attr):
                    return name
            flag = r.cel_policy_flag
            if flag:
                return f"results[].{flag}"
        if t.global_context_entries:
            for entry in t.global_context_entries:
                if entry.resources or entry.resource_files:
                    return "globalContextEntries[].resources"
        return ""

    def run(self) -> SuiteOutcome:
        outcome = SuiteOutcome(self.path)
        wanted = expected_rows(self.test, self.selector)
        if not wanted:
            return outcome
        missing = self.unsupported()
        if missing:
            raise VernoError(f"not supported yet: {missing}")
        t = self.test
        self.echo("  Loading values/variables ...")
        values = load_values(self._p(t.variables)) if t.variables else None
        values = merge_values(values, t.values, {})
        userinfo = load_userinfo(self._p(t.userinfo)) if t.userinfo else None
        self.echo("  Loading policies ...")
        policy_set = load_policy_set(self.engine, [self._p(p) for p in t.policies])
        self.engine.require_handlers(policy_set.policies)
        self.echo("  Loading resources ...")
        resources = [d.data for d in iter_resources([self._p(r) for r in t.resources])]
        if t.exceptions:
            self.echo("  Loading exceptions ...")
            extra = load_policy_set(self.engine, [], [self._p(e) for e in t.exceptions])
            policy_set.exceptions.extend(extra.exceptions)
        outcome.notices.extend(policy_set.notices)
        session = Session.build(values, userinfo, api_call_responses=self._mocks(),
                                global_context=self._global_context(),
                                cluster_resources=[d.data for d in iter_resources([self._p(r) for r in t.cluster_resources])])
        n_pol = len(policy_set.policies)
        self.echo(f"  Applying {n_pol} polic{'y' if n_pol == 1 else 'ies'} to {len(resources)} "
                  f"resource{'' if len(resources) == 1 else 's'} ...")
        operations = {r.operation for r, _ in wanted if r.operation} or set()
        default_op = session.default_operation
        evaluated: dict[str, list[PolicyResponse]] = {}
        for op in {default_op} | operations:
            out: list[PolicyResponse] = []
            for resource in resources:
                out.extend(self.engine.evaluate(policy_set.policies, session.request(resource, op),
                                                sources=session.sources, exceptions=policy_set.exceptions))
            evaluated[op] = out
        self.echo("  Checking results ...")
        for result, name in wanted:
            outcome.rows.extend(self._check(result, name, evaluated[result.operation or default_op], policy_set))
        return outcome

    def _mocks(self) -> dict[tuple[str, str], dict[str, Any]]:
        mocks = {}
        for m in self.test.api_call_responses:
            mocks[(m.method, m.url_path or m.url)] = m.response
        return mocks

    def _global_context(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for entry in self.test.global_context_entries:
            data = entry.data
            if entry.projections:
                for proj in entry.projections:
                    out[f"{entry.name}.{proj.name}" if proj.name else entry.name] = \
                        self.engine.jmespath.search(proj.path, data) if proj.path else data
            out[entry.name] = data
        return out

    def _check(self, result: TestResult, name: str, responses: list[PolicyResponse],
               policy_set: PolicySet) -> list[TestRow]:
        kind = result.kind
        label = f"{kind}/{name}" if kind else name
        expected = result.expected
        base = dict(test=self.path, policy=result.policy, rule=result.rule, resource=label, expected=expected)
        rows: list[TestRow] = []
        prepared = policy_set.find(result.policy)
        if prepared is not None and result.rule and not any(
                r.name in _rule_names(result.rule) for r in prepared.rules):
            return [TestRow(0, **base, result="Fail", reason="Rule not found",
                            message=f"policy {result.policy} has no rule {result.rule}", counted_as="fail")]
        for response in responses:
            if response.policy.key != result.policy or not _resource_matches(response.resource, name):
                continue
            found = False
            for rule in response.rules:
                if rule.name not in _rule_names(result.rule):
                    continue
                found = True
                actual = report_result(response, rule, False)
                ok = actual == expected
                rows.append(TestRow(0, **base, result="Pass" if ok else "Fail",
                                    reason="Ok" if ok else f"Want {expected}, got {actual}", message=rule.message,
                                    actual=actual, counted_as=("skip" if expected == "skip" else "pass") if ok else "fail"))
            if not found and not rows:
                rows.append(TestRow(0, **base, result="Pass", reason="Excluded", message="Excluded",
                                    actual="excluded", counted_as="skip"))
        if not rows:
            rows.append(TestRow(0, **base, result="Fail", reason="Not found", message="Not found",
                                counted_as="fail"))
        return rows


def _rule_names(rule: str) -> set[str]:
    return {rule, f"autogen-{rule}", f"autogen-cronjob-{rule}"}


def _resource_matches(resource: dict[str, Any], name: str) -> bool:
    meta = resource.get("metadata") or {}
    rname = meta.get("name") or meta.get("generateName") or ""
    ns = meta.get("namespace") or ""
    return name == rname or name == (f"{ns}/{rname}" if ns else rname)
