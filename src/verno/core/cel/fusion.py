"""Evaluating the expressions of many policies in one runtime call.

The policies evaluating one request share their inputs (:class:`~verno.core.cel.program.SharedInputs`),
and a set of policies evaluates the same expressions, in the same order, on every request of a kind: the
expressions evaluated on a request's shared inputs are remembered by the first one of them, and on the next
request whose first expression is that one, :func:`prefetch` evaluates them all in one call (compiled once
as one list, ``[(e1), (e2), ...]``) and keeps each element as the result of its expression for that
request; each policy then reads its result instead of calling the runtime again. A runtime call costs a
few microseconds before it does any work, so many small checks save most of that.

Only what cannot change a result or have an effect is fused:

* expressions whose every function is a pure one of CEL's standard library or its extensions
  (:data:`PURE_FUNCTIONS`); data functions (``resource.Get``, ``http.Get``) and anything else stay
  one call each, at the point the policy reaches them;
* expressions with a boolean result that read only the shared inputs (no memoized ``variables.<name>``);
* each within its own cost bound on the request's sizes, and the fused call within one expression's budget
  (more are split in several calls), so the bound on one runtime call stays what it was;
* never on inputs holding a NUL (the individual evaluation reports them).

A fused call that fails (one element is an error) stores nothing: each expression of it is then evaluated on
its own, those that fail are not fused again, and every policy evaluates as it would have.
"""
from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from verno.core.cel import cost as costs
from verno.core.cel.projection import merged, project, reads
from verno.core.cel.syntax import Node

Program = Any  # verno.core.cel.program.Program (which reads this module)
SharedInputs = Any  # verno.core.cel.program.SharedInputs

__all__ = ["PURE_FUNCTIONS", "fusable", "prefetch"]

#: functions without effects and without reads beyond their arguments (standard library, strings, lists,
#: sets, math, optional, encoders, bindings); qualified names are ``namespace.name``
PURE_FUNCTIONS = frozenset({
    # macros and standard functions
    "has", "all", "exists", "exists_one", "existsOne", "map", "filter", "size", "contains", "startsWith",
    "endsWith", "matches", "int", "uint", "double", "string", "bytes", "bool", "dyn", "type",
    # optional values
    "orValue", "hasValue", "value", "or", "optMap", "optFlatMap", "optional.of", "optional.none",
    "optional.ofNonZeroValue",
    # strings
    "charAt", "indexOf", "lastIndexOf", "lowerAscii", "upperAscii", "replace", "split", "substring", "trim",
    "join", "reverse", "strings.quote",
    # lists, sets, math, bindings
    "lists.range", "distinct", "flatten", "slice", "sort", "sortBy", "first", "last", "transformList",
    "transformMap", "transformMapEntry", "sets.contains", "sets.equivalent", "sets.intersects",
    "math.greatest", "math.least", "math.abs", "math.ceil", "math.floor", "math.round", "math.sign",
    "math.trunc", "math.isInf", "math.isNaN", "math.isFinite", "math.sqrt", "cel.bind",
})

_CACHE_LIMIT = 64
_fused: dict[tuple[int, ...], tuple[tuple[Program, ...], object | None]] = {}
_lock = threading.Lock()


def _name(node: Node) -> str:
    target = node.target
    if target is not None and target.kind == "ident" and target.value in costs.NAMESPACES:
        return f"{target.value}.{node.value}"
    return str(node.value)


def fusable(program: Program) -> bool:
    """Whether ``program`` may be evaluated within a fused call (decided once per program)."""
    decided = program.fusable
    if decided is None:
        decided = program.output_type == "bool" and not program.variables and not program.unbounded \
            and all(node.kind != "call" or _name(node) in PURE_FUNCTIONS for node in program.tree.walk())
        program.fusable = decided
    return decided


