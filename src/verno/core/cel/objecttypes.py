"""The object types of mutating policies, ``Object`` and ``JSONPatch``, written as CEL map literals.

Kubernetes' MutatingAdmissionPolicy and Kyverno's MutatingPolicy declare types whose values are built with
CEL's message construction syntax: ``Object{spec: Object.spec{replicas: 3}}`` is an apply configuration
(the fields of the object to set), ``JSONPatch{op: "add", path: "/a", value: 1}`` one RFC 6902 operation.
Their fields are the resource's own (any path below ``Object`` names a field type), so verno gives them the
JSON shape the mutation reads: each construction whose type name starts with one of the environment's
object type roots is rewritten in the source as a map literal with the same fields, ``{"spec": {"replicas":
3}}``, before the runtime compiles it. Optional fields (``?field: opt``) stay optional map entries.
"""
from __future__ import annotations

import json

from verno.core.cel.syntax import Node, parse

__all__ = ["rewrite_object_types", "uses_object_type"]


def _rooted(node: Node, roots: frozenset[str]) -> bool:
    return node.kind == "struct" and str(node.value).split(".", 1)[0] in roots


def uses_object_type(tree: Node, roots: frozenset[str]) -> bool:
    """Whether the expression constructs a value of one of the object types."""
    return any(_rooted(node, roots) for node in tree.walk())


def rewrite_object_types(expression: str, tree: Node, roots: frozenset[str]) -> str:
    """``expression`` with every construction of an object type (rooted in ``roots``) as a map literal."""
    found = [n for n in tree.walk() if _rooted(n, roots)]
    if not found:
        return expression
    outer = [n for n in found if not any(o is not n and o.start <= n.start and n.end <= o.end for o in found)]
    out, pos = [], 0
    for node in sorted(outer, key=lambda n: n.start):
        out.append(expression[pos:node.start])
        entries = []
        for entry in node.args:  # ``binary ":"`` nodes: [field name literal, value]
            key, value = entry.args
            text = expression[value.start:value.end]
            text = rewrite_object_types(text, parse(text), roots)
            entries.append(f"{'?' if entry.optional else ''}{json.dumps(str(key.value))}: {text}")
        out.append("{" + ", ".join(entries) + "}")
        pos = node.end
    out.append(expression[pos:])
    return "".join(out)
