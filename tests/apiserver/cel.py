"""A subset of CEL for webhook `matchConditions`: literals (int, double, string, bool, null, lists, maps),
the variables `object`, `oldObject` and `request`, field selection, indexing, `has()`, `!`, `-`, `&&`, `||`,
`? :`, comparisons, `in`, `+ - * / %`, `size()`, the string methods `startsWith`, `endsWith`, `contains`,
`matches`, `lowerAscii`, `upperAscii`, and the macros `all`, `exists`, `exists_one`, `filter`, `map`.
Anything else (`authorizer`, other functions, other syntax) fails to compile, so a configuration using it is
rejected when it is created rather than evaluated wrongly."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

VARIABLES = ("object", "oldObject", "request")
METHODS = {"startsWith", "endsWith", "contains", "matches", "lowerAscii", "upperAscii", "size"}
MACROS = {"all", "exists", "exists_one", "filter", "map"}
FUNCTIONS = {"size", "has", "string", "int"}


class CELError(Exception):
    """A compile error (unsupported or malformed expression) or an evaluation error."""


_TOKEN = re.compile(r"""\s*(?:
    (?P<num>\d+\.\d+|\d+u?)
  | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<op>==|!=|<=|>=|&&|\|\||[-+*/%<>!?:.,()\[\]{}])
  | (?P<id>[A-Za-z_][A-Za-z0-9_]*)
)""", re.X)


def _tokens(text: str) -> list[tuple[str, Any]]:
    out, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise CELError(f"Syntax error: token recognition error at: '{text[pos:].strip()[:10]}'")
        pos = m.end()
        if m.group("num"):
            n = m.group("num").rstrip("u")
            out.append(("lit", float(n) if "." in n else int(n)))
        elif m.group("str"):
            out.append(("lit", bytes(m.group("str")[1:-1], "utf-8").decode("unicode_escape")))
        elif m.group("op"):
            out.append(("op", m.group("op")))
        else:
            word = m.group("id")
            if word in ("true", "false"):
                out.append(("lit", word == "true"))
            elif word == "null":
                out.append(("lit", None))
            elif word == "in":
                out.append(("op", "in"))
            else:
                out.append(("id", word))
    out.append(("end", None))
    return out


@dataclass
class Node:
    kind: str
    args: tuple


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = _tokens(text)
        self.i = 0

    def peek(self, value: str | None = None) -> bool:
        kind, v = self.toks[self.i]
        return kind == "op" and v == value

    def take(self) -> tuple[str, Any]:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def expect(self, value: str) -> None:
        kind, v = self.take()
        if kind != "op" or v != value:
            raise CELError(f"Syntax error: expected '{value}', found '{v}'")

    def parse(self) -> Node:
        node = self.cond()
        if self.toks[self.i][0] != "end":
            raise CELError(f"Syntax error: unexpected '{self.toks[self.i][1]}'")
        return node

    def cond(self) -> Node:
        node = self.binary(0)
        if self.peek("?"):
            self.take()
            yes = self.cond()
            self.expect(":")
            return Node("?", (node, yes, self.cond()))
        return node

    LEVELS = (("||",), ("&&",), ("==", "!=", "<", "<=", ">", ">=", "in"), ("+", "-"), ("*", "/", "%"))

    def binary(self, level: int) -> Node:
        if level == len(self.LEVELS):
            return self.unary()
        node = self.binary(level + 1)
        while self.toks[self.i][0] == "op" and self.toks[self.i][1] in self.LEVELS[level]:
            op = self.take()[1]
            node = Node("bin", (op, node, self.binary(level + 1)))
        return node

    def unary(self) -> Node:
        if self.peek("!"):
            self.take()
            return Node("not", (self.unary(),))
        if self.peek("-"):
            self.take()
            return Node("neg", (self.unary(),))
        return self.member()

    def member(self) -> Node:
        node = self.primary()
        while True:
            if self.peek("."):
                self.take()
                kind, name = self.take()
                if kind != "id":
                    raise CELError(f"Syntax error: expected a field name, found '{name}'")
                if self.peek("("):
                    self.take()
                    node = self.call_method(node, name)
                else:
                    node = Node("field", (node, name))
            elif self.peek("["):
                self.take()
                index = self.cond()
                self.expect("]")
                node = Node("index", (node, index))
            else:
                return node

    def args(self) -> list[Node]:
        out = []
        while not self.peek(")"):
            out.append(self.cond())
            if not self.peek(")"):
                self.expect(",")
        self.take()
        return out

    def call_method(self, target: Node, name: str) -> Node:
        args = self.args()
        if name in MACROS:
            if len(args) != 2 or args[0].kind != "var":
                raise CELError(f"ERROR: <input>: {name}() takes a variable name and an expression")
            return Node("macro", (name, target, args[0].args[0], args[1]))
        if name not in METHODS:
            raise CELError(f"ERROR: <input>: undeclared reference to '{name}' (in container '')")
        return Node("method", (name, target, args))

    def primary(self) -> Node:
        kind, value = self.take()
        if kind == "lit":
            return Node("lit", (value,))
        if kind == "id":
            if self.peek("("):
                self.take()
                args = self.args()
                if value not in FUNCTIONS:
                    raise CELError(f"ERROR: <input>: undeclared reference to '{value}' (in container '')")
                if value == "has" and (len(args) != 1 or args[0].kind != "field"):
                    raise CELError("ERROR: <input>: invalid argument to has() macro")
                return Node("call", (value, args))
            return Node("var", (value,))
        if kind == "op" and value == "(":
            node = self.cond()
            self.expect(")")
            return node
        if kind == "op" and value == "[":
            items = []
            while not self.peek("]"):
                items.append(self.cond())
                if not self.peek("]"):
                    self.expect(",")
            self.take()
            return Node("list", tuple(items))
        if kind == "op" and value == "{":
            pairs = []
            while not self.peek("}"):
                k = self.cond()
                self.expect(":")
                pairs.append((k, self.cond()))
                if not self.peek("}"):
                    self.expect(",")
            self.take()
            return Node("map", tuple(pairs))
        raise CELError(f"Syntax error: mismatched input '{value}'")


def compile_expression(text: str) -> Node:
    """Parse and check an expression; CELError names what is not supported."""
    node = _Parser(text).parse()
    _check(node, set(VARIABLES))
    return node


def _check(node: Node, scope: set[str]) -> None:
    if node.kind == "var":
        if node.args[0] not in scope:
            raise CELError(f"ERROR: <input>: undeclared reference to '{node.args[0]}' (in container '')")
        return
    if node.kind == "macro":
        _, target, var, body = node.args
        _check(target, scope)
        _check(body, scope | {var})
        return
    for arg in node.args:
        if isinstance(arg, Node):
            _check(arg, scope)
        elif isinstance(arg, (list, tuple)):
            for a in arg:
                if isinstance(a, Node):
                    _check(a, scope)
                elif isinstance(a, tuple):
                    for b in a:
                        if isinstance(b, Node):
                            _check(b, scope)


def evaluate(node: Node, env: dict[str, Any]) -> Any:
    k, a = node.kind, node.args
    if k == "lit":
        return a[0]
    if k == "var":
        return env[a[0]]
    if k == "field":
        target = evaluate(a[0], env)
        if not isinstance(target, dict):
            raise CELError(f"no such key: {a[1]}")
        if a[1] not in target:
            raise CELError(f"no such key: {a[1]}")
        return target[a[1]]
    if k == "index":
        target, index = evaluate(a[0], env), evaluate(a[1], env)
        try:
            return target[index]
        except (KeyError, IndexError, TypeError):
            raise CELError(f"no such key: {index}") from None
    if k == "not":
        return not _bool(evaluate(a[0], env))
    if k == "neg":
        return -_num(evaluate(a[0], env))
    if k == "?":
        return evaluate(a[1] if _bool(evaluate(a[0], env)) else a[2], env)
    if k == "list":
        return [evaluate(n, env) for n in a]
    if k == "map":
        return {evaluate(x, env): evaluate(y, env) for x, y in a}
    if k == "bin":
        return _binary(a[0], a[1], a[2], env)
    if k == "call":
        name, args = a
        if name == "has":
            target = evaluate(args[0].args[0], env)
            return isinstance(target, dict) and args[0].args[1] in target
        values = [evaluate(x, env) for x in args]
        if len(values) != 1:
            raise CELError(f"found no matching overload for '{name}'")
        if name == "size":
            return _size(values[0])
        if name == "string":
            v = values[0]
            return ("true" if v else "false") if isinstance(v, bool) else str(v)
        try:
            return int(values[0])
        except (TypeError, ValueError):
            raise CELError(f"cannot convert {values[0]!r} to int") from None
    if k == "method":
        return _method(a[0], evaluate(a[1], env), [evaluate(x, env) for x in a[2]])
    if k == "macro":
        return _macro(a[0], evaluate(a[1], env), a[2], a[3], env)
    raise CELError(f"cannot evaluate {k}")


def _bool(v: Any) -> bool:
    if not isinstance(v, bool):
        raise CELError(f"no such overload: expected bool, got {type(v).__name__}")
    return v


def _num(v: Any) -> Any:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise CELError("no such overload")
    return v


def _size(v: Any) -> int:
    if isinstance(v, (str, list, dict)):
        return len(v)
    raise CELError("found no matching overload for 'size'")


def _binary(op: str, left: Node, right: Node, env: dict[str, Any]) -> Any:
    if op in ("&&", "||"):
        decisive = op == "||"
        try:
            lv = _bool(evaluate(left, env))
        except CELError:
            if _bool(evaluate(right, env)) == decisive:
                return decisive
            raise
        if lv == decisive:
            return decisive
        return _bool(evaluate(right, env))
    lv, rv = evaluate(left, env), evaluate(right, env)
    if op == "==":
        return lv == rv and type(lv) is type(rv) or (lv is None and rv is None)
    if op == "!=":
        return not (lv == rv and type(lv) is type(rv))
    if op == "in":
        if isinstance(rv, (list, dict)):
            return lv in rv
        raise CELError("found no matching overload for '@in'")
    if op in ("<", "<=", ">", ">="):
        if type(lv) is not type(rv) and not (isinstance(lv, (int, float)) and isinstance(rv, (int, float))):
            raise CELError(f"found no matching overload for '_{op}_'")
        return {"<": lv < rv, "<=": lv <= rv, ">": lv > rv, ">=": lv >= rv}[op]
    if op == "+":
        if type(lv) is not type(rv) or isinstance(lv, (bool, dict)) or lv is None:
            raise CELError("found no matching overload for '_+_'")
        return lv + rv
    lv, rv = _num(lv), _num(rv)
    if op == "-":
        return lv - rv
    if op == "*":
        return lv * rv
    if rv == 0:
        raise CELError("division by zero")
    if op == "/":
        return lv / rv if isinstance(lv, float) or isinstance(rv, float) else int(lv / rv)
    return lv % rv


def _method(name: str, target: Any, args: list[Any]) -> Any:
    if name == "size" and not args:
        return _size(target)
    if not isinstance(target, str) or any(not isinstance(x, str) for x in args):
        raise CELError(f"found no matching overload for '{name}'")
    if name in ("lowerAscii", "upperAscii") and not args:
        return target.lower() if name == "lowerAscii" else target.upper()
    if len(args) != 1:
        raise CELError(f"found no matching overload for '{name}'")
    if name == "startsWith":
        return target.startswith(args[0])
    if name == "endsWith":
        return target.endswith(args[0])
    if name == "contains":
        return args[0] in target
    try:
        return re.search(args[0], target) is not None
    except re.error as exc:
        raise CELError(f"invalid regular expression: {exc}") from None


def _macro(name: str, target: Any, var: str, body: Node, env: dict[str, Any]) -> Any:
    items = list(target.keys()) if isinstance(target, dict) else target
    if not isinstance(items, list):
        raise CELError(f"found no matching overload for '{name}'")
    results = [evaluate(body, {**env, var: item}) for item in items]
    if name == "map":
        return results
    flags = [_bool(r) for r in results]
    if name == "all":
        return all(flags)
    if name == "exists":
        return any(flags)
    if name == "exists_one":
        return flags.count(True) == 1
    return [item for item, keep in zip(items, flags) if keep]
