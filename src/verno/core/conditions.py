"""``{any, all}`` condition evaluation (K: ``pkg/engine/variables/evaluate.go``).

Keys and values are substituted as Kyverno resolves preconditions today: an unresolved variable is an
error (the rule reports ``error``; ``||`` gives a default), then handed to the operator registered under the condition's ``operator`` (case-insensitive).

* ``any`` stops at its first true condition, ``all`` at its first false one; both blocks are evaluated and
  the result is ``any and all``. An absent block counts as true; a present but empty ``any`` is false,
  as in Kyverno.
* The message is built from the ``message`` fields: when the result is false, those of the conditions
  that evaluated false (every ``any`` condition tried, then the failing ``all`` one); when true, those that
  evaluated true (a ``deny`` uses these). Empty messages are dropped; the rest are joined with ``"; "``.
* The legacy bare list is an ``all`` block whose messages are joined with ``";"``.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from verno.core.errors import ConditionError, PluginFailure, VernoError
from verno.core.models.conditions import AnyAllConditions, Condition
from verno.core.trace import Trace

#: the entry summing up a condition block, by the step its conditions are recorded as
SUMMARY_STEP = {"precondition": "preconditions", "deny": "deny conditions"}

if TYPE_CHECKING:  # pragma: no cover
    from verno.core.registry import Registry


def _join(messages: Iterable[str], sep: str) -> str:
    return sep.join(m for m in messages if m)


def unknown_operator_message(name: str, registry: Registry[Any]) -> str:
    return f"unknown operator {name}; supported: {', '.join(registry.names())}"


def _evaluate(cond: Condition, rc: Any, block: str = "", index: int = 0) -> tuple[bool, str]:
    return _operate(cond, rc, rc.substitute(cond.key), rc.substitute(cond.value))


def _operate(cond: Condition, rc: Any, key: Any, value: Any) -> tuple[bool, str]:
    registry = rc.engine.operators
    entry = registry.get(cond.operator) if isinstance(cond.operator, str) else None
    if entry is None:
        raise ConditionError(unknown_operator_message(str(cond.operator), registry))
    try:
        return bool(entry.value(key, value)), cond.message or ""
    except VernoError:
        raise
    except Exception as exc:  # a plugin's operator: the rule errors, naming the plugin
        raise PluginFailure(entry.plugin, f"operator {entry.name}", exc) from exc


def _recording(trace: Trace, step: str) -> Callable[..., tuple[bool, str]]:
    """``_evaluate`` that records each condition (its resolved key, operator and value, the result)."""

    def evaluate(cond: Condition, rc: Any, block: str = "", index: int = 0) -> tuple[bool, str]:
        key = rc.substitute(cond.key)
        value = rc.substitute(cond.value)
        try:
            ok, msg = _operate(cond, rc, key, value)
        except VernoError as exc:
            trace.add(step, block=block, index=index, key=key, operator=str(cond.operator), value=value,
                      error=str(exc))
            raise
        trace.add(step, block=block, index=index, key=key, operator=str(cond.operator), value=value, result=ok)
        return ok, msg

    return evaluate


def _legacy(conds: list[Condition], rc: Any, evaluate: Any) -> tuple[bool, str]:
    true_messages = []
    for i, cond in enumerate(conds):
        ok, msg = evaluate(cond, rc, "", i)
        if not ok:
            return False, msg
        true_messages.append(msg)
    return True, _join(true_messages, ";")


def check_conditions(conds: AnyAllConditions | list[Condition] | None, rc: Any, trace: Trace | None = None,
                     step: str = "condition") -> tuple[bool, str]:
    """Evaluate conditions against ``rc`` (a :class:`~verno.core.pipeline.RuleContext`).

    ``trace``: record each condition evaluated as a ``step`` entry, then which one decided.

    :return: (result, message) as described in the module docstring.
    :raises ConditionError: for an operator no plugin registered.
    """
    if conds is None:
        return True, ""
    if trace is not None:
        return _traced(conds, rc, trace, step)
    return _check(conds, rc, _evaluate)


def _traced(conds: AnyAllConditions | list[Condition], rc: Any, trace: Trace, step: str) -> tuple[bool, str]:
    start = len(trace.entries)
    ok, msg = _check(conds, rc, _recording(trace, step))
    decided = [e for e in trace.entries[start:] if e.get("step") == step and e.get("result") is not None]
    # what decided: an all-condition that was false, else an any-block with none true, else the true ones
    if not ok:
        false = [e for e in decided if e["result"] is False]
        culprit = next((e for e in false if e["block"] in ("all", "")), None)
        by = f"{culprit['block'] or 'conditions'}[{culprit['index']}]" if culprit else "any (none held)"
    else:
        held = [f"{e['block'] or 'conditions'}[{e['index']}]" for e in decided if e["result"] is True
                and e["block"] == "any"]
        by = held[0] if held else "all held"
    trace.add(SUMMARY_STEP.get(step, "conditions"), result=ok, decided_by=by)
    return ok, msg


def _check(conds: AnyAllConditions | list[Condition], rc: Any, evaluate: Any) -> tuple[bool, str]:
    if isinstance(conds, list):
        return _legacy(conds, rc, evaluate)
    any_ok = all_ok = True
    true_messages: list[str] = []
    false_messages: list[str] = []
    if conds.any is not None:
        any_ok = False
        for i, cond in enumerate(conds.any):
            ok, msg = evaluate(cond, rc, "any", i)
            if ok:
                any_ok = True
                true_messages.append(msg)
                break
            false_messages.append(msg)
    for i, cond in enumerate(conds.all or ()):
        ok, msg = evaluate(cond, rc, "all", i)
        if not ok:
            all_ok = False
            false_messages.append(msg)
            break
        true_messages.append(msg)
    if any_ok and all_ok:
        return True, _join(true_messages, "; ")
    return False, _join(false_messages, "; ")


def validate_operator_names(conds: AnyAllConditions | list[Condition] | None, registry: Registry[Any]) -> list[str]:
    """Load-time check: one message per condition whose operator is not registered.

    Messages name the condition's place, e.g. ``any[1]: unknown operator Foo; supported: ...``.
    """
    if conds is None:
        return []
    if isinstance(conds, list):
        blocks: list[tuple[str, list[Condition]]] = [("", conds)]
    else:
        blocks = [("any", conds.any or []), ("all", conds.all or [])]
    problems = []
    for block, items in blocks:
        for i, cond in enumerate(items):
            name = cond.operator
            if not isinstance(name, str) or name not in registry:
                problems.append(f"{block}[{i}]: {unknown_operator_message(str(name), registry)}")
    return problems
