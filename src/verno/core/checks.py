"""Load-time checks of a prepared policy: what can be known wrong before any resource is seen.

Unknown condition operators, context entries without a loader and JMESPath expressions that do not
compile are reported here, naming the policy, the rule and the field. Compiling every expression also
fills the engine's expression cache, so evaluation never parses an expression.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterator

from verno.core.errors import VernoError
from verno.core.variables import find_variables, variable_text

if TYPE_CHECKING:  # pragma: no cover
    from verno.core.engine import Engine
    from verno.core.prepare import PreparedPolicy

CONDITION_KEYS = ("preconditions", "conditions")


class PolicyCheckError(VernoError):
    pass


def check_policy(prepared: PreparedPolicy, engine: Engine) -> None:
    for rule in prepared.rules:
        raw = rule.rule.model_dump(by_alias=True, exclude_none=True, exclude_defaults=True)
        where = f"spec.rules[{rule.name}]"
        for path, value in _walk(raw, where):
            if isinstance(value, str):
                _check_expressions(engine, path, value)
        for path, cond in _conditions(raw, where):
            op = cond.get("operator")
            if isinstance(op, str) and op not in engine.operators:
                raise PolicyCheckError(
                    f"{path}.operator: unknown operator {op!r}; known operators: "
                    f"{', '.join(sorted(engine.operators.names()))}"
                )
        for path, entry in _context_entries(raw, where):
            keys = [k for k in entry if k != "name"]
            for key in keys:
                if key not in engine.loaders:
                    raise PolicyCheckError(f"{path}: no context loader for {key!r}; install its plugin")
            jp = _get(entry, keys, "jmesPath")
            if isinstance(jp, str) and jp and "{{" not in jp:
                _compile(engine, f"{path}.jmesPath", jp)
        for path, entry in _foreach(raw, where):
            lst = entry.get("list")
            if isinstance(lst, str) and lst and "{{" not in lst:
                _compile(engine, f"{path}.list", lst)


def _get(entry: dict[str, Any], keys: list[str], field: str) -> Any:
    for k in keys:
        if isinstance(entry.get(k), dict):
            return entry[k].get(field)
    return None


def _compile(engine: Engine, path: str, expression: str) -> None:
    try:
        engine.jmespath.compile(expression)
    except VernoError as exc:
        raise PolicyCheckError(f"{path}: invalid JMESPath {expression!r}: {exc}") from None


def _check_expressions(engine: Engine, path: str, value: str) -> None:
    if "{{" not in value:
        return
    for _, variable in find_variables(value):
        inner = variable_text(variable)
        if not inner or "{{" in inner or "$(" in inner:
            continue
        _compile(engine, path, inner)


def _walk(node: Any, path: str) -> Iterator[tuple[str, Any]]:
    yield path, node
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _walk(k, f"{path}.{k}")
            yield from _walk(v, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _walk(v, f"{path}[{i}]")


def _conditions(raw: Any, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for p, node in _walk(raw, path):
        if not isinstance(node, dict):
            continue
        for key in CONDITION_KEYS:
            block = node.get(key)
            if isinstance(block, list):
                items = [(f"{p}.{key}[{i}]", c) for i, c in enumerate(block)]
            elif isinstance(block, dict):
                items = [(f"{p}.{key}.{k}[{i}]", c) for k in ("any", "all") for i, c in enumerate(block.get(k) or [])]
            else:
                continue
            for cp, cond in items:
                if isinstance(cond, dict) and "operator" in cond:
                    yield cp, cond


def _context_entries(raw: Any, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for p, node in _walk(raw, path):
        if isinstance(node, dict) and isinstance(node.get("context"), list):
            for i, entry in enumerate(node["context"]):
                if isinstance(entry, dict) and "name" in entry:
                    yield f"{p}.context[{i}]", entry


def _foreach(raw: Any, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for p, node in _walk(raw, path):
        if isinstance(node, dict) and isinstance(node.get("foreach"), list):
            for i, entry in enumerate(node["foreach"]):
                if isinstance(entry, dict):
                    yield f"{p}.foreach[{i}]", entry
