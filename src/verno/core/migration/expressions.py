"""Kyverno's variables and conditions written as CEL (for ``verno migrate``).

Only what has one meaning in both languages is translated: ``{{ request.object.a.b }}``-style paths into the
admission request (``request.object`` -> ``object``, ``request.oldObject`` -> ``oldObject``, ``request.*`` ->
``request.*``), literals, and the condition operators with a direct CEL form. Anything else (JMESPath functions,
filters, ``||`` defaults, context entries) raises :class:`Untranslatable` saying what.
"""
from __future__ import annotations

import json
import re
from typing import Any

from verno.core.migration.errors import Untranslatable
from verno.core.migration.jmespath_cel import Scope, compile_jmespath
from verno.core.migration.literals import cel_literal, glob_regex

__all__ = ["Scope", "Untranslatable", "cel_literal", "condition_block", "glob_regex", "message_fields",
           "path_expression", "select", "value_expression", "variable_expression"]


_VAR = re.compile(r"\{\{\s*(.*?)\s*\}\}")
_SEGMENT = re.compile(r'\s*(?:([A-Za-z_][A-Za-z0-9_]*)|"((?:[^"\\]|\\.)*)"|\[(\d+)\])\s*')
_REQUEST_FIELDS = {"operation", "namespace", "name", "userInfo", "kind", "resource", "subResource", "dryRun"}
_RESERVED = {"in", "as", "break", "const", "continue", "else", "for", "function", "if", "import", "let", "loop",
             "package", "namespace", "return", "var", "void", "while", "true", "false", "null"}


def _segments(text: str) -> list[str | int]:
    out: list[str | int] = []
    i = 0
    while i < len(text):
        if out and text[i] == ".":
            i += 1
        m = _SEGMENT.match(text, i)
        if not m or m.end() == i:
            raise Untranslatable(f"the JMESPath expression {text!r} (only field paths translate)")
        name, quoted, index = m.groups()
        out.append(int(index) if index is not None else (quoted if quoted is not None else name))
        i = m.end()
    return out


def select(base: str, key: str | int) -> str:
    """``base.key`` (or ``base["key"]`` / ``base[0]``)."""
    if isinstance(key, int):
        return f"{base}[{key}]"
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key) and key not in _RESERVED:
        return f"{base}.{key}"
    return f"{base}[{json.dumps(key)}]"


def path_expression(path: str, scope: Scope | None = None) -> str:
    """``request.object.spec.containers[0].image`` -> ``object.spec.containers[0].image`` (a missing key is an
    error, as Kyverno's "Unknown key"); a context entry or foreach element by its CEL name."""
    segments = _segments(path.strip())
    resolved = scope.resolve(str(segments[0])) if scope is not None and isinstance(segments[0], str) else None
    if segments[:2] in (["request", "object"], ["request", "oldObject"]):
        out, rest = str(segments[1]), segments[2:]
    elif segments[:1] == ["request"] and len(segments) > 1 and segments[1] in _REQUEST_FIELDS:
        out, rest = "request", segments[1:]
    elif resolved is not None:
        out, rest = resolved, segments[1:]
    else:
        raise Untranslatable(f"the variable {{{{{path}}}}} (only request.object, request.oldObject, request "
                             "fields, context entries and foreach elements translate)")
    if scope is not None and scope.errors is not None:
        return _lenient_path(out, rest, scope)
    for seg in rest:
        out = select(out, seg)
    return out


def _lenient_path(root: str, rest: list[str | int], scope: Scope) -> str:
    """``root`` followed by ``rest`` with JMESPath's null for a field of a non-map or an index out of range,
    and (added to ``scope.errors``) Kyverno's "Unknown key" condition: some step is a map without its key."""
    def step(v: str, seg: str | int) -> str:
        if isinstance(seg, int):
            return f"(type({v}) == list && size({v}) > {seg} ? dyn({v}[{seg}]) : dyn(null))"
        key = json.dumps(seg)
        return f"(type({v}) == map && {key} in {v} ? dyn({v}[{key}]) : dyn(null))"

    def walk(v: str, segs: list[str | int], last: Any) -> str:
        if not segs:
            return last(v)
        name = scope.fresh()
        return f"cel.bind({name}, {step(v, segs[0])}, {walk(name, segs[1:], last)})" if len(segs) > 1 \
            else last(step(v, segs[0]))

    def missing(v: str, segs: list[str | int]) -> str:
        seg, more = segs[0], segs[1:]
        here = "false" if isinstance(seg, int) else f"(type({v}) == map && !({json.dumps(seg)} in {v}))"
        if not more:
            return here
        name = scope.fresh()
        return f"({here} || cel.bind({name}, {step(v, seg)}, {missing(name, more)}))"

    if not rest:
        return root
    assert scope.errors is not None
    if any(isinstance(s, str) for s in rest):
        scope.errors.append(missing(root, rest))
    return walk(root, rest, lambda v: v)


