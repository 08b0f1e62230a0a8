"""A CEL parser for static analysis (the C++ runtime parses and checks again to evaluate).

verno reads the syntax tree itself for what the runtime does not expose: which ``variables.<name>`` an
expression references (lazy variables), how deep comprehensions nest and what they iterate over (the cost
bound, :mod:`verno.core.cel.cost`), and the source span of each reference. The grammar is CEL's
(https://github.com/google/cel-spec/blob/master/doc/langdef.md#syntax); recursion is bounded like cel-go's
parser (``MAX_DEPTH`` nested expressions) so a hostile expression cannot exhaust the Python stack.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["MAX_DEPTH", "MAX_LENGTH", "Node", "SyntaxError_", "parse"]

MAX_DEPTH = 100  # nested expressions (cel-go allows 250; deeper nesting than 100 is never written by hand)
MAX_LENGTH = 100_000  # code points; cel-go's default expression size limit is the same


class SyntaxError_(ValueError):
    """The expression is not CEL. ``offset`` is the 0-based code point offset of the problem."""

    def __init__(self, message: str, offset: int):
        self.offset = offset
        super().__init__(f"{message} at offset {offset}")


@dataclass(eq=False)
class Node:
    """One syntax tree node. ``kind`` is one of: literal, ident, select, index, call, list, map, struct,
    unary, binary, cond. ``start``/``end`` delimit its source text."""

    kind: str
    start: int
    end: int
    value: object = None  # literal value; ident/select field name; call name; operator
    args: list[Node] = field(default_factory=list)
    target: Node | None = None  # select/index operand, receiver of a member call
    optional: bool = False  # ``.?field`` / ``[?index]``
    literal_type: str = ""  # int, uint, double, string, bytes, bool, null

    def walk(self):
        """This node and every node below it, depth first."""
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.args))
            if node.target is not None:
                stack.append(node.target)


_TOKEN = re.compile(r"""
    (?P<ws>[ \t\r\n\f]+|//[^\n]*)
  | (?P<float>(?:\d+\.\d+(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+|\.\d+(?:[eE][+-]?\d+)?))
  | (?P<hex>0[xX][0-9a-fA-F]+[uU]?)
  | (?P<int>\d+[uU]?)
  | (?P<string>[rR]?[bB]?[rR]?(?:\"\"\"|'''|"|'))
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<quoted>`[^`]*`)
  | (?P<op>\|\||&&|==|!=|<=|>=|\.\?|\[\?|[-+*/%!<>?:.,()\[\]{}])
""", re.VERBOSE)
_RESERVED = {"as", "break", "const", "continue", "else", "for", "function", "if", "import", "let", "loop",
             "package", "namespace", "return", "var", "void", "while", "in"}


@dataclass
class _Tok:
    kind: str
    text: str
    start: int
    end: int
    value: object = None


def _string_end(src: str, pos: int, quote: str, raw: bool) -> int:
    i = pos
    while i < len(src):
        if src.startswith(quote, i):
            return i + len(quote)
        if src[i] == "\\" and not raw:
            i += 2
            continue
        if src[i] == "\n" and len(quote) == 1:
            break
        i += 1
    raise SyntaxError_("unterminated string", pos)


def _tokens(src: str) -> list[_Tok]:
    out: list[_Tok] = []
    pos = 0
    while pos < len(src):
        m = _TOKEN.match(src, pos)
        if not m:
            raise SyntaxError_(f"unexpected character {src[pos]!r}", pos)
        kind = m.lastgroup
        if kind == "ws":
            pos = m.end()
            continue
        if kind == "string":
            prefix = m.group()
            quote = prefix.lstrip("rRbB")
            raw = "r" in prefix.lower()
            end = _string_end(src, m.end(), quote, raw)
            text = src[pos:end]
            is_bytes = "b" in prefix.lower()
            out.append(_Tok("bytes" if is_bytes else "string", text, pos, end))
            pos = end
            continue
        selected = bool(out) and out[-1].kind == "op" and out[-1].text in (".", ".?")
        if kind == "ident" and m.group() in _RESERVED and m.group() != "in" and not selected:
            # a reserved word is refused as an identifier, not as a selected field (cel-go:
            # ``object.metadata.namespace`` is valid)
            raise SyntaxError_(f"reserved identifier {m.group()!r}", pos)
        if kind == "ident" and m.group() == "in":
            kind = "op"
        out.append(_Tok(kind, m.group(), pos, m.end()))
        pos = m.end()
    out.append(_Tok("eof", "", len(src), len(src)))
    return out


class _Parser:
    def __init__(self, src: str):
        self.src = src
        self.toks = _tokens(src)
        self.i = 0
        self.depth = 0

    def peek(self, text: str | None = None, kind: str | None = None) -> bool:
        tok = self.toks[self.i]
        return (text is None or (tok.kind == "op" and tok.text == text)) \
            and (kind is None or tok.kind == kind)

    def take(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def expect(self, text: str) -> _Tok:
        if not self.peek(text):
            tok = self.toks[self.i]
            raise SyntaxError_(f"expected {text!r}, found {tok.text or 'end of expression'!r}", tok.start)
        return self.take()

    def enter(self, pos: int) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise SyntaxError_(f"expression recursion limit exceeded (limit {MAX_DEPTH})", pos)

    def expr(self) -> Node:
        self.enter(self.toks[self.i].start)
        try:
            cond = self.binary(1)
            if self.peek("?"):
                self.take()
                then = self.expr()
                self.expect(":")
                other = self.expr()
                return Node("cond", cond.start, other.end, "?:", [cond, then, other])
            return cond
        finally:
            self.depth -= 1

    _PRECEDENCE = {"||": 1, "&&": 2, "==": 3, "!=": 3, "<": 3, "<=": 3, ">": 3, ">=": 3, "in": 3,
                   "+": 4, "-": 4, "*": 5, "/": 5, "%": 5}

    def binary(self, min_prec: int) -> Node:
        """Precedence climbing: left-associative binary operators of precedence >= ``min_prec``."""
        left = self.unary()
        while True:
            tok = self.toks[self.i]
            prec = self._PRECEDENCE.get(tok.text) if tok.kind == "op" else None
            if prec is None or prec < min_prec:
                return left
            self.take()
            self.enter(tok.start)
            right = self.binary(prec + 1)
            self.depth -= 1
            left = Node("binary", left.start, right.end, tok.text, [left, right])

    def unary(self) -> Node:
        if self.peek("!") or self.peek("-"):
            tok = self.take()
            self.enter(tok.start)
            operand = self.unary()
            self.depth -= 1
            if tok.text == "-" and operand.kind == "literal" and operand.literal_type in ("int", "double") \
                    and isinstance(operand.value, (int, float)) and operand.start == tok.end:
                return Node("literal", tok.start, operand.end, -operand.value,
                            literal_type=operand.literal_type)
            return Node("unary", tok.start, operand.end, tok.text, [operand])
        return self.member()

    def member(self) -> Node:
        node = self.primary()
        chain = 0
        while True:
            chain += 1
            if chain > MAX_DEPTH:
                raise SyntaxError_(f"expression recursion limit exceeded (limit {MAX_DEPTH})",
                                   self.toks[self.i].start)
            if self.peek(".") or self.peek(".?"):
                optional = self.take().text == ".?"
                name = self.take()
                if name.kind not in ("ident", "quoted"):
                    raise SyntaxError_("expected a field name", name.start)
                if self.peek("(") and not optional:
                    self.take()
                    args = self.arguments(")")
                    node = Node("call", node.start, self.toks[self.i - 1].end, name.text, args, target=node)
                else:
                    field_name = name.text.strip("`")
                    node = Node("select", node.start, name.end, field_name, target=node, optional=optional)
            elif self.peek("[") or self.peek("[?"):
                optional = self.take().text == "[?"
                index = self.expr()
                end = self.expect("]").end
                node = Node("index", node.start, end, None, [index], target=node, optional=optional)
            elif self.peek("{") and node.kind in ("ident", "select") and _is_qualified(node):
                self.take()
                fields = self.struct_fields()
                node = Node("struct", node.start, self.toks[self.i - 1].end, _qualified(node), fields)
            else:
                return node

    def arguments(self, close: str) -> list[Node]:
        args: list[Node] = []
        while not self.peek(close):
            args.append(self.expr())
            if not self.peek(","):
                break
            self.take()
        self.expect(close)
        return args

    def struct_fields(self) -> list[Node]:
        fields: list[Node] = []
        while not self.peek("}"):
            optional = self.peek("?")
            if optional:
                self.take()
            name = self.take()
            if name.kind != "ident":
                raise SyntaxError_("expected a field name", name.start)
            self.expect(":")
            value = self.expr()
            key = Node("literal", name.start, name.end, name.text, literal_type="string")
            fields.append(Node("binary", name.start, value.end, ":", [key, value], optional=optional))
            if not self.peek(","):
                break
            self.take()
        self.expect("}")
        return fields

    def primary(self) -> Node:
        tok = self.take()
        if tok.kind == "ident":
            if self.peek("("):
                self.take()
                args = self.arguments(")")
                return Node("call", tok.start, self.toks[self.i - 1].end, tok.text, args)
            if tok.text in ("true", "false"):
                return Node("literal", tok.start, tok.end, tok.text == "true", literal_type="bool")
            if tok.text == "null":
                return Node("literal", tok.start, tok.end, None, literal_type="null")
            return Node("ident", tok.start, tok.end, tok.text)
        if tok.kind == "op" and tok.text == ".":  # leading-dot global name
            name = self.take()
            if name.kind != "ident":
                raise SyntaxError_("expected an identifier", name.start)
            if self.peek("("):
                self.take()
                args = self.arguments(")")
                return Node("call", tok.start, self.toks[self.i - 1].end, name.text, args)
            return Node("ident", tok.start, name.end, name.text)
        if tok.kind == "op" and tok.text == "(":
            inner = self.expr()
            self.expect(")")
            return inner
        if tok.kind == "op" and tok.text in ("[", "[?"):
            elems: list[Node] = []
            while not self.peek("]"):
                optional = self.peek("?")
                if optional:
                    self.take()
                elem = self.expr()
                elem.optional = elem.optional or optional
                elems.append(elem)
                if not self.peek(","):
                    break
                self.take()
            end = self.expect("]").end
            return Node("list", tok.start, end, None, elems)
        if tok.kind == "op" and tok.text == "{":
            entries: list[Node] = []
            while not self.peek("}"):
                optional = self.peek("?")
                if optional:
                    self.take()
                key = self.expr()
                self.expect(":")
                value = self.expr()
                entries.append(Node("binary", key.start, value.end, ":", [key, value], optional=optional))
                if not self.peek(","):
                    break
                self.take()
            end = self.expect("}").end
            return Node("map", tok.start, end, None, entries)
        if tok.kind in ("int", "hex"):
            text = tok.text
            unsigned = text[-1] in "uU"
            digits = text[:-1] if unsigned else text
            value = int(digits, 16 if tok.kind == "hex" else 10)
            return Node("literal", tok.start, tok.end, value, literal_type="uint" if unsigned else "int")
        if tok.kind == "float":
            return Node("literal", tok.start, tok.end, float(tok.text), literal_type="double")
        if tok.kind in ("string", "bytes"):
            return Node("literal", tok.start, tok.end, _string_size(tok.text), literal_type=tok.kind)
        raise SyntaxError_(f"unexpected {tok.text or 'end of expression'!r}", tok.start)


def _string_size(text: str) -> int:
    """An upper bound on the literal's length (its source length without prefix and quotes)."""
    body = text.lstrip("rRbB")
    quote = 3 if body[:3] in ('"""', "'''") else 1
    return max(0, len(body) - 2 * quote)


def _is_qualified(node: Node) -> bool:
    while node.kind == "select" and not node.optional:
        node = node.target
    return node.kind == "ident"


def _qualified(node: Node) -> str:
    parts = []
    while node.kind == "select":
        parts.append(node.value)
        node = node.target
    parts.append(node.value)
    return ".".join(reversed(parts))


def parse(src: str) -> Node:
    """Parse ``src``; raises :class:`SyntaxError_` naming the offset of the problem."""
    if len(src) > MAX_LENGTH:
        raise SyntaxError_(f"expression code point size exceeds limit: size: {len(src)}, "
                           f"limit {MAX_LENGTH}", 0)
    parser = _Parser(src)
    try:
        node = parser.expr()
    except RecursionError:
        raise SyntaxError_("expression nesting too deep", 0) from None
    tok = parser.toks[parser.i]
    if tok.kind != "eof":
        raise SyntaxError_(f"unexpected {tok.text!r}", tok.start)
    return node
