"""Calls of library functions that return a CEL optional, rewritten in the expression's source.

A Python function cannot return a CEL optional; such a function (declared with result ``optional(T)``,
:mod:`verno.core.cel.library`) returns a list of zero or one element instead, and each call ``f(x)`` is
compiled as ``f(x)[?0]``: CEL's optional index, ``optional.none()`` on an empty list and
``optional.of(v)`` on ``[v]``. So ``format.named('x').hasValue()`` compiles as
``format.named('x')[?0].hasValue()``.

The rewrite only inserts text after calls; :func:`source_positions` maps the ``line:column`` of a compile
error in the rewritten text back to the expression the user wrote.
"""
from __future__ import annotations

import bisect
import re
from collections.abc import Iterable

from verno.core.cel.syntax import Node

__all__ = ["SUFFIX", "rewrite_optional_calls", "source_positions"]

SUFFIX = "[?0]"


def _already_indexed(node: Node, parent: Node | None) -> bool:
    """``f(x)[?0]`` as this rewrite leaves it (an inlined variable's text is rewritten already)."""
    return parent is not None and parent.kind == "index" and parent.optional and parent.target is node \
        and parent.args[0].kind == "literal" and parent.args[0].literal_type == "int" \
        and parent.args[0].value == 0


def _matches(node: Node, functions: frozenset[tuple[str, bool]]) -> bool:
    if node.target is None:
        return (node.value, False) in functions
    if node.target.kind == "ident" and (f"{node.target.value}.{node.value}", False) in functions:
        return True  # a qualified global function (``format.named(x)``)
    return (node.value, True) in functions


def rewrite_optional_calls(expression: str, tree: Node,
                           functions: frozenset[tuple[str, bool]]) -> tuple[str, list[int]]:
    """``expression`` with ``[?0]`` after each call of ``functions`` (``(name, receiver style)``), and the
    offsets in ``expression`` where the suffix was inserted (sorted)."""
    if not functions:
        return expression, []
    parents: dict[int, Node] = {}
    for node in tree.walk():
        for child in ([node.target] if node.target is not None else []) + node.args:
            parents[id(child)] = node
    offsets = sorted({node.end for node in tree.walk()
                      if node.kind == "call" and _matches(node, functions)
                      and not _already_indexed(node, parents.get(id(node)))})
    if not offsets:
        return expression, []
    out, pos = [], 0
    for offset in offsets:
        out.append(expression[pos:offset])
        out.append(SUFFIX)
        pos = offset
    out.append(expression[pos:])
    return "".join(out), offsets


def _original_offset(offset: int, inserted: list[int]) -> int:
    """An offset in the rewritten text as an offset in the text before it (a position inside an inserted
    suffix is the end of the call it follows)."""
    shift = len(SUFFIX)
    for k, at in enumerate(inserted):
        start = at + k * shift  # where suffix k begins in the rewritten text
        if offset < start:
            return offset - k * shift
        if offset < start + shift:
            return at
    return offset - len(inserted) * shift


def _line_starts(text: str) -> list[int]:
    return [0] + [m.end() for m in re.finditer("\n", text)]


_POSITION = re.compile(r"(^|; )(\d+):(\d+): ")


def source_positions(message: str, rewritten: str, original: str, inserted: Iterable[int]) -> str:
    """``message`` with each ``line:column:`` (1-based, as the runtime reports them) moved from
    ``rewritten`` to ``original``."""
    inserted = list(inserted)
    if not inserted:
        return message
    new_starts, old_starts = _line_starts(rewritten), _line_starts(original)

    def move(m: re.Match) -> str:
        line, column = int(m.group(2)), int(m.group(3))
        if not 1 <= line <= len(new_starts):
            return m.group()
        old = _original_offset(new_starts[line - 1] + column - 1, inserted)
        old_line = bisect.bisect_right(old_starts, old)
        return f"{m.group(1)}{old_line}:{old - old_starts[old_line - 1] + 1}: "

    return _POSITION.sub(move, message)
