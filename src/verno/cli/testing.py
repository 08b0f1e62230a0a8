"""Running Kyverno ``kyverno-test.yaml`` suites: load, evaluate, compare, tabulate."""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable

from verno.cli.report import report_result
from verno.cli.resultcheck import ResultChecker, _row_label
from verno.cli.session import (
    Session,
    float64_numbers,
    iter_resources,
    load_userinfo,
    load_values,
    merge_values,
    namespace_objects,
)
from verno.core.engine import Engine
from verno.core.errors import LoadError, VernoError
from verno.core.loaders.cluster_resources import read_cluster_resources
from verno.core.loaders.offline_cluster import OfflineCluster
from verno.core.loading import iter_file_documents, validate_model
from verno.core.models.contextfile import ContextFile
from verno.core.models.testfile import TestFile, TestResult
from verno.core.objectshape import object_problem
from verno.core.policykinds import KindInputs
from verno.core.policyset import PolicySet, load_policy_set
from verno.core.results import PolicyResponse
from verno.core.scope import with_default_namespace
from verno.core.wildcard import match as wildcard

#: Test fields verno does not run: a Test using them fails clearly (none at present).
UNSUPPORTED_FIELDS: dict[str, str] = {}
UNSUPPORTED_RESULT_FIELDS: dict[str, str] = {}


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
    #: where the expectation is: (Test document index, index in ``results``); for reports that point into files
    expectation: tuple[int, int] | None = None
    #: where the resource is: (file, document index, failing pattern path or "")
    origin: tuple[str, int, str] | None = None
    #: the policy's annotations (title, category, severity), for reports that describe rules
    annotations: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.result == "Pass"

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for private in ("counted_as", "expectation", "origin", "annotations"):
            d.pop(private)
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
    #: the suite's policies and the kinds of its resources (for ``--coverage``); None when nothing ran
    policy_set: Any = None
    kinds: set[str] = field(default_factory=set)


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
            [result.resource]  # no resource named: every resource (trigger or target) is checked
        rows.extend((result, name) for name in names)
    return rows


def _spec_name(spec: Any) -> str:
    return f"{spec.namespace}/{spec.name}" if spec.namespace else spec.name


