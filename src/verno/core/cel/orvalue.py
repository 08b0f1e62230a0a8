"""Kyverno's ``orValue`` on a value that is not an optional, rewritten in the expression's source."""
from __future__ import annotations

from verno.core.cel.syntax import Node, parse

_OPTIONAL_CALLS = {"optional.of", "optional.none", "optional.ofNonZeroValue", "or", "first", "last",
                   "regex.extract", "format.named", "validate"}


def _syntactically_optional(node: Node, optional_idents: set[str]) -> bool:
    while True:
        if node.optional:
            return True
        if node.kind == "call":
            qualified = f"{node.target.value}.{node.value}" if node.target is not None \
                and node.target.kind == "ident" else node.value
            if qualified in _OPTIONAL_CALLS or node.value in _OPTIONAL_CALLS:
                return True
            if node.target is None:
                return False
            node = node.target
        elif node.kind in ("select", "index"):
            node = node.target
        elif node.kind == "ident":
            return node.value in optional_idents
        elif node.kind == "cond":
            return any(_syntactically_optional(a, optional_idents) for a in node.args[1:])
        else:
            return False


def rewrite_or_value(expression: str, tree: Node, optional_idents: set[str]) -> str:
    """Kyverno's ``orValue`` compatibility macro: ``x.orValue(y)`` on a non-optional ``x`` is ``x`` (``y``
    is still evaluated, so its errors propagate). Rewritten in the source as ``(y == y ? (x) : (x))``."""
    edits: list[tuple[int, int, str]] = []
    for node in tree.walk():
        if node.kind == "call" and node.value == "orValue" and node.target is not None \
                and len(node.args) == 1 \
                and not _syntactically_optional(node.target, optional_idents):
            edits.append((node.start, node.end, node))  # type: ignore[arg-type]
    if not edits:
        return expression
    # Apply innermost first by rebuilding from the outermost: handle nested by recursion on the text.
    outer = [e for e in edits if not any(o is not e and o[0] <= e[0] and e[1] <= o[1] for o in edits)]
    out, pos = [], 0
    for start, end, node in sorted(outer, key=lambda e: e[0]):
        recv = node.target  # type: ignore[attr-defined]
        arg = node.args[0]  # type: ignore[attr-defined]
        recv_text = rewrite_or_value(expression[recv.start:recv.end], parse(expression[recv.start:recv.end]),
                                     optional_idents)
        arg_text = rewrite_or_value(expression[arg.start:arg.end], parse(expression[arg.start:arg.end]),
                                    optional_idents)
        out.append(expression[pos:start])
        out.append(f"(({arg_text}) == ({arg_text}) ? ({recv_text}) : ({recv_text}))")
        pos = end
    out.append(expression[pos:])
    return "".join(out)
