"""JMESPath expressions (Kyverno's ``{{ ... }}`` variables, context ``jmesPath`` fields, foreach lists) written
as CEL with JMESPath's own semantics.

The expression is parsed with the ``jmespath`` library and compiled node by node. Every node compiles to a
CEL expression whose value is the JMESPath result, ``null`` included: a field of something that is not a map
(or a map without that key) is ``null``, as in Kyverno's go-jmespath fork, where the "Unknown key" error is
swallowed inside comparators, function arguments, filters and ``||``/``&&``/``!``; projections drop ``null``
results; ``||``, ``&&``, ``!`` and filters use JMESPath truthiness (``null``, ``false``, ``""``, ``[]`` and
``{}`` are false). A whole expression that is a plain field path is translated strictly by the caller (a
missing key is an error on both sides).

Names at the root resolve through a :class:`Scope`: ``request.object`` -> ``object``, ``request.oldObject``
-> ``oldObject``, ``request.<field>`` -> ``request.<field>``, context entries -> their CEL variable,
``element``/``elementIndex`` -> the foreach loop variables. Functions translate only where CEL has the same
function over the same values (``length``, ``contains``, ``starts_with``, ``ends_with``, ``join``,
``not_null``, ``type``, ``abs``, ``split``, ``pattern_match`` and ``regex_match`` (over strings: a number
is an error where Kyverno would format it),
``lookup`` on maps); anything else (functions whose results depend on Go map order, such as ``keys``, or
whose CEL counterpart differs, such as ``to_upper``'s Unicode case mapping) raises :class:`Untranslatable`.
"""
from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass, field
from typing import Any

from jmespath import exceptions as jp_exceptions
from jmespath.parser import Parser

from verno.core.migration.errors import Untranslatable
from verno.core.migration.literals import cel_literal, glob_regex

__all__ = ["REQUEST_FIELDS", "Scope", "compile_jmespath", "truthy"]

REQUEST_FIELDS = ("operation", "namespace", "name", "userInfo", "kind", "resource", "subResource", "dryRun")
_NUMBER = "[int, uint, double]"
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SIMPLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
_CEL_RESERVED = {"in", "as", "break", "const", "continue", "else", "for", "function", "if", "import", "let", "loop",
                 "package", "namespace", "return", "var", "void", "while", "true", "false", "null"}


@dataclass
class Scope:
    """What names at the root of a JMESPath expression mean in CEL.

    ``names`` maps a root name (a context entry, ``element``, ``elementIndex``...) to the CEL expression of its
    value. ``inline`` holds the definitions to use where CEL ``variables`` cannot be read (a
    ValidatingPolicy's matchConditions): a name found there is replaced by its definition.
    """

    names: dict[str, str] = field(default_factory=dict)
    inline: dict[str, str] | None = None
    counter: itertools.count = field(default_factory=lambda: itertools.count(1))
    #: when a list: whole-variable field paths (strict in Kyverno: a missing key is an error) are written
    #: leniently (null for a missing key) and the CEL condition under which Kyverno errors is added here, so
    #: that a caller can decide what an error means at that place (a foreach element's error is positional)
    errors: list[str] | None = None

    def child(self, **names: str) -> "Scope":
        """This scope with ``names`` added (foreach elements: plain CEL names, never inlined)."""
        inline = None if self.inline is None else {k: v for k, v in self.inline.items() if k not in names}
        return Scope({**self.names, **names}, inline, self.counter, self.errors)

    def resolve(self, name: str) -> str | None:
        if self.inline is not None and name in self.inline:
            return f"({self.inline[name]})"
        return self.names.get(name)

    def fresh(self) -> str:
        return f"jv{next(self.counter)}"


def truthy(v: str) -> str:
    """JMESPath truthiness of the value ``v`` (a simple expression, evaluated several times)."""
    return f"!(dyn({v}) == null || dyn({v}) == false || dyn({v}) == \"\" || dyn({v}) == [] || dyn({v}) == {{}})"


def _bind(scope: Scope, value: str, body) -> str:
    """``body(name)`` with ``value`` evaluated once (not bound when it is already a simple name)."""
    if _SIMPLE.fullmatch(value) and value.split(".")[0] not in _CEL_RESERVED:
        return body(value)
    name = scope.fresh()
    return f"cel.bind({name}, {value}, {body(name)})"


def _key(name: str) -> str:
    return f".?{name}" if _IDENT.fullmatch(name) and name not in _CEL_RESERVED else f"[?{json.dumps(name)}]"


class _Root:
    """A name that is not a value by itself (``request``): only its fields are."""

    def __init__(self, fields: dict[str, str]):
        self.fields = fields


def _request_root() -> _Root:
    fields = {"object": "object", "oldObject": "oldObject"}
    fields.update({f: f"request.{f}" for f in REQUEST_FIELDS})
    return _Root(fields)


