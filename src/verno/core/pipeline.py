"""The rule pipeline every rule kind shares.

match -> exclude -> exceptions -> context checkpoint -> load context -> preconditions (skip) -> the
rule kind's handler (a plugin) -> restore. It runs per policy, per resource, per rule; everything that
can be computed from the policy alone was computed when the policy was prepared (see ``prepare.py``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from verno.core.conditions import check_conditions
from verno.core.context import Context
from verno.core.errors import VernoError
from verno.core.loaders.run import load_entries
from verno.core.models.conditions import normalize
from verno.core.request import Request
from verno.core.results import RULE_TYPES, RuleResponse, Status
from verno.core.sources import Sources
from verno.core.trace import Trace
from verno.core.variables import substitute_all
from verno.core.variables_builtin import images_of

if TYPE_CHECKING:  # pragma: no cover
    from verno.core.engine import Engine
    from verno.core.prepare import PreparedPolicy, PreparedRule


@dataclass(frozen=True)
class Gate:
    """Why evaluation stopped before a rule's (or an element's) checks: an error, or unmet preconditions."""

    status: Status  # ERROR or SKIP
    stage: str  # "context" or "preconditions"
    reason: str

    @property
    def message(self) -> str:
        """Kyverno's wording for the rule response."""
        if self.status == Status.SKIP:
            return "; ".join(x for x in ("preconditions not met", self.reason) if x)
        what = "load context" if self.stage == "context" else "evaluate preconditions"
        return f"failed to {what}: {self.reason}"


class RuleContext:
    """Everything a rule handler sees: the rule, the resource, the JSON context and engine services."""

    __slots__ = ("engine", "prepared", "rule", "policy", "request", "context", "sources", "foreach_depth",
                 "foreach_index", "pod_security_exception", "trace")

    def __init__(self, engine: Engine, prepared: PreparedPolicy, rule: PreparedRule, request: Request,
                 context: Context, sources: Sources):
        self.engine = engine
        self.prepared = prepared
        self.policy = prepared.policy
        self.rule = rule
        self.request = request
        self.context = context
        self.sources = sources
        self.foreach_depth = 0
        self.foreach_index = -1
        #: the matching PolicyException whose ``podSecurity`` entries a ``validate.podSecurity`` rule applies
        self.pod_security_exception: Any = None
        #: the rule's decision trace when one was asked for (``Engine.evaluate(explain=True)``), else None:
        #: handlers record their steps in it (``trace.add``) only when it is set
        self.trace: Trace | None = None

    @property
    def resource(self) -> dict[str, Any]:
        return self.request.resource

    @property
    def rule_type(self) -> str:
        return RULE_TYPES[self.rule.kind]

    # -- services --------------------------------------------------------------------------------------
    def query(self, expression: str) -> Any:
        """Evaluate a JMESPath expression against the JSON context (raises NotFoundError)."""
        return self.engine.jmespath.search(expression, self.context.data)

    def substitute(self, document: Any, *, lenient: bool = False, at_prefix: str = "request.object") -> Any:
        """Resolve ``{{ }}`` variables and ``$()`` references in ``document`` (a copy is returned).

        ``lenient`` resolves unknown variables to ``""`` (preconditions and conditions do this).
        """
        return substitute_all(document, self.query, lenient=lenient, at_prefix=at_prefix,
                              delete=self.request.operation == "DELETE")

    def check_conditions(self, conditions: Any, step: str = "condition") -> tuple[bool, str]:
        """Evaluate ``{any, all}`` (or a legacy list) conditions: (result, joined messages).

        ``step``: what the conditions are (``precondition``, ``deny``), as the trace records them."""
        if self.trace is None:
            return check_conditions(normalize(conditions), self)
        return check_conditions(normalize(conditions), self, self.trace, step)

    def load_context(self, entries: list[Any]) -> None:
        """Load ``context`` entries, in order, into the JSON context (raises ContextLoadError)."""
        if entries:
            load_entries(entries, self)

    def open_scope(self, context: list[Any], preconditions: Any, *,
                   foreach_values: dict[str, list[Any]] | None = None, index: int = -1) -> Gate | None:
        """Load ``context`` entries, then the Values ``foreachValues`` for element ``index``, then check
        ``preconditions`` (a rule, a foreach element, a mutateExisting target).

        None when evaluation goes on; otherwise the :class:`Gate` that stopped it (an error, or a skip).
        """
        if context:
            try:
                self.load_context(context)
            except VernoError as exc:
                if self.trace is not None:
                    self.trace.add("context", error=str(exc))
                return Gate(Status.ERROR, "context", str(exc))
        if foreach_values:
            for key, values in foreach_values.items():
                if 0 <= index < len(values):
                    self.context.add_variable(key, values[index])
        if preconditions is not None:
            try:
                ok, msg = self.check_conditions(preconditions, "precondition")
            except VernoError as exc:
                return Gate(Status.ERROR, "preconditions", str(exc))
            if not ok:
                return Gate(Status.SKIP, "preconditions", msg)
        return None

    # -- responses -------------------------------------------------------------------------------------
    def response(self, status: Status, message: str = "", **extra: Any) -> RuleResponse:
        rule = self.rule
        properties = rule.rule.report_properties
        return RuleResponse(rule.name, RULE_TYPES[rule.kind], status, message,
                            dict(properties) if properties else {}, **extra)


