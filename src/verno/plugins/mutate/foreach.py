"""mutate ``foreach`` (K: ``pkg/engine/handlers/mutation/common.go``, ``forEachMutator``).

Each entry evaluates its ``list``, then for each element (reversed for ``order: Descending``, the
element keeping its original ``elementIndex``): the element variables, the entry's ``context`` and
``preconditions``, then the entry's patch or nested ``foreach``, applied to the result of the previous
element. After each entry the mutated object becomes ``request.object`` (or ``target``) for the next.
An error ends the rule; when nothing changed, the rule is skipped ("no patches applied").
"""
from __future__ import annotations

from typing import Any

from verno.core.errors import VernoError
from verno.core.foreach import evaluate_list
from verno.core.results import Status
from verno.plugins.mutate.rule import Outcome, apply_patches


def mutate_foreach(rc: Any, entries: list[Any], resource: dict[str, Any], at_prefix: str) -> Outcome:
    applied = 0
    for entry in entries:
        try:
            elements = evaluate_list(rc, entry.list_)
        except VernoError as exc:
            return Outcome(Status.ERROR, resource,
                           f"mutate rule {rc.rule.name}: failed to evaluate list {entry.list_}: {exc}")
        outcome = _elements(rc, entry, elements, resource, at_prefix)
        if outcome.status == Status.ERROR:
            return outcome
        if outcome.status != Status.SKIP:
            applied += 1
            resource = outcome.resource
            _set_object(rc, resource, at_prefix)
    if not applied:
        return Outcome(Status.SKIP, resource, "no patches applied")
    return Outcome(Status.PASS, resource, f"{applied} elements processed")


def _set_object(rc: Any, resource: dict[str, Any], at_prefix: str) -> None:
    if at_prefix == "target":
        rc.context.set("target", resource)
    else:
        rc.context.add_variable("request.object", resource)


def _elements(rc: Any, entry: Any, elements: list[Any], resource: dict[str, Any], at_prefix: str) -> Outcome:
    depth = rc.foreach_depth
    _, foreach_values = rc.sources.rule_values(rc.policy.name, rc.rule.base_name)
    order = list(enumerate(elements))
    if entry.order == "Descending":
        order.reverse()
    patched = resource
    changed = False
    for index, element in order:
        if element is None:
            continue
        rc.context.checkpoint()
        saved = rc.foreach_depth, rc.foreach_index
        try:
            rc.context.add_element(element, index, depth)
            rc.foreach_depth, rc.foreach_index = depth + 1, index
            outcome = _element(rc, entry, index, foreach_values, patched, at_prefix)
        finally:
            rc.foreach_depth, rc.foreach_index = saved
            rc.context.restore()
        if outcome is None:
            continue
        if outcome.status == Status.ERROR:
            return outcome
        if outcome.status == Status.PASS:
            patched = outcome.resource
            changed = True
    return Outcome(Status.PASS if changed else Status.SKIP, patched, "" if changed else "no patches applied")


def _element(rc: Any, entry: Any, index: int, foreach_values: dict[str, list[Any]], resource: dict[str, Any],
             at_prefix: str) -> Outcome | None:
    gate = rc.open_scope(entry.context, entry.preconditions, foreach_values=foreach_values, index=index)
    if gate is not None:
        if gate.status == Status.SKIP:
            return None
        what = "load to" if gate.stage == "context" else "evaluate"
        return Outcome(Status.ERROR, resource,
                       f"mutate rule {rc.rule.name}: failed to {what} mutate.foreach[{index}].{gate.stage}: {gate.reason}")
    if entry.foreach is not None:
        return mutate_foreach(rc, entry.foreach, resource, at_prefix)
    return apply_patches(rc, entry, resource, at_prefix)