def variable_expression(text: str, scope: Scope | None = None) -> str:
    """One ``{{ text }}``: a plain path strictly (:func:`path_expression`), anything else as JMESPath."""
    if "{{" in text or "}}" in text:
        raise Untranslatable(f"the nested variable {{{{{text}}}}}")
    try:
        segments = _segments(text.strip())
    except Untranslatable:
        segments = None
    if segments is not None:
        return path_expression(text, scope)
    return compile_jmespath(text, scope or Scope())


def value_expression(value: Any, scope: Scope | None = None) -> str:
    """A condition key or value: a literal, a whole ``{{ path }}``, or a string with paths inside (joined)."""
    if isinstance(value, str):
        spots = list(_VAR.finditer(value))
        if not spots:
            return cel_literal(value)
        if len(spots) == 1 and spots[0].span() == (0, len(value)):
            return variable_expression(spots[0].group(1), scope)
        parts, cursor = [], 0
        for m in spots:
            if m.start() > cursor:
                parts.append(cel_literal(value[cursor:m.start()]))
            parts.append(f"string({variable_expression(m.group(1), scope)})")
            cursor = m.end()
        if cursor < len(value):
            parts.append(cel_literal(value[cursor:]))
        return " + ".join(parts)
    if isinstance(value, list):
        return "[" + ", ".join(value_expression(v, scope) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))}: {value_expression(v, scope)}" for k, v in value.items()) + "}"
    return cel_literal(value)


def message_fields(message: str, scope: Scope | None = None) -> dict[str, str]:
    """``{"message": text}`` for a plain message, ``{"messageExpression": expr}`` for one with variables."""
    if "{{" not in message:
        return {"message": message} if message else {}
    return {"messageExpression": value_expression(message, scope)}


def _as_list(expr: str, raw: Any) -> str:
    """``expr`` as a list: a literal list as it is, a literal scalar in a list, anything else decided when
    evaluated (typed ``dyn`` so that both branches have one type)."""
    if isinstance(raw, list):
        return expr
    if not (isinstance(raw, str) and "{{" in raw):
        return f"[{expr}]"
    return f"(type({expr}) == list ? dyn({expr}) : dyn([{expr}]))"


def _condition(cond: Any, scope: Scope | None) -> str:
    op = str(cond.operator)
    key, value = value_expression(cond.key, scope), value_expression(cond.value, scope)
    if op in ("Equals", "Equal"):
        if isinstance(cond.value, str) and any(c in cond.value for c in "*?") and "{{" not in cond.value:
            return f"string({key}).matches({json.dumps(glob_regex(cond.value))})"
        return f"{key} == {value}"
    if op in ("NotEquals", "NotEqual"):
        return f"{key} != {value}"
    if op in ("In", "AnyIn", "AllIn", "NotIn", "AllNotIn", "AnyNotIn") and not (
            isinstance(cond.value, list) and all(isinstance(v, str) and "{{" not in v and not any(c in v for c in "*?")
                                                 for v in cond.value)):
        raise Untranslatable(f"the condition operator {op} over a value other than a literal list of strings without "
                             "wildcards (Kyverno matches wildcards both ways and reads JSON and range strings)")
    keys, values = _as_list(key, cond.key), _as_list(value, cond.value)
    if op in ("In", "AnyIn"):
        return f"{keys}.exists(k, k in {values})"
    if op == "AllIn":
        return f"{keys}.all(k, k in {values})"
    if op in ("NotIn", "AllNotIn"):
        return f"{keys}.all(k, !(k in {values}))"
    if op == "AnyNotIn":
        return f"{keys}.exists(k, !(k in {values}))"
    compare = {"GreaterThan": ">", "GreaterThanOrEquals": ">=", "LessThan": "<", "LessThanOrEquals": "<="}
    if op in compare:
        literal = cond.value if not (isinstance(cond.value, str) and "{{" in cond.value) else None
        if isinstance(literal, str):
            from verno.core.duration import try_parse_duration
            from verno.core.quantity import try_parse_quantity

            if try_parse_duration(literal) is not None and try_parse_quantity(literal) is None:
                return f"duration(string({key})) {compare[op]} duration({value})"
            if try_parse_quantity(literal) is not None:
                return f"quantity(string({key})).compareTo(quantity({value})) {compare[op]} 0"
        return f"double({key}) {compare[op]} double({value})"
    if op.startswith("Duration"):
        cmp = {"DurationGreaterThan": ">", "DurationGreaterThanOrEquals": ">=", "DurationLessThan": "<",
               "DurationLessThanOrEquals": "<="}.get(op)
        if cmp:
            return f"duration(string({key})) {cmp} duration(string({value}))"
    raise Untranslatable(f"the condition operator {op}")


def condition_block(block: Any, scope: Scope | None = None) -> str:
    """``any``/``all`` conditions (or a plain list, which means all) as one CEL boolean."""
    if block is None:
        return "true"
    if isinstance(block, list):
        return " && ".join(f"({_condition(c, scope)})" for c in block) or "true"
    parts = []
    if block.any:
        parts.append("(" + " || ".join(f"({_condition(c, scope)})" for c in block.any) + ")")
    if block.all:
        parts.append("(" + " && ".join(f"({_condition(c, scope)})" for c in block.all) + ")")
    return " && ".join(parts) or "true"
