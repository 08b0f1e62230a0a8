"""Every extension point of verno, in the order the engine uses them.

A plugin is any module or object with functions named like the hooks below and decorated with
:data:`hookimpl`. Built-in plugins are declared under the ``verno`` entry-point group in
``pyproject.toml`` exactly as a third-party package would declare its own.

There are three families of hooks:

* **Registry hooks** (``verno_register_*``) are called once when an :class:`~verno.core.engine.Engine` is
  built. Each receives a ``register`` callable; registering a name that another plugin already registered
  is a start-up error naming both plugins.
* **Rule hooks** (``verno_<kind>_rule``) are called by the rule pipeline for each rule that matched a
  resource, after its context was loaded and its preconditions passed. They are ``firstresult``: the
  first implementation that returns something other than ``None`` handles the rule. Built-in handlers are
  ``trylast`` so a third-party plugin can take a rule kind over.
* **Admission hooks** (``verno_admitted_object``) are called by the webhook through the
  :class:`~verno.core.engine.Engine` once the rules ran, so that it needs no rule-kind plugin itself.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import pluggy

if TYPE_CHECKING:  # pragma: no cover
    from verno.core.cel.library import Library
    from verno.core.models.policy import Policy
    from verno.core.pipeline import RuleContext
    from verno.core.prepare import PreparedRule
    from verno.core.request import Request
    from verno.core.results import PolicyResponse, RuleResponse
    from verno.core.trace import Trace

PROJECT = "verno"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

# ---------------------------------------------------------------------------------------------------------
# Registries: called once per Engine
# ---------------------------------------------------------------------------------------------------------


@hookspec
def verno_register_operators(register: Callable[..., None]) -> None:
    """Register condition operators (``Equals``, ``AnyIn``, ...).

    :param register: ``register(name, fn, *, deprecated_for=None)``. ``name`` is matched
        case-insensitively. ``fn(key, value) -> bool`` receives the substituted key and value of a
        condition and raises :class:`~verno.core.errors.ConditionError` for an invalid operand.
        ``deprecated_for`` names the operator to use instead; it is reported as a warning.
    """


@hookspec
def verno_register_jmespath_functions(register: Callable[..., None]) -> None:
    """Register custom JMESPath functions.

    :param register: ``register(name, fn, arg_types, *, description="", returns="any")``.
        ``fn(*args)`` is called with evaluated arguments; ``arg_types`` is a list with one entry per
        argument, each a list of JMESPath type names (``"string"``, ``"number"``, ``"boolean"``,
        ``"array"``, ``"object"``, ``"null"``, ``"expref"``, ``"any"``, ``"array-string"``,
        ``"array-number"``). A trailing entry ``{"variadic": True, "types": [...]}`` accepts any number
        of further arguments. Errors raised as :class:`~verno.core.errors.JMESPathError` become
        rule errors with their message.
    """


@hookspec
def verno_register_context_loaders(register: Callable[..., None]) -> None:
    """Register loaders for rule ``context`` entries (``variable``, ``configMap``, ``apiCall``, ...).

    :param register: ``register(key, loader)``. ``key`` is the entry field that selects the loader
        (``"apiCall"``). ``loader(entry, rc) -> Any`` receives the entry's field value (a dict, variables
        not yet substituted) and the :class:`~verno.core.pipeline.RuleContext`; it returns the value to
        store under the entry's ``name`` and raises
        :class:`~verno.core.errors.ContextLoadError` when it cannot. Data sources (Values files, mocked
        API responses, a cluster client) are reached through ``rc.sources``.
    """


@hookspec
def verno_register_predicate_checkers(register: Callable[..., None]) -> None:
    """Register attestation predicate checkers for verifyImages ``attestations``.

    :param register: ``register(predicate_type, checker)``. ``predicate_type`` is a URI or a wildcard
        pattern. ``checker(statement, attestation, rc) -> tuple[bool, str]`` returns whether the in-toto
        statement satisfies the attestation entry, and a message saying why not.
    """


@hookspec
def verno_register_output_formats(register: Callable[..., None]) -> None:
    """Register output formats for ``verno test -o`` and ``verno apply --output-format``.

    :param register: ``register(name, formatter, *, command)``. ``command`` is ``"test"`` or
        ``"apply"``. For ``test``, ``formatter(rows, summary) -> str`` receives the result rows
        (:class:`verno.cli.testing.TestRow`) and the summary counts; for ``apply``,
        ``formatter(report) -> str`` receives the PolicyReport as a dict.
    """


@hookspec
def verno_register_policy_kinds(register: Callable[..., None]) -> None:
    """Register policy kinds other than ``kyverno.io/v1`` ClusterPolicy/Policy (CEL kinds, admission policies).

    :param register: ``register(kind)`` with a :class:`verno.core.policykinds.PolicyKind`: the API group and
        ``Kind`` names it loads, the stage it runs at for each resource (:data:`verno.core.policykinds.STAGES`),
        its document loader (returning a :class:`verno.core.policykinds.KindPolicy`, which evaluates itself)
        and the companion documents (bindings, exceptions) it reads. A kind registered by two plugins is a
        start-up error naming both.
    """


@hookspec(firstresult=True)
def verno_migrate_rule(policy: Policy, rule: Any) -> Any:
    """``verno migrate``: write one ClusterPolicy/Policy rule as a CEL policy.

    Return a :class:`verno.core.migration.model.RuleMigration` (the CEL kind, its spec fields besides
    matching, and match conditions the rule needs), ``None`` for a rule this plugin does not translate, or
    raise :class:`verno.core.migration.expressions.Untranslatable` saying why the rule has no faithful
    translation. The first result wins; the built-in translations are ``trylast``.
    """


@hookspec
def verno_register_cel_libraries(register: Callable[[Library], None]) -> None:
    """Register CEL function libraries for the CEL policy kinds.

    :param register: ``register(library)`` with a :class:`verno.core.cel.Library` (a name such as
        ``acme.tenancy`` and its functions: ``library.fn(name, param_types, result_type, impl,
        member=False)``, CEL type names like ``string``, ``list(string)``, ``map(string, dyn)``, ``dyn``).
        An implementation raises :class:`verno.core.cel.FunctionError` for a CEL error. A kind's
        environment loads the libraries its :class:`verno.core.cel.EnvironmentSpec` lists
        (``Engine.cel_environment(kind)``); registering a library name or an overload id that another
        plugin registered is a start-up error naming both. The built-in libraries (Kubernetes' and
        Kyverno's) come from the ``verno.core.cel.libs`` plugin.
    """


# ---------------------------------------------------------------------------------------------------------
# Policy load: called once per rule when a policy is prepared
# ---------------------------------------------------------------------------------------------------------


@hookspec
def verno_prepare_rule(policy: Policy, rule: PreparedRule) -> None:
    """Compile what a rule needs once, when its policy is loaded (``Engine.prepare``), never per resource.

    Every implementation is called for every rule (autogen rules included). One that owns the rule's kind
    stores what it compiled in ``rule.compiled`` under a key of its own and raises a
    :class:`~verno.core.errors.VernoError` naming the policy, the rule and the field for a rule that cannot
    be compiled: the policy is then not loaded. Any other exception is a failure of the plugin.

    :param policy: the policy as written.
    :param rule: the prepared rule (``rule.rule`` is the typed rule, ``rule.name`` its result name).
    """


# ---------------------------------------------------------------------------------------------------------
# Rule kinds: called per matching rule, firstresult
# ---------------------------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def verno_validate_rule(rc: RuleContext) -> list[RuleResponse] | None:
    """Evaluate a ``validate`` rule against ``rc.resource``.

    Called after match, exceptions, context loading and preconditions.

    :param rc: the rule's context: ``rc.rule`` (the typed rule), ``rc.resource``, ``rc.context``
        (the JSON context variables are queried from) and the engine services (``rc.query``,
        ``rc.substitute``, ``rc.check_conditions``, ``rc.load_context``).
    :return: the rule's responses (usually one), or ``None`` to let another plugin handle it.
    """


@hookspec(firstresult=True)
def verno_mutate_rule(rc: RuleContext) -> list[RuleResponse] | None:
    """Apply a ``mutate`` rule to ``rc.resource``.

    :return: responses; a passing response carries ``patched_resource``, which the pipeline hands to
        every later rule. ``None`` lets another plugin handle it.
    """


@hookspec(firstresult=True)
def verno_generate_rule(rc: RuleContext) -> list[RuleResponse] | None:
    """Compute the resources a ``generate`` rule creates for the trigger ``rc.resource``.

    :return: responses; a passing response carries ``generated_resources``. ``None`` lets another
        plugin handle it.
    """


@hookspec(firstresult=True)
def verno_verify_images(rc: RuleContext) -> list[RuleResponse] | None:
    """Verify the images of ``rc.resource`` against a ``verifyImages`` rule.

    :return: responses; a passing response may carry ``patched_resource`` (digest pinning). ``None``
        lets another plugin handle it.
    """


# ---------------------------------------------------------------------------------------------------------
# Explanations: called only when a decision trace was asked for
# ---------------------------------------------------------------------------------------------------------


@hookspec
def verno_trace_rule(policy: Any, rule: Any, request: Request, response: RuleResponse, trace: Trace) -> None:
    """Add entries to a rule's decision trace (``verno apply --explain``, ``verno serve --explain-denials``).

    Called once per rule response, after the rule ran, and only when a trace was asked for: a plain
    evaluation never calls it. Entries are added with ``trace.add(step, **fields)`` (``step`` names what
    decided, e.g. ``"acme.quota"``; values are kept as bounded copies, and a rule keeps at most
    :data:`verno.core.trace.MAX_ENTRIES` entries). Never change ``response``: a trace explains a verdict.

    :param policy: the policy: a ``kyverno.io`` Policy/ClusterPolicy model, or a
        :class:`verno.core.policykinds.KindPolicy` (ValidatingPolicy, ValidatingAdmissionPolicy ...).
    :param rule: the :class:`~verno.core.prepare.PreparedRule` (None for a policy of another kind).
    :param request: the admission request the rule saw.
    :param response: the rule's response (status, message, properties).
    :param trace: the rule's :class:`verno.core.trace.Trace`; ``trace.entries`` holds what was recorded.
    :return: nothing. An exception leaves the verdict as it is and becomes an ``error`` entry naming the
        plugin.
    """


# ---------------------------------------------------------------------------------------------------------
# Admission: called by the webhook through the Engine
# ---------------------------------------------------------------------------------------------------------


@hookspec
def verno_admitted_object(request: Request, responses: list[PolicyResponse],
                          resource: dict[str, Any]) -> dict[str, Any] | None:
    """Complete the object the mutating webhook admits, once every rule ran (``Engine.admitted_object``).

    The engine hands each passing mutation on to the next rule; a rule kind that also records something on
    the object for rules that did not pass merges it here. verifyImages records every image's verdict in
    the ``kyverno.io/verify-images`` annotation, which the validating webhook reads back.

    Implementations are called in turn, each receiving the previous one's result.

    :param request: the admission request; ``request.resource`` is the object as submitted.
    :param responses: every policy's responses for the request.
    :param resource: the object after every chained mutation (the submitted one when none changed it);
        never modify it.
    :return: a new object, or ``None`` to leave ``resource`` as it is.
    """


#: Rule kind -> the hook that handles it and the plugin a user installs to get one.
RULE_HOOKS: dict[str, str] = {
    "validate": "verno_validate_rule",
    "mutate": "verno_mutate_rule",
    "generate": "verno_generate_rule",
    "verifyImages": "verno_verify_images",
}
