"""Plain Python functions for the expressions policies use most: field paths, indexes, ``||`` defaults.

``request.object.metadata.namespace`` or ``element.imagePullPolicy || 'IfNotPresent'`` are evaluated
for every resource. Walking their syntax tree through the interpreter costs a method dispatch per node;
here each is turned once into a closure with exactly the interpreter's semantics (Kyverno's missing-key
``NotFoundError``, ``||`` treating a missing key as null). Any other node type returns None from
:func:`compile_path`, and the interpreter evaluates that expression.
"""
from __future__ import annotations

from typing import Any, Callable

from verno.core.errors import NotFoundError

Path = Callable[[Any], Any]
Node = dict[str, Any]


def _is_false(value: Any) -> bool:
    """JMESPath falsiness (the interpreter's ``_is_false``)."""
    return value == "" or value == [] or value == {} or value is None or value is False


def _fields(keys: tuple[str, ...]) -> Path:
    def lookup(value: Any) -> Any:
        for key in keys:
            if not isinstance(value, dict):
                return None  # a field of anything but an object is null, and so is every field after it
            try:
                value = value[key]
            except KeyError:
                raise NotFoundError(key) from None
        return value

    return lookup


def _index(i: int) -> Path:
    def index(value: Any) -> Any:
        if not isinstance(value, list):
            return None
        try:
            return value[i]
        except IndexError:
            return None

    return index


def _chain(steps: list[Path]) -> Path:
    def chain(value: Any) -> Any:
        for step in steps:
            value = step(value)
        return value

    return chain


def _lenient(path: Path) -> Path:
    def lenient(value: Any) -> Any:
        try:
            return path(value)
        except NotFoundError:
            return None

    return lenient


def _or(left: Path, right: Path) -> Path:
    left, right = _lenient(left), _lenient(right)

    def either(value: Any) -> Any:
        matched = left(value)
        if _is_false(matched):
            matched = right(value)
        return matched

    return either


def _steps(node: Node) -> list[Node]:
    """The nodes a (nested) subexpression or index expression applies in order."""
    if node["type"] in ("subexpression", "index_expression"):
        return [step for child in node["children"] for step in _steps(child)]
    return [node]


def compile_path(node: Node) -> Path | None:
    """A function evaluating ``node`` as the Kyverno interpreter would, or None if it has other nodes."""
    kind = node["type"]
    if kind == "literal":
        constant = node["value"]
        return lambda _value: constant
    if kind == "current":
        return lambda value: value
    if kind == "or_expression":
        left, right = (compile_path(child) for child in node["children"])
        return _or(left, right) if left is not None and right is not None else None
    if kind not in ("field", "index", "subexpression", "index_expression"):
        return None
    steps: list[Path] = []
    keys: list[str] = []
    for step in _steps(node):
        if step["type"] == "current":
            continue  # ``@`` is the value itself
        if step["type"] == "field":
            keys.append(step["value"])
            continue
        if keys:
            steps.append(_fields(tuple(keys)))
            keys = []
        if step["type"] == "index" and isinstance(step["value"], int):
            steps.append(_index(step["value"]))
        else:
            return None
    if keys:
        steps.append(_fields(tuple(keys)))
    if not steps:
        return lambda value: value
    return steps[0] if len(steps) == 1 else _chain(steps)
