"""What an expression can read of its inputs, found in its syntax tree, and the inputs cut down to that.

The runtime converts every input it is handed (a whole resource, for a check that reads three fields); the
conversion costs more than most checks. :func:`reads` walks an expression's tree and gives, for each input
variable, the paths the expression can reach (:class:`Reads`); :func:`project` copies the inputs keeping
only those paths. An expression evaluated on the projected inputs gives exactly the result it gives on the
whole inputs, because everything it can observe is kept whole:

* a field selection (``x.f``, ``x.?f``) extends the path it is applied to; ``has(x.f)`` keeps ``x.f``;
* ``a.orValue(b)``, ``a + b`` (list concatenation), ``c ? a : b`` and ``cel.bind`` pass their operands'
  paths on to whatever reads their result;
* the range of ``all``/``exists``/``exists_one`` is read element by element: the body's reads of the element
  variable apply to every element of a list (a map's keys are its elements: a map range is kept whole);
* anything else that receives a value (a comparison, ``in``, an index, any function, a literal holding
  it, the expression's own result) keeps that value whole, with everything below it.

A path that meets a value of another shape than it expects (a field of a list, the elements of a map)
keeps that value whole, so the runtime sees the same value and reports the same error. Missing fields stay
missing. The projected value of a path is never larger than the value itself: sizes measured on it bound
what the expression can read (the cost bound, :mod:`verno.core.cel.cost`).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping

from verno.core.cel.syntax import Node

__all__ = ["Reads", "reads", "project", "merged"]

#: macros whose range is read element by element (the body receives each element)
_ELEMENTWISE = {"all", "exists", "exists_one", "existsOne"}


class Reads:
    """The part of one value an expression can read: all of it (``whole``), or some fields of a map
    (``fields``) and, for a list, the same part of every element (``each``)."""

    __slots__ = ("whole", "fields", "each")

    def __init__(self) -> None:
        self.whole = False
        self.fields: dict[str, Reads] = {}
        self.each: Reads | None = None

    def field(self, name: str) -> Reads:
        if self.whole:
            return self
        found = self.fields.get(name)
        if found is None:
            found = self.fields[name] = Reads()
        return found

    def element(self) -> Reads:
        if self.whole:
            return self
        if self.each is None:
            self.each = Reads()
        return self.each

    def keep_whole(self) -> None:
        self.whole = True
        self.fields = {}
        self.each = None

    def merge(self, other: Reads) -> None:
        if self.whole:
            return
        if other.whole:
            self.keep_whole()
            return
        for name, sub in other.fields.items():
            self.field(name).merge(sub)
        if other.each is not None:
            self.element().merge(other.each)

    def __eq__(self, other: object) -> bool:  # for tests
        return isinstance(other, Reads) and (self.whole, self.fields, self.each) == \
            (other.whole, other.fields, other.each)

    def __repr__(self) -> str:
        if self.whole:
            return "*"
        parts = [f"{k}: {v!r}" for k, v in self.fields.items()]
        if self.each is not None:
            parts.append(f"[]: {self.each!r}")
        return "{" + ", ".join(parts) + "}"


def reads(tree: Node) -> dict[str, Reads]:
    """What an expression (its syntax tree) can read of each input variable it names."""
    roots: dict[str, Reads] = {}
    _Walk(roots).whole(tree, {})
    return roots


def merged(all_reads: Iterable[Mapping[str, Reads]]) -> dict[str, Reads]:
    """The union of several expressions' reads."""
    out: dict[str, Reads] = {}
    for one in all_reads:
        for name, sub in one.items():
            out.setdefault(name, Reads()).merge(sub)
    return out


class _Walk:
    def __init__(self, roots: dict[str, Reads]):
        self.roots = roots

    def whole(self, node: Node, scope: Mapping[str, list[Reads]]) -> None:
        """``node``'s value is read whole (by an operator, a function, a literal holding it ...)."""
        for found in self.value(node, scope):
            found.keep_whole()

    def value(self, node: Node, scope: Mapping[str, list[Reads]]) -> list[Reads]:
        """The input parts ``node``'s value may be (what reads it decides how much of them is needed)."""
        kind = node.kind
        if kind == "literal":
            return []
        if kind == "ident":
            name = str(node.value)
            if name in scope:
                return scope[name]
            found = self.roots.get(name)
            if found is None:
                found = self.roots[name] = Reads()
            return [found]
        if kind == "select" and node.target is not None:
            return [r.field(str(node.value)) for r in self.value(node.target, scope)]
        if kind == "binary" and node.value == "+":
            return self.value(node.args[0], scope) + self.value(node.args[1], scope)
        if kind == "cond":
            self.whole(node.args[0], scope)
            return self.value(node.args[1], scope) + self.value(node.args[2], scope)
        if kind == "call":
            return self._call(node, scope)
        # unary, other binary operators, index, list, map, struct: every operand is read whole
        if node.target is not None:
            self.whole(node.target, scope)
        for arg in node.args:
            self.whole(arg, scope)
        return []

    def _call(self, node: Node, scope: Mapping[str, list[Reads]]) -> list[Reads]:
        name, target, args = node.value, node.target, node.args
        if name == "has" and target is None and len(args) == 1 and args[0].kind == "select" \
                and args[0].target is not None:
            for r in self.value(args[0].target, scope):
                r.field(str(args[0].value)).keep_whole()
            return []
        if name == "orValue" and target is not None and len(args) == 1:
            return self.value(target, scope) + self.value(args[0], scope)
        if name == "bind" and target is not None and target.kind == "ident" and target.value == "cel" \
                and len(args) == 3 and args[0].kind == "ident":
            bound = self.value(args[1], scope)
            return self.value(args[2], {**scope, str(args[0].value): bound})
        if name in _ELEMENTWISE and target is not None and len(args) in (2, 3) \
                and all(a.kind == "ident" for a in args[:-1]):
            elements = [r.element() for r in self.value(target, scope)]
            inner = dict(scope)
            if len(args) == 3:  # (index or key, element)
                inner[str(args[0].value)] = []
                inner[str(args[1].value)] = elements
            else:
                inner[str(args[0].value)] = elements
            self.whole(args[-1], inner)
            return []
        if target is not None:
            self.whole(target, scope)
        for arg in args:
            self.whole(arg, scope)
        return []


def project(value: object, part: Reads) -> object:
    """``value`` cut down to ``part`` (the value itself where all of it is read)."""
    if part.whole:
        return value
    if type(value) is dict:
        if part.each is not None:
            return value  # a map ranged over: its keys are its elements
        out = {}
        for name, sub in part.fields.items():
            if name in value:
                item = value[name]
                out[name] = item if sub.whole else project(item, sub)
        return out
    if type(value) is list:
        each = part.each
        if part.fields or each is None:
            return value  # a list read by field (an error the runtime reports on the whole value)
        if each.whole:
            return value
        return [project(item, each) for item in value]
    if isinstance(value, (Mapping, list, tuple)):
        return value  # another container type: kept as given
    return value