class _Compiler:
    def __init__(self, scope: Scope, text: str):
        self.scope = scope
        self.text = text

    def fail(self, what: str) -> Untranslatable:
        return Untranslatable(f"the JMESPath expression {self.text!r} ({what})")

    # -- roots -------------------------------------------------------------------------------------------------
    def root_field(self, name: str) -> str | _Root:
        if name == "request":
            return _request_root()
        resolved = self.scope.resolve(name)
        if resolved is None:
            raise self.fail(f"{name!r} is not a request field, context entry or foreach element")
        return resolved

    # -- nodes ---------------------------------------------------------------------------------------------
    def node(self, n: dict[str, Any], cur: str | None) -> str:
        out = self._node(n, cur)
        if isinstance(out, _Root):
            raise self.fail("a reference to the whole request")
        return out

    def _node(self, n: dict[str, Any], cur: str | None) -> str | _Root:
        t = n["type"]
        ch = n.get("children") or []
        if t == "field":
            if cur is None:
                return self.root_field(n["value"])
            return self.field(cur, n["value"])
        if t == "subexpression":  # the parser flattens a.b.c into one node with three children
            left = self._node(ch[0], cur)
            for right in ch[1:]:
                left = self._root_sub(left, right) if isinstance(left, _Root) else self._node(right, left)
            return left
        if t == "index_expression":
            left = self._node(ch[0], cur)
            if isinstance(left, _Root):
                raise self.fail("an index into the request")
            return self._node(ch[1], left)
        if t == "index":
            if cur is None:
                raise self.fail("an index at the root")
            i = int(n["value"])
            if i >= 0:
                return _bind(self.scope, cur, lambda v: f"(type({v}) == list ? dyn({v}[?{i}].orValue(null)) : dyn(null))")
            return _bind(self.scope, cur, lambda v: f"(type({v}) == list && size({v}) >= {-i} ? "
                                                       f"dyn({v}[size({v}) - {-i}]) : dyn(null))")
        if t in ("current", "identity"):
            if cur is None:
                raise self.fail("@ at the root")
            return cur
        if t == "literal":
            return cel_literal(n["value"])
        if t == "pipe":
            return self.node(ch[1], self.node(ch[0], cur))
        if t == "projection":
            left = self.node(ch[0], cur)
            return self.project(left, ch[1])
        if t == "flatten":
            left = self.node(ch[0], cur)
            f = self.scope.fresh()
            return _bind(self.scope, left, lambda v: f"(type({v}) == list ? dyn({v}.map({f}, type({f}) == list ? dyn({f}) : "
                                                        f"dyn([{f}])).flatten()) : dyn(null))")
        if t == "filter_projection":
            left = self.node(ch[0], cur)
            e = self.scope.fresh()
            cond = self.node(ch[2], e)
            kept = _bind(self.scope, cond, truthy)
            return _bind(self.scope, left, lambda v: f"(type({v}) == list ? "
                                                        f"dyn({self._map(f'{v}.filter({e}, {kept})', e, ch[1])}) : dyn(null))")
        if t == "or_expression":
            left, right = self.node(ch[0], cur), self.node(ch[1], cur)
            return _bind(self.scope, left, lambda v: f"({truthy(v)} ? dyn({v}) : dyn({right}))")
        if t == "and_expression":
            left, right = self.node(ch[0], cur), self.node(ch[1], cur)
            return _bind(self.scope, left, lambda v: f"({truthy(v)} ? dyn({right}) : dyn({v}))")
        if t == "not_expression":
            return _bind(self.scope, self.node(ch[0], cur), lambda v: f"!({truthy(v)})")
        if t == "comparator":
            return self.compare(n["value"], self.node(ch[0], cur), self.node(ch[1], cur))
        if t == "function_expression":
            return self.function(n["value"], [self.node(c, cur) for c in ch], ch)
        if t == "multi_select_list":
            items = ", ".join(self.node(c, cur) for c in ch)
            if cur is None:
                return f"[{items}]"
            return f"(dyn({cur}) == null ? dyn(null) : dyn([{items}]))"
        if t == "multi_select_dict":
            items = ", ".join(f"{json.dumps(c['value'])}: {self.node(c['children'][0], cur)}" for c in ch)
            if cur is None:
                return f"{{{items}}}"
            return f"(dyn({cur}) == null ? dyn(null) : dyn({{{items}}}))"
        raise self.fail(f"{t.replace('_', ' ')} has no translation")

    def _root_sub(self, root: _Root, right: dict[str, Any]) -> str | _Root:
        """``request.<right>``: the first field of ``right`` picks the request field."""
        t = right["type"]
        if t == "field":
            name = right["value"]
            if name not in root.fields:
                raise self.fail(f"request.{name} (only request.object, request.oldObject and "
                                f"{', '.join('request.' + f for f in REQUEST_FIELDS)} translate)")
            return root.fields[name]
        if t in ("subexpression", "index_expression"):
            head = self._root_sub(root, right["children"][0])
            return self._node(right["children"][1], head)
        raise self.fail("a request expression that is not a field path")

    def field(self, cur: str, name: str) -> str:
        if cur == "object":  # the admitted object is a map; written object.<field> as Pod-controller autogen reads it
            if _IDENT.fullmatch(name) and name not in _CEL_RESERVED:
                return f"(has(object.{name}) ? dyn(object.{name}) : dyn(null))"
            return f"dyn(object[?{json.dumps(name)}].orValue(null))"
        return _bind(self.scope, cur, lambda v: f"(type({v}) == map ? dyn({v}{_key(name)}.orValue(null)) : dyn(null))")

    def _map(self, lst: str, e: str, right: dict[str, Any]) -> str:
        body = self.node(right, e)
        if body == e:
            return f"{lst}.filter({e}, {e} != null)"
        return f"{lst}.map({e}, {body}).filter({e}, {e} != null)"

    def project(self, left: str, right: dict[str, Any]) -> str:
        e = self.scope.fresh()
        return _bind(self.scope, left, lambda v: f"(type({v}) == list ? dyn({self._map(v, e, right)}) : dyn(null))")

    def compare(self, op: str, a: str, b: str) -> str:
        if op == "eq":
            return f"(dyn({a}) == dyn({b}))"
        if op == "ne":
            return f"(dyn({a}) != dyn({b}))"
        sym = {"lt": "<", "lte": "<=", "gt": ">", "gte": ">="}[op]
        return _bind(self.scope, a, lambda x: _bind(self.scope, b, lambda y: (
            f"(type({x}) in {_NUMBER} && type({y}) in {_NUMBER} ? dyn(double({x}) {sym} double({y})) : dyn(null))")))

    def function(self, name: str, args: list[str], nodes: list[dict[str, Any]]) -> str:
        def arity(n: int) -> None:
            if len(args) != n:
                raise self.fail(f"{name}() takes {n} arguments")

        if name == "length":
            arity(1)
            return f"size({args[0]})"
        if name == "contains":
            arity(2)
            return _bind(self.scope, args[0], lambda s: f"(type({s}) == list ? dyn({args[1]}) in dyn({s}) : "
                                                          f"dyn({s}).contains({args[1]}))")
        if name in ("starts_with", "ends_with"):
            arity(2)
            return f"{args[0]}.{'startsWith' if name == 'starts_with' else 'endsWith'}({args[1]})"
        if name == "join":
            arity(2)
            return f"{args[1]}.join({args[0]})"
        if name == "not_null":
            if not args:
                raise self.fail("not_null() takes at least one argument")
            out = "null"
            for a in reversed(args):
                out = _bind(self.scope, a, lambda v, rest=out: f"(dyn({v}) != null ? dyn({v}) : dyn({rest}))")
            return out
        if name == "type":
            arity(1)
            return _bind(self.scope, args[0], lambda v: (
                f"(type({v}) == string ? \"string\" : type({v}) == bool ? \"boolean\" : type({v}) in {_NUMBER} ? "
                f"\"number\" : type({v}) == list ? \"array\" : type({v}) == map ? \"object\" : \"null\")"))
        if name == "abs":
            arity(1)
            return f"math.abs({args[0]})"
        if name == "split":
            arity(2)
            return f"{args[0]}.split({args[1]})"
        if name == "pattern_match":
            arity(2)
            if nodes[0]["type"] != "literal" or not isinstance(nodes[0]["value"], str):
                raise self.fail("pattern_match() with a pattern that is not a literal string")
            return f"{args[1]}.matches({json.dumps(glob_regex(nodes[0]['value']))})"
        if name == "regex_match":
            arity(2)
            return f"{args[1]}.matches({args[0]})"
        if name == "lookup":
            arity(2)
            return _bind(self.scope, args[0], lambda m: f"(type({m}) == map ? dyn({m}[?{args[1]}].orValue(null)) : "
                                                          f"dyn({m}[?int({args[1]})].orValue(null)))")
        raise self.fail(f"the function {name}() has no CEL translation with the same semantics")


def compile_jmespath(text: str, scope: Scope, cur: str | None = None) -> str:
    """The CEL form of the JMESPath expression ``text`` (``null`` where JMESPath gives null)."""
    try:
        parsed = Parser().parse(text).parsed
    except jp_exceptions.JMESPathError as exc:
        raise Untranslatable(f"the JMESPath expression {text!r} (it does not parse: {exc})") from None
    return _Compiler(scope, text).node(parsed, cur)
