"""An upper bound on what evaluating an expression costs, checked before it runs.

The C++ runtime has no cost tracker verno can reach (Kubernetes stops an evaluation at a runtime cost of
1,000,000), and a running evaluation cannot be interrupted. So every expression gets a static estimate
from its syntax tree and the *actual* size of its inputs, and an evaluation whose estimate exceeds the
budget is refused with Kubernetes' message (``operation cancelled: actual cost limit exceeded``) instead of
being started.

Units: one unit is about one elementary operation of the runtime (~60 ns measured on the project's 2-core
machine); copying or scanning 16 bytes of a string counts one unit. The default budget, 10,000,000 units,
is therefore about half a second; ``VERNO_CEL_COST_LIMIT`` sets another. A size ``G`` bounds every value
read from the inputs: the longest list or map and, separately, the longest string anywhere in them.
Comprehensions cost their range's size times their body; ``map``/``filter``/``transform*``/``sortBy`` also pay the runtime's quadratic
accumulation (measured: ``map`` over 4,000 elements takes ~0.45 s). ``lists.range(n)`` needs a literal
``n`` or ``size(...)``: any other length cannot be bounded and the evaluation is refused.

The estimate is an upper bound, so an expression Kubernetes would finish under its limit can be refused
here when its inputs are very large; a typical Pod check costs a few hundred units.
"""
from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from verno.core.cel.syntax import Node

__all__ = ["DEFAULT_COST_LIMIT", "Sizes", "Unbounded", "cost_limit", "estimate", "input_size", "measure",
           "Measured", "note_measured", "noted_measures"]

DEFAULT_COST_LIMIT = 10_000_000
COPY = 16  # bytes copied or scanned per unit
MACROS = {"all", "exists", "exists_one", "existsOne", "map", "filter", "transformList", "transformMap",
          "transformMapEntry", "sortBy"}
ACCUMULATING = {"map", "filter", "transformList", "transformMap", "transformMapEntry", "sortBy"}


class Unbounded(Exception):
    """The expression's cost cannot be bounded statically (the message says why)."""


def cost_limit() -> int:
    raw = os.environ.get("VERNO_CEL_COST_LIMIT", "")
    return int(raw) if raw.isdigit() and int(raw) > 0 else DEFAULT_COST_LIMIT


class Sizes(NamedTuple):
    """Bounds on input values: ``items`` the longest list or map, ``chars`` the longest string (a tuple:
    estimates are cached by it, and a tuple hashes fast)."""

    items: int
    chars: int


def input_size(*values: object) -> Sizes:
    """The longest list or map and the longest string anywhere in ``values``.

    A list or map met again (``request.object`` is ``object``) is measured once."""
    return measure(*values)[0]


def measure(*values: object, known: Iterable[Measured] = ()) -> tuple[Sizes, bool]:
    """:func:`input_size`, and whether a string or bytes value (or a map key) anywhere in ``values`` holds
    a NUL character (the runtime's conversion would cut it there), found in the same walk.

    ``known``: values already measured (by whoever built them); met in ``values``, they are not walked."""
    items = chars = 0
    nul = False
    stack = list(values)
    seen: set[int] = set()
    for m in known:
        seen.add(id(m.value))
        items, chars, nul = max(items, m.sizes.items), max(chars, m.sizes.chars), nul or m.nul
    push, pop = stack.append, stack.pop
    while stack:
        value = pop()
        kind = type(value)
        if kind is str or kind is bytes or kind is bytearray or isinstance(value, (str, bytes, bytearray)):
            if len(value) > chars:  # type: ignore[arg-type]
                chars = len(value)  # type: ignore[arg-type]
            if ("\0" if isinstance(value, str) else b"\0") in value:  # type: ignore[operator]
                nul = True
        elif kind is dict or isinstance(value, dict):
            if id(value) in seen:
                continue
            seen.add(id(value))
            if len(value) > items:  # type: ignore[arg-type]
                items = len(value)  # type: ignore[arg-type]
            for key, item in value.items():  # type: ignore[union-attr]
                if type(key) is str:
                    if len(key) > chars:
                        chars = len(key)
                    if "\0" in key:
                        nul = True
                if type(item) is str:
                    if len(item) > chars:
                        chars = len(item)
                    if "\0" in item:
                        nul = True
                elif item is not None and type(item) not in (bool, int, float):
                    push(item)
        elif kind is list or kind is tuple or isinstance(value, (list, tuple)):
            if id(value) in seen:
                continue
            seen.add(id(value))
            if len(value) > items:  # type: ignore[arg-type]
                items = len(value)  # type: ignore[arg-type]
            stack.extend(value)  # type: ignore[arg-type]
    return Sizes(items, chars), nul