def run_rule(engine: Engine, prepared: PreparedPolicy, rule: PreparedRule, request: Request,
             context: Context, sources: Sources, exceptions: list[Any], trace: Trace | None = None) \
        -> list[RuleResponse]:
    """Run one rule that matched the resource (``rule.matcher.matches(request)``) through the pipeline.

    ``trace``: record the rule's decision (match, exceptions, preconditions, the handler's steps, the
    plugins' ``verno_trace_rule`` entries) and attach it to every response.
    """
    if trace is not None:
        return _traced_rule(engine, prepared, rule, request, context, sources, exceptions, trace)
    rc = RuleContext(engine, prepared, rule, request, context, sources)
    return _run(rc, engine, prepared, rule, request, context, sources, exceptions)


def _traced_rule(engine: Engine, prepared: PreparedPolicy, rule: PreparedRule, request: Request,
                 context: Context, sources: Sources, exceptions: list[Any], trace: Trace) -> list[RuleResponse]:
    from verno.core.explain import explain_match

    explain_match(rule, request, trace)
    rc = RuleContext(engine, prepared, rule, request, context, sources)
    rc.trace = trace
    responses = _run(rc, engine, prepared, rule, request, context, sources, exceptions)
    for rr in responses:
        if rr.exception:
            trace.add("exception", exception=rr.exception)
        engine.trace_rule(prepared.policy, rule, request, rr, trace)
        rr.trace = trace
    return responses


def _run(rc: RuleContext, engine: Engine, prepared: PreparedPolicy, rule: PreparedRule, request: Request,
         context: Context, sources: Sources, exceptions: list[Any]) -> list[RuleResponse]:
    spec = rule.rule
    context.checkpoint()
    try:
        if exceptions:
            hit = _exception_for(engine, prepared, rule, request, rc, exceptions)
            if hit is not None:
                return [rc.response(Status.SKIP, "rule is skipped due to policy exceptions", exception=hit)]
        if spec.image_extractors:
            images = images_of(request, spec.image_extractors, engine.jmespath.search)
            if images:
                context.set("images", images)
        if sources.values is not None:
            _inject_rule_values(rc)
        if spec.context or spec.preconditions is not None:
            gate = rc.open_scope(spec.context, spec.preconditions)
            if gate is not None:
                return [rc.response(gate.status, gate.message)]
        handler = engine.rule_handler(rule.hook)
        try:
            responses = handler(rc=rc)
        except VernoError as exc:
            return [rc.response(Status.ERROR, str(exc))]
        except Exception as exc:  # a plugin's bug is that rule's error, naming the plugin; the run goes on
            return [rc.response(Status.ERROR, str(engine.handler_failure(rule.hook, exc)))]
        if responses is None:
            return [rc.response(Status.ERROR, engine.missing_handler_message(rule.kind))]
        return responses
    finally:
        context.restore()


def _inject_rule_values(rc: RuleContext) -> None:
    values, _ = rc.sources.rule_values(rc.policy.name, rc.rule.base_name)
    for key, value in values.items():
        rc.context.add_variable(key, value)


def _exception_for(engine: Engine, prepared: PreparedPolicy, rule: PreparedRule, request: Request,
                   rc: RuleContext, exceptions: list[Any]) -> str | None:
    """The key of the first matching exception, which skips the rule.

    As Kyverno's PSS handler does, an exception with ``podSecurity`` entries does not skip a
    ``validate.podSecurity`` rule: it is handed to the rule (``rc.pod_security_exception``), whose
    failures its entries may forgive.
    """
    from verno.core.exceptions import exception_matches

    for exc in exceptions:
        if exc.applies_to(prepared.policy.key, rule.name) and exception_matches(exc, request, rc):
            if exc.spec.pod_security and rule.kind == "validate" and rule.rule.validate_ is not None \
                    and rule.rule.validate_.pod_security is not None:
                rc.pod_security_exception = exc
                return None
            return exc.key
    return None
