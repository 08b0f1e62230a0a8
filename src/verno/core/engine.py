"""The Engine: owns the plugin manager and the registries, prepares policies, evaluates resources."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from verno.core.cel.environment import Environment, environment_for
from verno.core.cel.library import LibraryRegistry
from verno.core.context import Context
from verno.core.errors import PluginError, PluginFailure, VernoError
from verno.core.hookspecs import RULE_HOOKS
from verno.core.jmespath import JMESPath
from verno.core.pipeline import run_rule
from verno.core.plugins import build_plugin_manager, call_registry_hook, handlers_of, plugin_name
from verno.core.policykinds import STAGES, KindInputs, KindPolicy, PolicyKindRegistry
from verno.core.prepare import PreparedPolicy, PreparedRule, prepare_policy
from verno.core.registry import CommandRegistry, Registry
from verno.core.request import Request
from verno.core.results import PolicyResponse, Status
from verno.core.sources import Sources
from verno.core.trace import Trace
from verno.core.variables_builtin import base_context

_MISSING = object()

#: The order rule kinds run in for one resource (Kyverno's CLI and admission order).
PHASES = ("mutate", "verifyImages", "validate", "generate")

#: The rule kind each rule hook handles.
RULE_KIND_OF_HOOK = {hook: kind for kind, hook in RULE_HOOKS.items()}

#: The plugin to install for a rule kind that has no handler.
HANDLER_PACKAGES = {
    "validate": "verno.plugins.validate",
    "mutate": "verno.plugins.mutate",
    "generate": "verno.plugins.generate",
    "verifyImages": "verno.plugins.verifyimages",
}


class Engine:
    """One configured engine. Build one per process (or per test); there is no global state."""

    def __init__(self, plugins: Iterable[Any] = (), *, load_entrypoints: bool = True,
                 disabled: Iterable[str] | None = None):
        self.pm = build_plugin_manager(plugins, load_entrypoints=load_entrypoints, disabled=disabled)
        self.operators: Registry = Registry("condition operator", case_insensitive=True)
        self.functions: Registry = Registry("JMESPath function")
        self.loaders: Registry = Registry("context loader")
        self.predicate_checkers: Registry = Registry("attestation predicate checker")
        self.output_formats: CommandRegistry = CommandRegistry("output format")
        self.cel_libraries = LibraryRegistry()
        call_registry_hook(self.pm, "verno_register_operators", self.operators)
        call_registry_hook(self.pm, "verno_register_jmespath_functions", self.functions)
        call_registry_hook(self.pm, "verno_register_context_loaders", self.loaders)
        call_registry_hook(self.pm, "verno_register_predicate_checkers", self.predicate_checkers)
        call_registry_hook(self.pm, "verno_register_output_formats", self.output_formats)
        self.policy_kinds = PolicyKindRegistry()
        for impl in self.pm.hook.verno_register_policy_kinds.get_hookimpls():
            impl.function(self.policy_kinds.registrar(plugin_name(self.pm, impl.plugin)))
        call_registry_hook(self.pm, "verno_register_cel_libraries", self.cel_libraries)
        self.jmespath = JMESPath(self.functions)
        self._rule_handlers: dict[str, Any] = {}
        self._handler_owners: dict[str, str] = {}
        self._plans: dict[tuple[Any, ...], list[_Step]] = {}
        #: the policy-kind entry with a ``finish`` step of each (apiVersion, kind) met, or None
        self._finishing: dict[tuple[str, str], Any] = {}
        self._cel_environments: dict[str, Environment] = {}
        self._trace_impls: tuple[Any, ...] | None = None

    # -- plugins ---------------------------------------------------------------------------------------
    def handlers(self, kind: str) -> list[str]:
        return handlers_of(self.pm, RULE_HOOKS[kind])

    def rule_handler(self, hook_name: str) -> Any:
        """A callable ``handler(rc=...)`` for a rule hook, with pluggy's firstresult outcome.

        With a single implementation and no wrappers, that implementation is called directly (without
        the hook-call machinery on every rule evaluation); with several, they are called in pluggy's
        order. An implementation that raises anything but a :class:`VernoError` is reported as a
        :class:`PluginFailure` naming its plugin (see :meth:`handler_failure`).
        """
        handler = self._rule_handlers.get(hook_name)
        if handler is None:
            caller = getattr(self.pm.hook, hook_name)
            impls = caller.get_hookimpls()
            what = f"{RULE_KIND_OF_HOOK.get(hook_name, hook_name)} rule handler"
            if len(impls) == 1 and not impls[0].hookwrapper and not impls[0].wrapper:
                handler = impls[0].function
                self._handler_owners[hook_name] = impls[0].plugin_name
            elif any(i.hookwrapper or i.wrapper for i in impls):
                handler = caller  # pluggy runs the wrappers; a failure names every implementing plugin
                self._handler_owners[hook_name] = ", ".join(sorted({i.plugin_name for i in impls}))
            else:
                handler = first_result([(i.function, i.plugin_name) for i in reversed(impls)], what)
            self._rule_handlers[hook_name] = handler
        return handler

    def handler_failure(self, hook_name: str, exc: Exception) -> PluginFailure:
        """What a rule handler's unexpected exception means: a failure of the plugin that raised it."""
        if isinstance(exc, PluginFailure):
            return exc
        owner = self._handler_owners.get(hook_name, "unknown")
        return PluginFailure(owner, f"{RULE_KIND_OF_HOOK.get(hook_name, hook_name)} rule handler", exc)

    def missing_handler_message(self, kind: str) -> str:
        return (f"no plugin handles {kind} rules: install or enable the plugin providing hook "
                f"{RULE_HOOKS[kind]} (the built-in one is {HANDLER_PACKAGES[kind]}; check VERNO_DISABLE_PLUGINS)")

    def require_handlers(self, policies: Iterable[PreparedPolicy]) -> None:
        """Fail at start-up, naming the fix, when a loaded rule kind has no handler."""
        for prepared in policies:
            for kind in prepared.kinds:
                if not self.handlers(kind):
                    raise PluginError(f"policy {prepared.name}: {self.missing_handler_message(kind)}")

    def loaded_plugins(self) -> list[tuple[str, Any]]:
        """(name, plugin) of every registered plugin (blocked names are left out)."""
        return [(n, p) for n, p in self.pm.list_name_plugin() if p is not None]

    def plugin_summary(self) -> list[dict[str, Any]]:
        """Each loaded plugin with the hooks it implements and what it registered."""
        out = []
        for name, plugin in sorted(self.loaded_plugins(), key=lambda x: str(x[0])):
            hooks = sorted(h.name for h in self.pm.get_hookcallers(plugin) or [])
            out.append({
                "name": name,
                "module": getattr(plugin, "__name__", type(plugin).__name__),
                "hooks": hooks,
                "operators": self.operators.by_plugin(name),
                "functions": self.functions.by_plugin(name),
                "context_loaders": self.loaders.by_plugin(name),
                "predicate_checkers": self.predicate_checkers.by_plugin(name),
                "output_formats": self.output_formats.by_plugin(name),
                "policy_kinds": self.policy_kinds.by_plugin(name),
                "cel_libraries": self.cel_libraries.by_plugin(name),
            })
        return out

    # -- CEL -------------------------------------------------------------------------------------------
    def cel_environment(self, kind: str) -> Environment:
        """The CEL environment of a policy kind (``ValidatingPolicy``, ``NamespacedValidatingPolicy``,
        ``ValidatingAdmissionPolicy`` ...) over the libraries the plugins registered; one per kind, so
        its compile cache is shared by every policy of that kind. A library the kind lists that no plugin
        registered is left out (its functions are then unknown to the checker)."""
        env = self._cel_environments.get(kind)
        if env is None:
            env = self._cel_environments.setdefault(kind, environment_for(kind, self.cel_libraries))
        return env

    # -- policies --------------------------------------------------------------------------------------
    def prepare(self, policy: Any, source: str = "") -> PreparedPolicy:
        from verno.core.checks import check_policy

        prepared = prepare_policy(policy, source)
        check_policy(prepared, self)
        hook = self.pm.hook.verno_prepare_rule
        impls = [(i.function, i.plugin_name) for i in reversed(hook.get_hookimpls())]
        for rule in prepared.rules if impls else ():
            for function, plugin in impls:
                try:
                    function(policy=policy, rule=rule)
                except VernoError:
                    raise
                except Exception as exc:
                    what = f"rule preparation (policy {prepared.name}, rule {rule.name})"
                    raise PluginFailure(plugin, what, exc) from exc
        return prepared

    # -- explanations ----------------------------------------------------------------------------------
    def trace_rule(self, policy: Any, rule: Any, request: Request, response: Any, trace: Trace) -> None:
        """Let every ``verno_trace_rule`` implementation add entries to a rule's trace (explaining only).

        An implementation that raises leaves the verdict as it is: its failure, naming the plugin, is an
        ``error`` entry of the trace."""
        impls = self._trace_impls
        if impls is None:
            impls = self._trace_impls = tuple(reversed(self.pm.hook.verno_trace_rule.get_hookimpls()))
        for impl in impls:
            try:
                impl.function(policy=policy, rule=rule, request=request, response=response, trace=trace)
            except Exception as exc:  # noqa: BLE001 - a plugin's bug must not change the verdict it explains
                failure = exc if isinstance(exc, VernoError) else PluginFailure(impl.plugin_name, "trace hook", exc)
                trace.add("error", plugin=impl.plugin_name, error=str(failure))

    # -- admission -------------------------------------------------------------------------------------
    def admitted_object(self, request: Request, responses: list[PolicyResponse],
                        resource: dict[str, Any]) -> dict[str, Any]:
        """The object the mutating webhook admits: ``resource`` (the object after every chained mutation)
        completed by each ``verno_admitted_object`` implementation in turn.

        An implementation that raises anything but a :class:`VernoError` is a :class:`PluginFailure`
        naming its plugin.
        """
        for impl in reversed(self.pm.hook.verno_admitted_object.get_hookimpls()):
            try:
                out = impl.function(request=request, responses=responses, resource=resource)
            except VernoError:
                raise
            except Exception as exc:
                raise PluginFailure(impl.plugin_name, "admitted-object hook", exc) from exc
            if out is not None:
                resource = out
        return resource

    # -- evaluation ------------------------------------------------------------------------------------
    def evaluate(self, policies: list[PreparedPolicy], request: Request, *, sources: Any = None,
                 exceptions: Iterable[Any] = (), phases: Iterable[str] = PHASES,
                 explain: bool = False) -> list[PolicyResponse]:
        """Evaluate one resource against every policy: mutate, then verifyImages, validate, generate.

        ``phases`` limits the rule kinds run (the webhook's /mutate runs ``("mutate", "verifyImages")``),
        always in this order. Each mutation is applied to the resource before the next rule runs, so later rules (and
        validate rules) see the mutated object. ``explain``: every rule response carries its decision trace
        (``RuleResponse.trace``); without it no trace is built at all.
        """
        sources = sources if sources is not None else Sources()
        exceptions = list(exceptions)
        subject = request.resource or request.old_resource or {}
        responses = [PolicyResponse(p.policy, subject, operation=request.operation,
                                    namespace_labels=request.namespace_labels) for p in policies]
        plain = not request.subresource and request.request_kind is None
        for step in self._plan(policies, request.kind if plain else None, phases):
            prepared = step.prepared
            if step.namespace and step.namespace != request.namespace:
                continue  # a namespaced Policy only applies to resources in its own namespace
            response = responses[step.position]
            context: Context | None = None
            applied = False
            for rule in step.rules:
                if applied and step.apply_one:
                    break
                if not rule.matcher.matches(request):
                    continue
                if context is None:
                    context = base_context(request, sources, prepared.policy.name,
                                           with_images=prepared.uses_images)
                for rr in run_rule(self, prepared, rule, request, context, sources, exceptions,
                                   Trace() if explain else None):
                    response.rules.append(rr)
                    if rr.status == Status.PASS or rr.status == Status.FAIL:
                        applied = True
                        # a mutateExisting rule patches its targets; the trigger itself stays as it is
                        if rr.patched_resource is not None and rr.status == Status.PASS and rule.chains:
                            request = request.with_resource(rr.patched_resource)
                            context.data["request"] = request.request_variable()
                            response.patched_resource = rr.patched_resource
        for r in responses:
            if r.patched_resource is None:
                r.patched_resource = request.resource or subject
        return responses

    def evaluate_kinds(self, policies: Iterable[KindPolicy], request: Request, inputs: KindInputs, *,
                       payload: bool | str = False) -> list[PolicyResponse]:
        """Evaluate one resource against policies of plugin-registered kinds, stage by stage in Kyverno's order.
        ``payload``: the resource is a payload of that kind (:func:`~verno.core.policykinds.payload_kind`).

        A response carrying a ``patched_resource`` that differs from the resource (a mutating kind) hands
        the patched object to every later policy. A policy that does not apply gives no response. A policy
        whose ``evaluate`` raises anything but a :class:`VernoError` is a :class:`PluginFailure` naming the
        plugin that registered its kind.
        """
        from verno.core.cel.cluster_data import ClusterCelData
        from verno.core.cel.datasources import bound

        if inputs.engine is None:
            inputs.engine = self
        # what the CEL data libraries read: the run's (a Test's context, the cluster), else nothing reachable
        if inputs.sources.cel_data is None:  # made once per run, not per resource
            inputs.sources.cel_data = ClusterCelData(egress=inputs.sources.egress,
                                                     egress_timeout=inputs.sources.egress_timeout)
        data = inputs.sources.cel_data
        out: list[PolicyResponse] = []
        with bound(data):  # rebound for a namespaced policy, whose data functions read its namespace only
            for policy in self._kind_plan(policies):
                try:
                    if policy.namespace:
                        with bound(data, namespace=policy.namespace):
                            response = policy.evaluate(request, inputs, payload=payload)
                    else:
                        response = policy.evaluate(request, inputs, payload=payload)
                except VernoError:
                    raise
                except Exception as exc:
                    entry = self.policy_kinds.kinds.get(f"{policy.api_version.split('/')[0]}/{policy.kind}")
                    raise PluginFailure(entry.plugin if entry else "unknown", f"{policy.kind} evaluation",
                                        exc) from exc
                if response is None:
                    continue
                out.append(response)
                patched = response.patched_resource
                if patched is not None and patched is not request.resource and patched != request.resource:
                    request = request.with_resource(patched)
        self._finish_kinds(request, out)
        return out

    def _finish_kinds(self, request: Request, responses: list[PolicyResponse]) -> None:
        """Each kind's ``finish`` with its responses, once every policy of the evaluation ran."""
        by_kind: dict[int, tuple[Any, list[PolicyResponse]]] = {}  # one PolicyKind may hold several kinds
        finishing = self._finishing
        for response in responses:
            policy = response.policy
            key = (policy.api_version, policy.kind)
            entry = finishing.get(key, _MISSING)
            if entry is _MISSING:
                entry = self.policy_kinds.kinds.get(f"{policy.api_version.split('/')[0]}/{policy.kind}")
                if entry is not None and entry.value.finish is None:
                    entry = None
                if len(finishing) >= 256:
                    finishing.clear()
                finishing[key] = entry
            if entry is not None:
                by_kind.setdefault(id(entry.value), (entry, []))[1].append(response)
        for entry, mine in by_kind.values():
            try:
                entry.value.finish(request, mine)
            except VernoError:
                raise
            except Exception as exc:
                raise PluginFailure(entry.plugin, "policy kind finish", exc) from exc

    def _kind_plan(self, policies: Iterable[KindPolicy]) -> tuple[KindPolicy, ...]:
        """The policies in Kyverno's stage order (stable within a stage), computed once per policy list.

        A plan holds its policies, so the ids in its key cannot be reused while it is cached."""
        policies = policies if isinstance(policies, (list, tuple)) else list(policies)
        key = ("kinds", tuple(map(id, policies)))
        plan = self._plans.get(key)
        if plan is None:
            order = {stage: i for i, stage in enumerate(STAGES)}
            plan = tuple(sorted(policies, key=lambda p: order[self.stage_of(p)]))
            if len(self._plans) >= 256:
                self._plans.clear()
            self._plans[key] = plan  # type: ignore[assignment]
        return plan  # type: ignore[return-value]

    def stage_of(self, policy: KindPolicy) -> str:
        """The stage (:data:`~verno.core.policykinds.STAGES`) at which a kind policy runs."""
        kind = self.policy_kinds.kind_of(policy.api_version.split("/")[0], policy.kind)
        if kind is None:
            raise PluginError(f"policy {policy.key}: no plugin runs {policy.kind} ({policy.api_version})")
        return kind.stage

    def _plan(self, policies: list[PreparedPolicy], kind: str | None, phases: Iterable[str]) -> list[_Step]:
        """The (phase, policy, rules) steps for a resource of ``kind`` (None: a subresource or a request kind
        that differs from the object's, where every rule of a phase is a candidate), computed once.

        A plan holds its policies, so the ids in its key cannot be reused while it is cached.
        """
        wanted = phases if isinstance(phases, tuple) else tuple(phases)
        key = (tuple(map(id, policies)), kind, wanted)
        plan = self._plans.get(key)
        if plan is None:
            plan = []
            for phase in PHASES:
                if phase not in wanted:
                    continue
                for position, prepared in enumerate(policies):
                    rules = prepared.candidates(phase, kind) if kind is not None else prepared.by_kind.get(phase)
                    if rules:
                        plan.append(_Step(position, prepared, tuple(rules), prepared.policy.spec.apply_rules == "One",
                                          prepared.policy.namespace))
            if len(self._plans) >= 256:
                self._plans.clear()
            self._plans[key] = plan
        return plan


def first_result(impls: list[tuple[Any, str]], what: str) -> Any:
    """pluggy's firstresult call over ``(function, plugin name)`` pairs, naming the plugin that raises."""

    def handler(rc: Any) -> Any:
        for function, plugin in impls:
            try:
                result = function(rc=rc)
            except VernoError:
                raise
            except Exception as exc:
                raise PluginFailure(plugin, what, exc) from exc
            if result is not None:
                return result
        return None

    return handler


@dataclass(frozen=True)
class _Step:
    """Run ``rules`` (one phase's candidates) of the policy at ``position``."""

    position: int
    prepared: PreparedPolicy
    rules: tuple[PreparedRule, ...]
    apply_one: bool
    #: a namespaced Policy's namespace ("" for a ClusterPolicy)
    namespace: str