@dataclass(frozen=True)
class Measured:
    """A value with its :func:`measure` results, measured while it was built (the CLI's float64 copy of a
    resource): the CEL evaluations of a request then do not walk it again. Treat ``value`` as read-only."""

    value: object
    sizes: Sizes
    nul: bool


#: where :func:`note_measured` keeps a request's measured values (in ``Request.cache``)
_MEASURED = "cel.measured"


def note_measured(cache: dict, measured: Measured) -> None:
    """Remember a measured value for one request (``cache``: the request's memo)."""
    cache.setdefault(_MEASURED, []).append(measured)


def noted_measures(cache: dict) -> list[Measured]:
    return cache.get(_MEASURED) or []


def larger(a: Sizes, b: Sizes) -> Sizes:
    """Bounds covering both."""
    return Sizes(max(a.items, b.items), max(a.chars, b.chars))


@dataclass
class _Est:
    cost: int
    n: int  # bound on a list's or map's length
    s: int  # bound on a string's length (and on any string inside)


def _is_ident(node: Node) -> bool:
    return node.kind == "ident"


def estimate(tree: Node, sizes: Sizes) -> int:
    """The cost bound of ``tree`` when inputs are within ``sizes``; raises :class:`Unbounded`."""
    return _est(tree, {}, _Est(0, max(sizes.items, 1), max(sizes.chars, 1))).cost