class SuiteRunner:
    def __init__(self, engine: Engine, path: str, test: TestFile, selector: Selector, echo,
                 sources: dict[str, Any] | None = None, document: int = 0):
        self.engine = engine
        #: the Test's document index in its file (rows point at their expectation in it)
        self.document = document
        self._origins: dict[tuple[Any, Any], list[tuple[str, str, int]]] = {}
        #: extra ``Sources`` fields for every suite (registry access from ``--registry``)
        self.sources = dict(sources or {})
        self.path = path
        self.base = os.path.dirname(path)
        self.test = test
        self.selector = selector
        self.echo = echo

    def _p(self, rel: str) -> str:
        return rel if os.path.isabs(rel) else os.path.join(self.base, rel)

    def _check_paths(self) -> None:
        """Every file the Test names exists: a missing one is an error naming the Test file and the field."""
        t = self.test
        fields: list[tuple[str, list[str]]] = [
            ("policies", t.policies), ("resources", t.resources), ("exceptions", t.exceptions),
            ("clusterResources", t.cluster_resources), ("targetResources", t.target_resources),
            ("variables", [t.variables] if t.variables else []), ("userinfo", [t.userinfo] if t.userinfo else []),
            ("paramResources", t.param_resources), ("jsonPayloads", t.json_payloads),
            ("envoyPayloads", t.envoy_payloads), ("httpPayloads", t.http_payloads),
            ("jsonPayload", [t.json_payload] if t.json_payload else []),
            ("context", [t.context] if t.context else []),
        ]
        singles = ("variables", "userinfo", "jsonPayload", "context")
        for name, paths in fields:
            for i, rel in enumerate(paths):
                if not os.path.exists(self._p(rel)):
                    where = name if name in singles else f"{name}[{i}]"
                    raise LoadError(self.path, f"{rel}: no such file or directory", field=where)

    def unsupported(self) -> str:
        t = self.test
        for name, attr in UNSUPPORTED_FIELDS.items():
            if getattr(t, attr):
                return name
        for r in t.results:
            for name, attr in UNSUPPORTED_RESULT_FIELDS.items():
                if getattr(r, attr):
                    return name
        return ""

    def run(self) -> SuiteOutcome:
        outcome = SuiteOutcome(self.path)
        wanted = expected_rows(self.test, self.selector)
        if not wanted:
            return outcome
        missing = self.unsupported()
        if missing:
            raise LoadError(self.path, "not supported yet", field=missing)
        self._check_paths()
        t = self.test
        self.echo("  Loading values/variables ...")
        values = load_values(self._p(t.variables)) if t.variables else None
        values = merge_values(values, t.values, {})
        userinfo = load_userinfo(self._p(t.userinfo)) if t.userinfo else None
        self.echo("  Loading policies ...")
        policy_set = load_policy_set(self.engine, [self._p(p) for p in t.policies])
        self.engine.require_handlers(policy_set.policies)
        self.echo("  Loading resources ...")
        resource_docs = list(iter_resources([self._p(r) for r in t.resources]))
        resources = [d.data for d in resource_docs]
        for d in resource_docs:
            meta = d.data.get("metadata") or {}
            self._origins.setdefault((d.data.get("kind"), meta.get("name")), []).append(
                (meta.get("namespace") or "", d.source, d.index))
        if t.exceptions:
            self.echo("  Loading exceptions ...")
            extra = load_policy_set(self.engine, [], [self._p(e) for e in t.exceptions])
            policy_set.exceptions.extend(extra.exceptions)
            for key, docs in extra.companions.items():
                policy_set.companions.setdefault(key, []).extend(docs)
        described = read_cluster_resources([self._p(r) for r in t.cluster_resources], self.base)
        outcome.notices.extend(described.notices)
        targets = []
        if t.target_resources:
            self.echo("  Loading target resources ...")
            targets = [d.data for d in iter_resources([self._p(r) for r in t.target_resources])]
        cluster = described.objects + targets
        params = []
        if t.param_resources:
            self.echo("  Loading parameter resources ...")
            params = [with_default_namespace(d.data)
                      for d in iter_resources([self._p(r) for r in t.param_resources])]
        # as Kyverno's CLI: with clusterResources, configMap and apiCall entries read a cluster made of them,
        # the resources under test and the target resources
        offline = OfflineCluster([with_default_namespace(r) for r in resources] + targets + described.objects,
                                 described.crds) if t.cluster_resources else None
        session = Session.build(values, userinfo, api_call_responses=self._mocks(),
                                global_context=self._global_context(), cluster_resources=cluster,
                                offline_cluster=offline, clone_sources=self._clone_sources(), params=params,
                                cel_context=self._cel_context(), **self.sources)
        # as Kyverno's CLI: with clusterResources, CEL lookups read the cluster made of them, the resources
        # under test, the targets and the params, instead of the Context file and the mocks
        fake_cluster = ([with_default_namespace(r) for r in resources] + targets + described.objects + params
                        if t.cluster_resources else None)
        session.sources.cel_data = self._cel_data(session.sources, fake_cluster,
                                                  [with_default_namespace(t) for t in targets])
        inputs = KindInputs(session.sources, policy_set.companions, params=params,
                            namespaces=namespace_objects(values), engine=self.engine, targets=targets)
        payloads = self._payloads()
        n_pol = policy_set.policy_count
        self.echo(f"  Applying {n_pol} polic{'y' if n_pol == 1 else 'ies'} to {len(resources)} "
                  f"resource{'' if len(resources) == 1 else 's'} ...")
        operations = {r.operation for r, _ in wanted if r.operation} or set()
        default_op = session.default_operation
        evaluated: dict[str, list[PolicyResponse]] = {}
        kinds: dict[str, list[tuple[str, PolicyResponse]]] = {}
        for op in {default_op} | operations:
            out: list[PolicyResponse] = []
            kind_out: list[tuple[str, PolicyResponse]] = []
            explicit = op if op in operations else None  # a result's own operation wins over Values
            for resource in resources:
                out.extend(session.evaluate(self.engine, policy_set.policies, resource, explicit,
                                            exceptions=policy_set.exceptions))
                for response in session.evaluate_kinds(self.engine, policy_set.kind_policies, resource, inputs,
                                                       op):
                    kind_out.append(("", response))
            for kind, path, payload in payloads:
                for response in session.evaluate_kinds(self.engine, policy_set.kind_policies, payload, inputs,
                                                       payload=kind):
                    kind_out.append((path, response))
            evaluated[op] = out
            kinds[op] = kind_out
        self.echo("  Checking results ...")
        outcome.policy_set = policy_set
        outcome.kinds = {str(r.get("kind")) for r in [*resources, *cluster, *params] if isinstance(r, dict)}
        for result, name in wanted:
            op = result.operation or default_op
            if policy_set.find(result.policy) is None and _find_kind_policy(policy_set, result.policy):
                outcome.rows.extend(self._check_kind(result, name, kinds[op]))
            else:
                outcome.rows.extend(self._check(result, name, evaluated[op], policy_set))
        return outcome

    def _cel_context(self) -> dict[str, Any]:
        """The Context file's ``spec.resources`` and ``spec.images`` (CEL lookups offline)."""
        if not self.test.context:
            return {}
        path = self._p(self.test.context)
        docs = list(iter_file_documents(path))
        if len(docs) != 1:
            raise LoadError(path, f"expected one Context document, found {len(docs)}")
        context = validate_model(ContextFile, docs[0])
        for i, obj in enumerate(context.spec.resources):
            problem = object_problem(obj)
            if problem is not None:
                raise LoadError(path, problem[1], document=docs[0].index,
                                field=f"spec.resources[{i}].{problem[0]}")
        return {"resources": [with_default_namespace(r) for r in context.spec.resources],
                "images": [i.model_dump(by_alias=True, exclude_unset=True) for i in context.spec.images]}

    def _cel_data(self, sources: Any, cluster: list[dict[str, Any]] | None,
                  targets: list[dict[str, Any]] = ()) -> Any:  # type: ignore[assignment]
        """What the CEL data libraries read in this Test: the Context file's resources and the target
        resources (as Kyverno's CLI registers them), the apiCallResponses mocks and the
        globalContextEntries; or, when the Test describes a cluster, that cluster alone."""
        from verno.core.cel.offline import OfflineCelData, global_context_values, http_mocks

        if cluster is not None:
            return OfflineCelData(resources=cluster, egress=sources.egress, egress_timeout=sources.egress_timeout)
        context = sources.cel_context

        def load_files(paths: list[str]) -> list[Any]:
            return [d.data for d in iter_resources([self._p(p) for p in paths])]

        return OfflineCelData(resources=[*context.get("resources", ()), *targets], images=context.get("images", ()),
                              http_mocks=http_mocks(sources.api_call_responses),
                              global_context=global_context_values(self.test.global_context_entries,
                                                                   self.engine.jmespath.search, load_files=load_files),
                              egress=sources.egress, egress_timeout=sources.egress_timeout)

    def _payloads(self) -> list[tuple[str, str, dict[str, Any]]]:
        """``(payload kind, path as written, payload)`` for each JSON, Envoy and HTTP payload. A JSON
        payload's numbers are float64 when read from a .json file, as Kyverno's CLI reads them (YAML payloads
        keep their integers); Envoy and HTTP requests are read as the authz server reads them (integers
        stay integers)."""
        out: list[tuple[str, str, dict[str, Any]]] = []
        t = self.test
        groups = [("json", "a JSON payload", list(t.json_payloads) + ([t.json_payload] if t.json_payload else [])),
                  ("envoy", "an Envoy payload", list(t.envoy_payloads)),
                  ("http", "an HTTP payload", list(t.http_payloads))]
        for kind, what, paths in groups:
            for rel in paths:
                for doc in iter_file_documents(self._p(rel)):
                    if doc.data is None:
                        continue
                    if not isinstance(doc.data, dict):
                        raise LoadError(doc.source, f"{what} must be an object, got "
                                                    f"{type(doc.data).__name__}", document=doc.index)
                    data = float64_numbers(doc.data) if kind == "json" and rel.lower().endswith(".json") \
                        else doc.data
                    out.append((kind, rel, data))
        return out

    def _check_kind(self, result: TestResult, name: str, responses: list[tuple[str, PolicyResponse]]) \
            -> list[TestRow]:
        """Rows of a result about a policy of a plugin-registered kind (Kyverno's rules for CEL kinds and
        admission policies): the policy is matched on the last ``/`` segment of ``policy``, ``rule`` is
        ignored and every rule response is a row; a response without rules is an ``Excluded`` pass."""
        label = f"{result.kind}/{name}" if result.kind else name
        expected = result.expected
        base = dict(test=self.path, policy=result.policy, rule=result.rule, resource=label, expected=expected,
                    expectation=self.expectation_of(result))
        wanted_policy = result.policy.rsplit("/", 1)[-1]
        patched_file = result.patched_resources or result.patched_resource
        checker = ResultChecker(result, self._p, set(), lambda policy, rule: False, test=self.path)
        rows: list[TestRow] = []
        for key, response in responses:
            if response.policy.name != wanted_policy:
                continue
            on_trigger = not name or (name == key if key else _resource_matches(response.resource, name))
            if not response.rules:
                if on_trigger:
                    rows.append(TestRow(0, **base, result="Pass", reason="Excluded", message="Excluded",
                                        actual="excluded", counted_as="skip"))
                continue
            for rule in response.rules:
                # a mutateExisting rule is about the target it patched, not the trigger
                target = rule.patched_resource if rule.patched_resource is not None and \
                    rule.patched_resource is not response.patched_resource else None
                if target is not None:
                    if name and not _resource_matches(target, name):
                        continue
                elif not on_trigger:
                    continue
                where = label if name else (key or _row_label(target if target is not None else response.resource))
                if rule.generated_resources:  # each generated resource is a row (a GeneratingPolicy's pass)
                    for o in checker.generated_outcomes(response, rule):
                        counted = ("skip" if expected == "skip" else "pass") if o.ok else "fail"
                        rows.append(TestRow(0, **{**base, "resource": where}, result="Pass" if o.ok else "Fail",
                                            reason=o.reason, message=o.message, actual=o.actual, counted_as=counted))
                    continue
                if patched_file and not key:
                    actual = target if target is not None else (response.patched_resource or response.resource)
                    outcome = checker.compare_patched(response, rule, actual, patched_file)
                    if outcome is None:
                        continue  # not described by the expected file: Kyverno leaves the row out
                    counted = ("skip" if expected == "skip" else "pass") if outcome.ok else "fail"
                    rows.append(TestRow(0, **{**base, "resource": where}, result="Pass" if outcome.ok else "Fail",
                                        reason=outcome.reason, message=outcome.message, actual=outcome.actual,
                                        counted_as=counted))
                    continue
                status = report_result(response, rule, False)
                ok = status == expected
                counted = ("skip" if expected == "skip" else "pass") if ok else "fail"
                rows.append(TestRow(0, **{**base, "resource": where}, result="Pass" if ok else "Fail",
                                    reason="Ok" if ok else f"Want {expected}, got {status}", message=rule.message,
                                    actual=status, counted_as=counted, annotations=dict(response.policy.annotations),
                                    origin=None if key else self._origin(response.resource, rule.path)))
        if not rows:
            rows.append(TestRow(0, **base, result="Fail", reason="Not found", message="Not found",
                                counted_as="fail"))
        return rows

    def _clone_sources(self) -> dict[str, list[dict[str, Any]]]:
        """Each result's ``cloneSourceResource``, visible to that policy's rule only (as in Kyverno)."""
        out: dict[str, list[dict[str, Any]]] = {}
        for r in self.test.results:
            if r.clone_source_resource:
                docs = [d.data for d in iter_resources([self._p(r.clone_source_resource)])]
                out.setdefault(f"{r.policy}/{r.rule}", []).extend(docs)
        return out

    def _mocks(self) -> dict[tuple[str, str], dict[str, Any]]:
        mocks = {}
        for m in self.test.api_call_responses:
            mocks[(m.method, m.url_path or m.url)] = {"statusCode": m.response.status_code, "body": m.response.body}
        return mocks

    def _global_context(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for i, entry in enumerate(self.test.global_context_entries):
            given = [x for x in ("data", "resources", "resourceFiles") if getattr(entry, _snake(x))]
            if len(given) > 1:
                raise LoadError(self.path, f"give one of data, resources and resourceFiles, not {' and '.join(given)}",
                                field=f"globalContextEntries[{i}]")
            data = entry.data
            if entry.resources or entry.resource_files:  # a list of objects, as the cluster would hold them
                data = [dict(r) for r in entry.resources] + \
                    [d.data for d in iter_resources([self._p(f) for f in entry.resource_files])]
            if entry.field_path:
                data = self._search(entry.field_path, data, f"globalContextEntries[{i}].fieldPath")
            if entry.projections:
                # an entry with projections holds {projection name: value} (Kyverno's projected store);
                # ``<entry>.<projection>`` names one of them
                projected = {}
                for j, proj in enumerate(entry.projections):
                    projected[proj.name] = self._search(proj.path, data,
                                                        f"globalContextEntries[{i}].projections[{j}].path") \
                        if proj.path else data
                    out[f"{entry.name}.{proj.name}"] = projected[proj.name]
                data = projected
            out[entry.name] = data
        return out

    def _search(self, expression: str, data: Any, field: str) -> Any:
        """A JMESPath search over a Test's own data; a failing one is an error naming the file and field."""
        try:
            return self.engine.jmespath.search(expression, data)
        except VernoError as exc:
            raise LoadError(self.path, f"{expression}: {exc}", field=field) from None

    def _check(self, result: TestResult, name: str, responses: list[PolicyResponse],
               policy_set: PolicySet) -> list[TestRow]:
        kind = result.kind
        label = f"{kind}/{name}" if kind else name
        expected = result.expected
        prepared = policy_set.find(result.policy)
        base = dict(test=self.path, policy=result.policy, rule=result.rule, resource=label, expected=expected,
                    expectation=self.expectation_of(result),
                    annotations=dict(prepared.policy.annotations) if prepared is not None else {})
        rows: list[TestRow] = []
        if prepared is not None and result.rule and not any(
                r.name in _rule_names(result.rule) for r in prepared.rules):
            return [TestRow(0, **base, result="Fail", reason="Rule not found",
                            message=f"policy {result.policy} has no rule {result.rule}", counted_as="fail")]
        checker = ResultChecker(result, self._p, _rule_names(result.rule), _is_mutate_existing, test=self.path)
        trigger_label = _row_label
        for response in responses:
            if response.policy.key != result.policy:
                continue
            # as Kyverno's lookupEngineResponses: a result names the kind of the resources it is about
            # (a mutateExisting result may instead be about its targets, whatever their kind)
            if kind and response.resource.get("kind") != kind and not any(
                    _is_mutate_existing(response.policy, r.name) for r in response.rules):
                continue
            outcomes, _ = checker.outcomes(response, name, _resource_matches)
            for o in outcomes:
                where = base["resource"] if (name and o.resource == trigger_label(response.resource)) else o.resource
                counted = ("skip" if expected == "skip" else "pass") if o.ok else "fail"
                origin = self._origin(response.resource, o.path) if o.resource == trigger_label(response.resource) \
                    else None
                rows.append(TestRow(0, **{**base, "resource": where}, result="Pass" if o.ok else "Fail",
                                    reason=o.reason, message=o.message, actual=o.actual, counted_as=counted,
                                    origin=origin))
            if not outcomes and not rows and name and _resource_matches(response.resource, name):
                rows.append(TestRow(0, **base, result="Pass", reason="Excluded", message="Excluded",
                                    actual="excluded", counted_as="skip"))
        if not rows:
            rows.append(TestRow(0, **base, result="Fail", reason="Not found", message="Not found",
                                counted_as="fail"))
        return rows


    def expectation_of(self, result: TestResult) -> tuple[int, int] | None:
        for i, r in enumerate(self.test.results):
            if r is result:
                return self.document, i
        return None

    def _origin(self, resource: dict[str, Any], path: str) -> tuple[str, int, str] | None:
        """(file, document, failing path) of a resource under test, found by kind, name and namespace."""
        meta = resource.get("metadata") or {}
        ns = meta.get("namespace") or ""
        for namespace, source, index in self._origins.get((resource.get("kind"), meta.get("name")), ()):
            if not namespace or namespace == ns:
                return source, index, path
        return None


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name)


def _find_kind_policy(policy_set: PolicySet, policy: str) -> bool:
    """Whether a result's ``policy`` names a policy of a plugin-registered kind (by its last ``/`` segment)."""
    name = policy.rsplit("/", 1)[-1]
    return any(p.name == name for p in policy_set.kind_policies)


def _is_mutate_existing(policy: Any, rule_name: str) -> bool:
    """Whether a rule (by its reported name) is a mutateExisting rule (its patched resources are targets)."""
    for rule in policy.spec.rules:
        if rule_name in _rule_names(rule.name):
            return rule.mutate is not None and bool(rule.mutate.targets)
    return False


def _rule_names(rule: str) -> set[str]:
    return {rule, f"autogen-{rule}", f"autogen-cronjob-{rule}"}


def _resource_matches(resource: dict[str, Any], name: str) -> bool:
    meta = resource.get("metadata") or {}
    rname = meta.get("name") or meta.get("generateName") or ""
    ns = meta.get("namespace") or ""
    return name == rname or name == (f"{ns}/{rname}" if ns else rname)
