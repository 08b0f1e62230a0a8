"""generate ``foreach``: each element of a list, with its own context and preconditions, generates."""
from __future__ import annotations

from typing import Any

from verno.core.errors import VernoError
from verno.core.foreach import evaluate_list
from verno.plugins.generate.pattern import GenerateError, generate_pattern


def generate_foreach(rc: Any, entries: list[Any]) -> tuple[list[dict[str, Any]], list[str]]:
    """(generated resources, errors) over every entry and element, as Kyverno's generateForeach."""
    generated: list[dict[str, Any]] = []
    errors: list[str] = []
    for i, entry in enumerate(entries):
        try:
            elements = evaluate_list(rc, entry.list_)
        except VernoError as exc:
            errors.append(f"failed to evaluate {i} foreach list: {exc}")
            continue
        for index, element in enumerate(elements):
            if element is None:
                continue
            try:
                generated.extend(_element(rc, entry, element, index))
            except VernoError as exc:
                errors.append(f"failed to process {index} element: {exc}")
    return generated, errors


def _element(rc: Any, entry: Any, element: Any, index: int) -> list[dict[str, Any]]:
    rc.context.checkpoint()
    try:
        rc.context.add_element(element, index, 0)
        try:
            rc.load_context(entry.context)
        except VernoError as exc:
            raise GenerateError(f"failed to load context: {exc}") from exc
        if entry.preconditions is not None:
            ok, _ = rc.check_conditions(entry.preconditions)
            if not ok:
                return []
        return generate_pattern(rc, entry)
    finally:
        rc.context.restore()