def _est(node: Node, scope: dict[str, _Est], g: _Est) -> _Est:
    kind = node.kind
    if kind == "literal":
        size = node.value if node.literal_type in ("string", "bytes") and isinstance(node.value, int) else 1
        return _Est(1, 1, size)
    if kind == "ident":
        bound = scope.get(node.value, g)
        return _Est(1, bound.n, bound.s)
    if kind == "select":
        target = _est(node.target, scope, g)
        return _Est(target.cost + 1, max(g.n, target.n), max(g.s, target.s))
    if kind == "index":
        target = _est(node.target, scope, g)
        index = _est(node.args[0], scope, g)
        return _Est(target.cost + index.cost + 1, max(g.n, target.n), max(g.s, target.s))
    if kind in ("list", "map", "struct"):
        parts = [_est(a, scope, g) for a in node.args]
        return _Est(1 + len(parts) + sum(p.cost for p in parts), max([len(parts)] + [p.n for p in parts]),
                    max([1] + [p.s for p in parts]))
    if kind == "unary":
        inner = _est(node.args[0], scope, g)
        return _Est(inner.cost + 1, inner.n, inner.s)
    if kind == "cond":
        c, t, f = (_est(a, scope, g) for a in node.args)
        return _Est(c.cost + max(t.cost, f.cost) + 1, max(t.n, f.n), max(t.s, f.s))
    if kind == "binary":
        if node.value == ":":  # a map or struct entry
            k, v = (_est(a, scope, g) for a in node.args)
            return _Est(k.cost + v.cost, max(k.n, v.n), max(k.s, v.s))
        left, right = (_est(a, scope, g) for a in node.args)
        base = left.cost + right.cost + 1
        if node.value == "+":
            n, size = left.n + right.n, left.s + right.s
            return _Est(base + n + size // COPY, n, size)
        if node.value == "in":
            return _Est(base + right.n + right.s // COPY, 1, 1)
        if node.value in ("==", "!="):
            return _Est(base + min(left.n, right.n) + min(left.s, right.s) // COPY, 1, 1)
        return _Est(base, 1, 1)
    if kind == "call":
        return _call(node, scope, g)
    return _Est(1, g.n, g.s)


STRING_TO_LIST = {"split", "findAll", "regex.extractAll", "extractAll"}


def _call(node: Node, scope: dict[str, _Est], g: _Est) -> _Est:
    name = node.value
    args = node.args
    if node.target is not None and name in MACROS and args and all(_is_ident(a) for a in args[:-1]) \
            and len(args) >= 2:
        rng = _est(node.target, scope, g)
        n = rng.n
        inner = dict(scope)
        for var in args[:-1]:
            inner[var.value] = _Est(0, max(n, rng.n), rng.s)
        body = _est(args[-1], inner, g)
        if len(args) == 3 and name in ("map", "filter"):  # map(x, predicate, transform)
            pred = _est(args[1], inner, g)
            body = _Est(body.cost + pred.cost, body.n, body.s)
        cost = rng.cost + n * (body.cost + 2)
        if name in ACCUMULATING:
            cost += n * n // 2
            return _Est(cost, max(n, body.n), max(rng.s, body.s))
        return _Est(cost, 1, 1)
    qualified = _qualified_call(node)
    if qualified == "cel.bind" and len(args) == 3 and _is_ident(args[0]):
        init = _est(args[1], scope, g)
        body = _est(args[2], {**scope, args[0].value: init}, g)
        return _Est(init.cost + body.cost + 1, body.n, body.s)
    if name == "has" and node.target is None:
        return _Est(2, 1, 1)
    if qualified == "lists.range":
        arg = args[0] if args else None
        if arg is not None and arg.kind == "literal" and arg.literal_type == "int" \
                and isinstance(arg.value, int):
            n = max(arg.value, 0)
            return _Est(n + 1, n, 1)
        if arg is not None and arg.kind == "call" and arg.value == "size":
            measured = _est(arg.args[0] if arg.args else arg.target, scope, g)
            n = max(measured.n, measured.s)
            return _Est(measured.cost + n + 2, n, 1)
        raise Unbounded("lists.range() with a length that is not a literal or size(): "
                        "its cost cannot be bounded")
    parts = [_est(a, scope, g) for a in args]
    if node.target is not None and qualified is None:
        parts.insert(0, _est(node.target, scope, g))
    n = max([g.n] + [p.n for p in parts])
    size = max([g.s] + [p.s for p in parts])
    scanned = sum(p.n for p in parts) + sum(p.s for p in parts) // COPY
    cost = 1 + sum(p.cost for p in parts) + scanned
    if name in STRING_TO_LIST or qualified in STRING_TO_LIST:
        n = max(n, size + 1)
    if name == "validate" and node.target is not None and qualified is None:
        # Kubernetes' format validation: a linear scan of the string (charged per character); format.uri()
        # quotes the string in its message (Go's %q: up to 4 characters each)
        scanned_text = parts[-1].s if len(parts) > 1 else g.s
        cost += scanned_text
        size = max(size, 4 * scanned_text + 256)
    if name in ("join", "format", "quote") or qualified == "strings.quote":
        size = max(size, sum(p.s * max(p.n, 1) for p in parts))
        cost += size // COPY
    if name == "replace" or qualified == "regex.replace":  # up to len(s) * (len(new) + 1)
        size = max(size, max(p.s for p in parts) * (max(p.s for p in parts) + 1))
        cost += size // COPY
    if name in ("sort", "distinct", "flatten"):
        first = parts[0] if parts else g
        cost += first.n * max(first.n.bit_length(), 1) if name == "sort" else first.n * first.n // 2
    return _Est(cost, n, size)


NAMESPACES = {"lists", "math", "strings", "sets", "base64", "regex", "optional", "cel", "ip", "format",
              "json",
              "yaml", "hash", "time", "x509", "image", "user", "resource", "http", "globalContext", "random",
              "transform", "gzip", "jsonpatch", "generator"}


def _qualified_call(node: Node) -> str | None:
    """``lists.range`` for ``lists.range(...)`` (a namespaced global function), else None."""
    target = node.target
    if target is None:
        return node.value if "." in str(node.value) else None
    if target.kind == "ident" and target.value in NAMESPACES:
        return f"{target.value}.{node.value}"
    return None
