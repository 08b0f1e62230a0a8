"""GeneratingPolicy ``generate[].template``: YAML documents, with ``interpolate: cel`` placeholders
``(( expr ))`` in string values.

A placeholder that is the whole string takes the expression's value as it is (a map, a list, a number);
one inside a longer string must give a scalar, written as Go prints it (``true``, ``3``, ``1.5``). Mapping
keys cannot hold placeholders. Every placeholder is compiled when the policy is loaded.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import yaml

__all__ = ["Piece", "Template", "TemplateError", "parse_template", "placeholders"]

OPEN, CLOSE = "((", "))"


class TemplateError(ValueError):
    pass


def placeholders(text: str) -> list[tuple[int, int, str]]:
    """``(start, end, expression)`` of each ``(( expr ))`` in ``text``: the placeholder ends at the first
    ``))`` outside the expression's own parentheses and string literals."""
    found: list[tuple[int, int, str]] = []
    i = 0
    while True:
        start = text.find(OPEN, i)
        if start < 0:
            return found
        j, depth, quote = start + 2, 0, ""
        while j < len(text):
            ch = text[j]
            if quote:
                if ch == "\\":
                    j += 2
                    continue
                if ch == quote:
                    quote = ""
            elif ch in "'\"":
                quote = ch
            elif ch == "(":
                depth += 1
            elif ch == ")":
                if depth == 0 and text.startswith(CLOSE, j):
                    break
                depth = max(depth - 1, 0)
            j += 1
        else:
            raise TemplateError(f"unterminated placeholder at {text[start:start + 40]!r}: close it with '))'")
        expression = text[start + 2:j].strip()
        if not expression:
            raise TemplateError("an empty placeholder '(( ))'")
        found.append((start, j + 2, expression))
        i = j + 2


@dataclass
class Piece:
    """A string value of the template: literal text and placeholders (compiled programs) in order."""

    parts: list[Any]  # str or a compiled program
    whole: bool  # one placeholder and nothing else


@dataclass
class Template:
    documents: list[Any]  # the parsed YAML, with Piece where a string held placeholders


def parse_template(value: str, compile_expression: Callable[[str], Any], interpolate: bool) -> Template:
    try:
        documents = [d for d in yaml.load_all(value, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
                     if d is not None]
    except yaml.YAMLError as exc:
        raise TemplateError(f"not YAML: {exc}") from None
    for doc in documents:
        if not isinstance(doc, dict):
            raise TemplateError(f"each document must be an object, got {type(doc).__name__}")
    if not interpolate:
        return Template(documents)

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            out = {}
            for key, item in node.items():
                if isinstance(key, str) and OPEN in key and placeholders(key):
                    raise TemplateError(f"a placeholder in the mapping key {key!r} is not supported")
                out[key] = walk(item)
            return out
        if isinstance(node, list):
            return [walk(item) for item in node]
        if isinstance(node, str) and OPEN in node:
            spots = placeholders(node)
            if not spots:
                return node
            parts: list[Any] = []
            cursor = 0
            for start, end, expression in spots:
                if start > cursor:
                    parts.append(node[cursor:start])
                parts.append(compile_expression(expression))
                cursor = end
            if cursor < len(node):
                parts.append(node[cursor:])
            return Piece(parts, whole=len(spots) == 1 and len(parts) == 1)
        return node

    return Template([walk(doc) for doc in documents])


def go_string(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "<nil>"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return str(value)


def render(template: Template, evaluate: Callable[[Any], Any]) -> list[dict[str, Any]]:
    """The template's documents with every placeholder replaced by its value."""

    def walk(node: Any) -> Any:
        if isinstance(node, Piece):
            if node.whole:
                return evaluate(node.parts[0])
            out = []
            for part in node.parts:
                if isinstance(part, str):
                    out.append(part)
                    continue
                value = evaluate(part)
                if isinstance(value, (dict, list)):
                    raise TemplateError("a placeholder inside a longer string must give a scalar, got "
                                        f"{'a map' if isinstance(value, dict) else 'a list'}")
                out.append(go_string(value))
            return "".join(out)
        if isinstance(node, dict):
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return [walk(doc) for doc in template.documents]
