"""validate ``foreach``: each element of a list, with its own context, preconditions and checks."""
from __future__ import annotations

from typing import Any

from verno.core.errors import VernoError
from verno.core.foreach import evaluate_list
from verno.core.results import RuleResponse, Status


def validate_foreach(rc: Any, entries: list[Any]) -> RuleResponse | None:
    """Kyverno's validateForEach: the first non-passing entry decides; no element applied -> skip."""
    applied = 0
    for position, entry in enumerate(entries):
        try:
            elements = evaluate_list(rc, entry.list_)
        except VernoError as exc:
            if rc.trace is not None:
                rc.trace.add("foreach", foreach=position, list=entry.list_, error=str(exc))
            continue  # an unresolvable list (e.g. an unknown key) contributes nothing
        if rc.trace is not None:
            rc.trace.add("foreach", foreach=position, list=entry.list_, elements=len(elements))
            saved = rc.trace.enter(f"foreach[{position}]")
            try:
                response, count = _elements(rc, entry, elements)
            finally:
                rc.trace.leave(saved)
        else:
            response, count = _elements(rc, entry, elements)
        if response.status != Status.PASS:
            return response
        applied += count
    if applied == 0:
        return rc.response(Status.SKIP, "rule skipped")
    return rc.response(Status.PASS, "rule passed")


def _elements(rc: Any, entry: Any, elements: list[Any]) -> tuple[RuleResponse, int]:
    from verno.plugins.validate.rule import Level, evaluate

    depth = rc.foreach_depth
    applied = 0
    _, foreach_values = rc.sources.rule_values(rc.policy.name, rc.rule.base_name)
    last = len(elements) - 1
    for index, element in enumerate(elements):
        if element is None:
            continue
        scoped = isinstance(element, dict)
        if entry.element_scope is not None:
            if entry.element_scope and not scoped:
                return rc.response(Status.ERROR, "failed to process foreach: cannot use elementScope=true foreach "
                                                 f"rules for elements that are not maps, got {type(element).__name__}"), applied
            scoped = entry.element_scope
        rc.context.checkpoint()
        saved_depth, saved_index = rc.foreach_depth, rc.foreach_index
        try:
            rc.context.add_element(element, index, depth)
            rc.foreach_depth, rc.foreach_index = depth + 1, index
            if rc.trace is not None:
                response = _traced_element(rc, entry, element if scoped else None, foreach_values, index, Level,
                                           evaluate)
            else:
                response = _element(rc, entry, element if scoped else None, foreach_values, index, Level, evaluate)
        finally:
            rc.foreach_depth, rc.foreach_index = saved_depth, saved_index
            rc.context.restore()
        if response is None or response.status == Status.SKIP:
            continue
        if response.status == Status.ERROR:
            if index < last:
                continue  # as Kyverno: an error on an element other than the last is passed over
            return rc.response(Status.ERROR, f"validation failure: {response.message}"), applied
        if response.status != Status.PASS:
            return rc.response(Status.FAIL, f"validation failure: {response.message}", path=response.path), applied
        applied += 1
    return rc.response(Status.PASS, ""), applied


def _traced_element(rc: Any, entry: Any, scope: Any, foreach_values: dict[str, list[Any]], index: int,
                    Level: Any, evaluate: Any) -> RuleResponse | None:
    """One element, its steps recorded under ``element[<index>]``, then its verdict."""
    saved = rc.trace.enter(f"element[{index}]")
    try:
        response = _element(rc, entry, scope, foreach_values, index, Level, evaluate)
    finally:
        rc.trace.leave(saved)
    rc.trace.add("element", index=index, result=str(response.status) if response is not None else "skip")
    return response


def _element(rc: Any, entry: Any, scope: Any, foreach_values: dict[str, list[Any]], index: int,
             Level: Any, evaluate: Any) -> RuleResponse | None:
    if entry.context or entry.preconditions is not None or foreach_values:
        gate = rc.open_scope(entry.context, entry.preconditions, foreach_values=foreach_values, index=index)
        if gate is not None:
            return rc.response(gate.status, gate.message)
    return evaluate(rc, Level(entry, scope))