def prefetch(shared: SharedInputs, programs: Iterable[Program]) -> None:
    """Evaluate ``programs`` on ``shared`` together where that cannot change a result (see the module's
    description); the results are read by :meth:`~verno.core.cel.program.Activation.evaluate`.

    The fused calls read the inputs cut down to what their expressions can read
    (:mod:`~verno.core.cel.projection`): the runtime converts only that, and each expression's cost bound
    is taken on the sizes of that part (an expression that needs a size check is still refused on the
    sizes of the whole inputs, as it is when evaluated alone)."""
    results = shared.results
    chosen = [p for p in {id(p): p for p in programs}.values()
              if fusable(p) and (results is None or id(p) not in results)]
    if len(chosen) < 2 or shared.has_nul():
        return
    cut = _cut(tuple(chosen))
    found = shared.projected.get(id(cut))
    if found is None or found[0] is not cut:
        values = {name: project(value, cut.reads[name]) for name, value in shared.values.items()
                  if name in cut.reads}
        found = shared.projected[id(cut)] = (cut, values, costs.measure(*values.values())[0], [None])
    sizes = found[2]
    key = (sizes, shared.sizes()) if cut.size_checked else sizes  # whole sizes: measured with the NULs
    chunks = cut.chunks.get(key)
    if chunks is None:
        by_env: dict[int, list[tuple[Program, int]]] = {}
        for program in chosen:
            try:
                if program.needs_size_check and program.estimate(shared.sizes()) > program.limit:
                    continue  # refused when the policy reaches it
                cost = program.estimate(sizes)
            except costs.Unbounded:  # pragma: no cover - refused at compile time
                continue
            by_env.setdefault(id(program.runtime_env), []).append((program, cost))
        chunks = [chunk for group in by_env.values() for chunk in _chunks(group) if len(chunk) >= 2]
        if len(cut.chunks) >= _CACHE_LIMIT:  # the same sizes give the same chunks
            cut.chunks.clear()
        cut.chunks[key] = chunks
    for chunk in chunks:
        _evaluate(shared, chunk, found)


class _Cut:
    """What a list of programs can read together."""

    __slots__ = ("programs", "reads", "size_checked", "chunks")

    def __init__(self, programs: tuple[Program, ...]):
        self.programs = programs  # alive as long as the cut: the ids in its key stay theirs
        self.reads = merged(_reads(p) for p in programs)
        #: whether a program is judged on the sizes of the whole inputs (then they are part of the key)
        self.size_checked = any(p.needs_size_check for p in programs)
        #: the fused calls by the sizes of the projected inputs (and of the whole ones, if size-checked)
        self.chunks: dict[object, list[tuple[Program, ...]]] = {}


_cuts: dict[tuple[int, ...], _Cut] = {}


def _reads(program: Program) -> dict:
    found = program.reads
    if found is None:
        found = program.reads = reads(program.tree)
    return found


def _cut(programs: tuple[Program, ...]) -> _Cut:
    key = tuple(map(id, programs))
    found = _cuts.get(key)
    if found is None or any(a is not b for a, b in zip(found.programs, programs)):
        found = _Cut(programs)
        with _lock:
            if len(_cuts) >= _CACHE_LIMIT:
                _cuts.clear()
            _cuts[key] = found
    return found


def _chunks(group: list[tuple[Program, int]]) -> list[tuple[Program, ...]]:
    """Consecutive runs of ``group`` whose summed cost is within the smallest budget among them."""
    out: list[tuple[Program, ...]] = []
    current: list[Program] = []
    total, limit = 0, None
    for program, cost in group:
        new_limit = program.limit if limit is None else min(limit, program.limit)
        if current and total + cost > new_limit:
            out.append(tuple(current))
            current, total, new_limit = [], 0, program.limit
        current.append(program)
        total += cost
        limit = new_limit
    if current:
        out.append(tuple(current))
    return out


def _compiled(chunk: tuple[Program, ...]) -> object | None:
    key = tuple(map(id, chunk))
    found = _fused.get(key)
    if found is not None and all(a is b for a, b in zip(found[0], chunk)):
        return found[1]
    try:
        compiled = chunk[0].runtime_env.compile("[" + ", ".join(f"({p.text})" for p in chunk) + "]")
    except RuntimeError:
        compiled = None
    with _lock:
        if len(_fused) >= _CACHE_LIMIT:
            _fused.clear()
        _fused[key] = (chunk, compiled)  # holds the programs: their ids in the key stay theirs
    return compiled


def _evaluate(shared: SharedInputs, chunk: tuple[Program, ...], projected: tuple) -> None:
    compiled = _compiled(chunk)
    if compiled is None:
        return
    _, values, _, made = projected
    activation = made[0]
    if activation is None:  # one runtime activation of the cut inputs serves every chunk (data by name)
        try:
            activation = made[0] = chunk[0].runtime_env.Activation(values)
        except (RuntimeError, TypeError, ValueError):
            return  # reported by the evaluation of each expression alone
    values = _value(compiled, activation)
    if isinstance(values, list) and len(values) == len(chunk) and all(type(v) is bool for v in values):
        shared.keep(chunk, values)
        return
    # an element failed on this input: those that fail alone are not fused again (the others are kept)
    for program in chunk:
        value = _value(program.compiled, activation)
        if type(value) is bool:
            shared.keep((program,), [value])
        else:
            program.fusable = False


def _value(compiled: object, activation: object) -> object:
    """The plain result of one runtime call, or None when it is an error."""
    from cel_expr_python import cel

    try:
        result = compiled.eval(activation)  # type: ignore[attr-defined]
        return None if result.type() == cel.Type.ERROR else result.plain_value()
    except (RuntimeError, TypeError):
        return None
