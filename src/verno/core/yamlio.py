"""Reading YAML and JSON documents with the meaning Kubernetes gives them.

Kubernetes (and Kyverno) read YAML with ``sigs.k8s.io/yaml``: go-yaml v2 decodes each document with
YAML 1.1 rules into ``interface{}`` values, which are then converted to JSON. The resulting meaning,
which every document read here gets, is:

* **booleans**: ``y Y yes Yes YES on On ON true True TRUE`` and the matching false words;
* **null**: ``~ null Null NULL`` and the empty plain scalar;
* **integers**: Go's ``ParseInt(s, 0, 64)`` after removing ``_``: ``017`` is octal 15, ``0o17``, ``0x1F``
  and ``0b101`` have their prefix meaning, ``1_000`` is 1000; values beyond int64 (uint64) become floats
  when they look like one and stay strings otherwise;
* **floats**: ``[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?`` (so ``1e3`` is 1000.0) and the
  ``.inf``/``.nan`` words; an overflowing float (``1e400``) stays a string. ``.inf``/``.nan`` are kept as
  Python floats (Kubernetes' JSON conversion would reject the document);
* **strings**: everything else, including sexagesimal ``1:30`` and timestamps: ``2001-12-14`` stays the
  string it is written as (go-yaml v2 hands timestamp-looking values to ``interface{}`` as strings);
* **mapping keys** are strings, as in JSON: ``1`` becomes ``"1"``, ``true`` (or ``yes``) becomes
  ``"true"``, a float key is printed the way Go prints a float32; a null or collection key is an error;
* **duplicate keys**: the last value wins (go-yaml v2 outside strict mode, and JSON);
* **merge keys** ``<<`` (a mapping or a list of mappings, earlier ones taking precedence) are applied
  where they appear, overwriting keys written before them, as go-yaml v2 does;
* **aliases** are expanded into independent copies (as the JSON conversion does); the total expansion
  is bounded by :data:`MAX_ALIAS_EVENTS` so an alias bomb fails fast;
* **tags**: ``!!str``/``!!int``/``!!float``/``!!bool``/``!!null``/``!!timestamp``/``!!binary`` are
  honoured; any other tag is ignored (the node keeps its plain kind and its scalar stays a string).

Collections nested more than :data:`MAX_DEPTH` deep are rejected with a :class:`LoadError`.

Characters YAML 1.1 does not allow in a stream (C0/C1 control characters but tab, line feed, carriage
return and NEL; U+FFFE, U+FFFF; lone surrogates) make the document an error naming the line and column,
as libyaml and go-yaml reject it ("control characters are not allowed"), never a shorter document.

Parsing is done per document, lazily: the text is split on ``---``/``...`` lines and each document is
parsed only when the iterator reaches it. A document goes through ``yaml_rs`` (YAML 1.2, about 7x faster
than PyYAML) only when a scan of its raw text proves it free of anything whose meaning differs between
YAML 1.2 and the rules above (YAML 1.1 scalars, forbidden characters, tabs where YAML 1.1 takes none,
block scalars at the root, empty or cut off by the end of the text, surrogate escapes, ...); otherwise
(and whenever ``yaml_rs`` rejects it) it is built from libyaml's event stream by :func:`_build_document`,
which implements the rules directly. A text starting with ``{`` or ``[`` is first read as JSON, with the
numbers meaning what the reference path reads (NaN, 1e400 and integers beyond uint64 as above).
"""
from __future__ import annotations

import base64
import binascii
import json
import math
import re
import struct
from collections.abc import Iterator
from typing import Any

import re2
import yaml
import yaml_rs
from yaml._yaml import CParser

from verno.core.errors import LoadError

#: Collections may nest this deep at most (the root mapping is depth 1).
MAX_DEPTH = 256
#: Alias expansion budget per document, in parser events (a scalar is 1, a collection 2 plus content).
MAX_ALIAS_EVENTS = 1_000_000

__all__ = ["MAX_ALIAS_EVENTS", "MAX_DEPTH", "depth_message", "iter_documents", "json_too_deep",
           "load_document"]

# ---------------------------------------------------------------------------------------------------------
# Splitting a stream into documents
# ---------------------------------------------------------------------------------------------------------

_MARKER = re.compile(r"^(---|\.\.\.)(?=[ \t\r\n]|$)", re.MULTILINE)
_CONTENT_LINE = re.compile(r"^[ \t]*[^ \t\r\n#%]", re.MULTILINE)


def _split(text: str) -> Iterator[tuple[int, str, int]]:
    """(document index, document text, 0-based line of its first character), lazily.

    A ``---`` line always starts a document (even an empty one). Text before the first ``---`` or after
    a ``...`` line is a document only when it holds something besides comments and directives; directive
    lines (``%TAG``) are carried to the document that follows them.
    """
    index = 0
    start = 0  # start of the pending text
    line = 0  # line number of ``start``
    explicit = False  # pending text began with ``---``
    for m in _MARKER.finditer(text):
        pos = m.start()
        chunk = text[start:pos]
        if explicit or _CONTENT_LINE.search(chunk):
            yield index, chunk, line
            index += 1
            line += chunk.count("\n")
            start = pos
        elif "%" not in chunk:  # comments only: drop them, keep line numbers right
            line += chunk.count("\n")
            start = pos
        # else: directives stay in the pending text, in front of the document they belong to
        if m.group(1) == "---":
            explicit = True
        else:  # ``...`` ends the document: skip the marker line
            explicit = False
            eol = text.find("\n", m.end())
            if eol < 0:
                return
            line += text.count("\n", start, eol + 1)
            start = eol + 1
    chunk = text[start:]
    if explicit or _CONTENT_LINE.search(chunk):
        yield index, chunk, line


# ---------------------------------------------------------------------------------------------------------
# Kubernetes (go-yaml v2) scalar resolution
# ---------------------------------------------------------------------------------------------------------

_MISSING = object()
_PLAIN_WORDS: dict[str, Any] = {}
for _words, _value in (
    (("y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"), True),
    (("n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"), False),
    (("", "~", "null", "Null", "NULL"), None),
    ((".nan", ".NaN", ".NAN"), math.nan),
    ((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), math.inf),
    (("-.inf", "-.Inf", "-.INF"), -math.inf),
):
    for _w in _words:
        _PLAIN_WORDS[_w] = _value

_YAML_STYLE_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_GO_DOT_FLOAT = re.compile(r"\.[0-9]+(?:_[0-9]+)*(?:[eE][-+]?[0-9]+(?:_[0-9]+)*)?")
_DIGITS = {2: re.compile(r"[01]+"), 8: re.compile(r"[0-7]+"), 10: re.compile(r"[0-9]+"),
           16: re.compile(r"[0-9a-fA-F]+")}
_PREFIX_BASE = {"b": 2, "B": 2, "o": 8, "O": 8, "x": 16, "X": 16}
_INT64_MAX = (1 << 63) - 1
_UINT64_MAX = (1 << 64) - 1


def _go_parse_uint(s: str, base: int = 0) -> int | None:
    """Go's ``strconv.ParseUint(s, base, 64)`` (base 0 or 2), None on error."""
    if base == 0:
        if s[:1] == "0":
            if len(s) >= 3 and s[1] in _PREFIX_BASE:
                base, s = _PREFIX_BASE[s[1]], s[2:]
            else:
                base, s = 8, s[1:]
                if not s:
                    return 0
        else:
            base = 10
    if not _DIGITS[base].fullmatch(s):
        return None
    n = int(s, base)
    return n if n <= _UINT64_MAX else None


def _go_parse_int(s: str, base: int = 0) -> int | None:
    """Go's ``strconv.ParseInt(s, base, 64)``, None on error."""
    neg = s[:1] == "-"
    if s[:1] in ("+", "-"):
        s = s[1:]
    if not s:
        return None
    n = _go_parse_uint(s, base)
    if n is None or n > _INT64_MAX + neg:
        return None
    return -n if neg else n


def _float_or_none(s: str) -> float | None:
    f = float(s)
    return None if math.isinf(f) else f  # Go reports overflow as an error: the scalar stays a string


def _resolve_number(s: str) -> Any:
    """go-yaml v2's resolution of a plain scalar starting with a digit or a sign."""
    plain = s.replace("_", "")
    if plain:
        for parse in (_go_parse_int, _go_parse_uint):
            n = parse(plain)
            if n is not None:
                return n
        if _YAML_STYLE_FLOAT.fullmatch(plain):
            f = _float_or_none(plain)
            if f is not None:
                return f
        if plain.startswith("0b"):  # go-yaml's own binary branch: ParseInt(plain[2:], 2)
            n = _go_parse_int(plain[2:], 2)
            if n is None:
                n = _go_parse_uint(plain[2:], 2)
            if n is not None:
                return n
        elif plain.startswith("-0b"):
            n = _go_parse_int("-" + plain[3:], 2)
            if n is not None:
                return n
    return s


def resolve_plain(s: str) -> Any:
    """The value Kubernetes gives the plain (unquoted, untagged) scalar ``s``."""
    value = _PLAIN_WORDS.get(s, _MISSING)
    if value is not _MISSING:
        return value
    c = s[0]
    if c in "0123456789+-":
        return _resolve_number(s)
    if c == "." and _GO_DOT_FLOAT.fullmatch(s):
        f = _float_or_none(s.replace("_", ""))
        if f is not None:
            return f
    return s


_TAG = "tag:yaml.org,2002:"
_TYPE_TAGS = {bool: "bool", int: "int", float: "float", type(None): "null", str: "str"}


def _resolve_tagged(tag: str, s: str) -> Any:
    """A scalar with an explicit tag (go-yaml v2 ``resolve(tag, in)``); raises ValueError."""
    short = tag[len(_TAG):] if tag.startswith(_TAG) else None
    if short == "binary":
        try:
            return base64.b64decode("".join(s.split()), validate=True).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            raise ValueError("!!binary value contains invalid base64 data") from None
    if short not in ("bool", "int", "float", "null", "timestamp"):
        return s  # !!str, and tags Kubernetes does not resolve: the text itself
    if short == "timestamp":
        if re.fullmatch(r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt ][0-9:.]+.*)?", s):
            return s
        raise ValueError(f"cannot decode !!str `{s}` as a !!timestamp")
    value = resolve_plain(s) if s else None
    got = _TYPE_TAGS.get(type(value), "str")
    if got == short:
        return value
    if short == "float" and got == "int":
        return float(value)
    raise ValueError(f"cannot decode !!{got} `{s}` as a !!{short}")


def _go_float32_key(f: float) -> str:
    """Go's ``strconv.FormatFloat(f, 'g', -1, 32)`` as sigs.k8s.io/yaml uses for float map keys."""
    if math.isnan(f):
        return ".nan"
    try:
        f32 = struct.unpack("f", struct.pack("f", f))[0]
    except OverflowError:
        f32 = math.copysign(math.inf, f)
    if math.isinf(f32):
        return ".inf" if f32 > 0 else "-.inf"
    if f32 == 0:
        return "-0" if math.copysign(1, f32) < 0 else "0"
    for digits in range(1, 10):  # the shortest decimal that reads back as the same float32
        text = f"{f32:.{digits - 1}e}"
        if struct.unpack("f", struct.pack("f", float(text)))[0] == f32:
            break
    mantissa, exp_text = text.split("e")
    exp = int(exp_text)
    sign = "-" if mantissa.startswith("-") else ""
    significant = mantissa.lstrip("-").replace(".", "").rstrip("0") or "0"
    if exp < -4 or exp >= 6:  # %e, with at least two exponent digits
        body = significant[0] + ("." + significant[1:] if len(significant) > 1 else "")
        return f"{sign}{body}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if exp < 0:
        return f"{sign}0.{'0' * (-exp - 1)}{significant}"
    whole = significant[: exp + 1].ljust(exp + 1, "0")
    frac = significant[exp + 1:]
    return f"{sign}{whole}{'.' + frac if frac else ''}"


def _json_key(key: Any) -> str:
    """A mapping key as sigs.k8s.io/yaml writes it to JSON; raises ValueError if it cannot."""
    if isinstance(key, str):
        return key
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, int):
        return str(key)
    if isinstance(key, float):
        return _go_float32_key(key)
    if key is None:
        raise ValueError("unsupported map key: null")
    raise ValueError(f"invalid map key: a {'mapping' if isinstance(key, dict) else 'sequence'}")


# ---------------------------------------------------------------------------------------------------------
# The reference builder: libyaml events -> Python values, iteratively
# ---------------------------------------------------------------------------------------------------------


class _DocError(Exception):
    def __init__(self, line: int, message: str):
        self.line = line
        super().__init__(message)


_MERGE = object()
_NOKEY = object()


def _expand(value: Any, budget: list[int], depth: int, line: int) -> Any:
    """An independent copy of an anchored value, charged to the alias budget."""
    if not isinstance(value, (dict, list)):
        budget[0] -= 1
        if budget[0] < 0:
            raise _DocError(line, _alias_message())
        return value
    root: Any = type(value)()
    todo = [(value, root, depth + 1)]
    while todo:
        src, dst, d = todo.pop()
        if d > MAX_DEPTH:
            raise _DocError(line, _depth_message())
        budget[0] -= 2 + (2 * len(src) if isinstance(src, dict) else len(src))
        if budget[0] < 0:
            raise _DocError(line, _alias_message())
        items = src.items() if isinstance(src, dict) else enumerate(src)
        for k, v in items:
            if isinstance(v, (dict, list)):
                v_copy: Any = type(v)()
                todo.append((v, v_copy, d + 1))
                v = v_copy
            if isinstance(dst, dict):
                dst[k] = v
            else:
                dst.append(v)
    return root


def depth_message() -> str:
    """What a text nested deeper than :data:`MAX_DEPTH` is told."""
    return _depth_message()


def _alias_message() -> str:
    return f"aliases expand to more than {MAX_ALIAS_EVENTS} values (an alias bomb?)"


def _depth_message() -> str:
    return f"collections nested more than {MAX_DEPTH} levels deep"


def _merge(target: dict, value: Any, line: int) -> None:
    if isinstance(value, dict):
        target.update(value)
    elif isinstance(value, list) and all(isinstance(v, dict) for v in value):
        for item in reversed(value):  # earlier mappings take precedence
            target.update(item)
    else:
        raise _DocError(line, "map merge requires map or sequence of maps as the value")


def _build_document(text: str) -> Any:
    """Parse one YAML document with Kubernetes' meaning. Raises _DocError or yaml.YAMLError."""
    parser = CParser(text)
    try:
        return _build_events(parser)
    finally:
        parser.dispose()


def _build_events(parser: CParser) -> Any:
    get = parser.get_event
    stack: list[list[Any]] = []  # [container, pending key, anchor]
    anchors: dict[str, Any] = {}
    open_anchors: set[str] = set()
    budget = [MAX_ALIAS_EVENTS]
    root: Any = None
    documents = 0
    scalar, map_start, seq_start = yaml.ScalarEvent, yaml.MappingStartEvent, yaml.SequenceStartEvent
    coll_end = (yaml.MappingEndEvent, yaml.SequenceEndEvent)
    while True:
        ev = get()
        t = type(ev)
        merge_key = False
        if t is scalar:
            tag = ev.tag
            if tag is None and ev.implicit[0]:
                value = resolve_plain(ev.value)
                merge_key = ev.value == "<<"
            elif tag is None or tag == "!":  # quoted, block, or the non-specific tag: a string
                value = ev.value
            elif tag == _TAG + "merge":
                value, merge_key = ev.value, True
            else:
                try:
                    value = _resolve_tagged(tag, ev.value)
                except ValueError as exc:
                    raise _DocError(ev.start_mark.line, str(exc)) from None
            if ev.anchor:
                anchors[ev.anchor] = value
        elif t is map_start or t is seq_start:
            if len(stack) >= MAX_DEPTH:
                raise _DocError(ev.start_mark.line, _depth_message())
            if ev.anchor:
                open_anchors.add(ev.anchor)
            stack.append([{} if t is map_start else [], _NOKEY, ev.anchor])
            continue
        elif t in coll_end:
            value, _, anchor = stack.pop()
            if anchor:
                open_anchors.discard(anchor)
                anchors[anchor] = value
        elif t is yaml.AliasEvent:
            name = ev.anchor
            if name in open_anchors:
                raise _DocError(ev.start_mark.line, f"anchor '{name}' value contains itself")
            if name not in anchors:
                raise _DocError(ev.start_mark.line, f"unknown anchor '{name}' referenced")
            value = _expand(anchors[name], budget, len(stack), ev.start_mark.line)
        elif t is yaml.DocumentStartEvent:
            documents += 1
            if documents > 1:
                raise _DocError(ev.start_mark.line, "expected a single document")
            continue
        elif t is yaml.StreamEndEvent:
            return root
        else:  # stream start, document end
            continue
        if not stack:
            root = value
            continue
        frame = stack[-1]
        container = frame[0]
        if type(container) is list:
            container.append(value)
        elif frame[1] is _NOKEY:
            if merge_key:
                frame[1] = _MERGE
            else:
                try:
                    frame[1] = _json_key(value)
                except ValueError as exc:
                    raise _DocError(ev.start_mark.line, str(exc)) from None
        else:
            key, frame[1] = frame[1], _NOKEY
            if key is _MERGE:
                _merge(container, value, ev.start_mark.line)
            else:
                container[key] = value


# ---------------------------------------------------------------------------------------------------------
# The fast path: yaml_rs for documents proven to mean the same in YAML 1.2
# ---------------------------------------------------------------------------------------------------------

# The scan looks at every token that starts where a plain scalar can start (at the start of a line, after
# whitespace, after a flow indicator ``[{,``, or right after a JSON-style ``":``) and ends where a plain
# scalar can end. Prose and quoted text can only cause false alarms, which cost speed, not correctness.
# RE2 runs the whole set in one linear pass (no backtracking), several times faster than ``re`` here.
_B = r"(?:^|[\s\[{,]|[\"']:)"  # where a token starts
_E = r"[ \t\r]*(?:$|#|[,\]}:])"  # where it ends
# Numbers: a token made of the characters number syntaxes use (``500m``, ``128Mi`` are strings
# everywhere) is safe only as ``[-+]?(0|[1-9][0-9]{0,17})(\.[0-9]*)?([eE][-+]?[0-9]{1,2})?`` or
# ``[-+]?\.[0-9]+([eE][-+]?[0-9]{1,2})?``, and not as a mapping key. Each line below is one way to fail.
_A = r"[0-9a-fA-FxXoObBiInN_.:+-]"
_N = _B + r"[-+]?\.?[0-9]" + _A + "*"  # a number token, up to its first digit and on
_X = r"[a-fA-FxXoObBiInN_:+-]"  # a number-token character other than a digit or a dot
_UNSAFE_NUMBERS = (
    _N + r"[a-dfA-DFxXoOiInN_:]" + _A + "*" + _E,  # prefixes, hex digits, _, sexagesimal/time colons
    _B + _A + "*_" + _A + "*" + _E,  # yaml_rs drops underscores anywhere (_.5 is 0.5)
    _N + r"[0-9.+-][+-]" + _A + "*" + _E,  # a sign not right after the exponent mark (dates, 1-2)
    # two dots (after the first digit) with anything but digits and dots: dotted-decimal versions and
    # addresses (1.0.0, 10.0.0.1) are strings under both YAML 1.1 and 1.2 and stay on the fast path
    _N + r"\." + _A + r"*\." + _A + "*" + _X + _A + "*" + _E,
    _N + r"\." + _A + "*" + _X + _A + r"*\." + _A + "*" + _E,
    _B + r"[-+]?\.?[0-9][0-9.]*" + _X + _A + r"*\." + _A + r"*\." + _A + "*" + _E,
    _B + r"[-+]?\.[0-9]" + _A + r"*\." + _A + "*" + _E,  # two dots (.5.3)
    _N + r"[eE]" + _A + r"*[eE.]" + _A + "*" + _E,  # two exponents, a dot in the exponent
    _N + r"[eE][-+]?(?:[^0-9]|$)",  # an exponent mark without digits
    _N + r"[eE][-+]?[0-9]{3}",  # a three-digit exponent (overflow: Kubernetes keeps a string)
    _B + r"[-+]?0[0-9]" + _A + "*" + _E,  # a leading zero (octal in YAML 1.1)
    _B + r"[-+]?[0-9]{19}" + _A + "*" + _E,  # beyond int64
    _B + r"[-+]?\.(?i:inf|nan)" + _E,  # .inf/.nan spellings
    _N + r"[ \t]*:(?:[ \t\r]|$)",  # a number as a mapping key
)
_UNSAFE = re2.compile("(?m)" + "|".join((
    _B + r"(?:[yY](?:[eE][sS])?|[nN][oO]?|[oO](?:[nN]|[fF][fF]))" + _E,  # YAML 1.1 booleans
    _B + r"(?:[tT](?i:rue)|[fF](?i:alse)|[nN](?i:ull)|~)[ \t]*:(?:[ \t\r]|$)",  # boolean/null keys
    *_UNSAFE_NUMBERS,
    r"(?:^|[\s\[{,])[:?*!&]",  # empty or complex keys, aliases, tags, anchors
    r"[\]}][ \t]*:(?:[ \t\r]|$)",  # collections as keys
    r"<<",  # merge keys
    r"^%",  # directives
    r"^[ \t?:-]{64}",  # deep block nesting (bounds the depth yaml_rs could build)
    "[\x85\u2028\u2029\ufeff]",  # YAML 1.1 line breaks, stray BOMs
    r"^[ \t]*[|>]",  # a block scalar at the root (YAML 1.2 lets its content start in column 0)
    # ``|``/``>`` starting a token in a flow collection (YAML 1.1 rejects it; yaml_rs reads a plain scalar)
    r"[\[{,][ \t]*[|>]",
    r":[ \t]+[|>][-+0-9]*(?:[^-+0-9 \t\r\n#]|[ \t]+[^ \t\r\n#])",
    # an empty block scalar ends the document
    r"[|>][-+0-9]*[ \t\r]*(?:#[^\n]*)?(?:\n[ \t\r]*(?:#[^\n]*)?)*\z",
    r"(?:^|[ \t?:,\[\]{}|>-])\t",  # tabs as indentation or separation (YAML 1.1 allows fewer places)
    r"\\[uU]0*[dD][89a-fA-F][0-9a-fA-F]{2}",  # surrogate escapes (YAML 1.1 rejects even a pair)
    # characters YAML 1.1 does not allow in a stream (yaml_rs keeps them, or stops at a NUL)
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ufffe\uffff]",
)))


def _unsafe(text: str) -> bool:
    """Whether ``text`` may hold a scalar whose YAML 1.2 meaning differs from Kubernetes' meaning."""
    return _UNSAFE.search(text) is not None


#: A document passing _UNSAFE nests block collections at most this deep (see the ``{64}`` above).
_BLOCK_DEPTH_BOUND = 2 * 64 + 2
_RS_OPTIONS: dict[str, Any] = {
    "parse_datetime": False,
    "alias_limits": yaml_rs.AliasLimits(max_total_replayed_events=MAX_ALIAS_EVENTS),
    "duplicate_key_policy": yaml_rs.DuplicateKeyPolicy.LastWins,
}


def _fast(text: str) -> Any:
    """The document parsed by yaml_rs, or _MISSING when it must take the reference path."""
    try:
        if _unsafe(text):
            return _MISSING
    except UnicodeEncodeError:  # a lone surrogate: the reference path reports it
        return _MISSING
    if not text.endswith("\n") and ("|" in text or ">" in text):
        return _MISSING  # yaml_rs ends a block scalar cut off by the end of the text with a line break
    try:
        value = yaml_rs.loads(text, **_RS_OPTIONS)
    except (yaml_rs.YAMLDecodeError, ValueError, TypeError):
        return _MISSING  # the reference path reports the error (or accepts what yaml_rs does not)
    if _BLOCK_DEPTH_BOUND + text.count("[") + text.count("{") > MAX_DEPTH and _depth(value) > MAX_DEPTH:
        return _MISSING
    return value


def _depth(value: Any) -> int:
    """How deep collections nest in ``value`` (0 for a scalar)."""
    deepest = 0
    todo = [(value, 1)]
    while todo:
        v, d = todo.pop()
        if isinstance(v, dict):
            v = v.values()
        elif not isinstance(v, list):
            continue
        deepest = max(deepest, d)
        todo.extend((c, d + 1) for c in v if isinstance(c, (dict, list)))
    return deepest


# ---------------------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------------------


def _error_message(exc: yaml.YAMLError, line0: int) -> str:
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        msg = f"line {exc.problem_mark.line + line0 + 1}: {exc.problem}"
        if exc.context:
            msg += f" ({exc.context}"
            if exc.context_mark is not None:
                msg += f" at line {exc.context_mark.line + line0 + 1}"
            msg += ")"
        return msg
    return str(exc).replace("\n", " ")


#: characters a YAML 1.1 stream may not hold (libyaml's reader check)
_NON_PRINTABLE = re.compile("[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _non_printable_message(text: str, line0: int) -> str | None:
    """Where the first character YAML does not allow is, as libyaml (and go-yaml) word it; None if none."""
    bad = _NON_PRINTABLE.search(text)
    if bad is None:
        return None
    at = bad.start()
    where = f"line {text.count(chr(10), 0, at) + line0 + 1}, column {at - text.rfind(chr(10), 0, at)}"
    code = ord(bad.group())
    if 0xD800 <= code <= 0xDFFF:
        return f"{where}: invalid Unicode: a lone surrogate U+{code:04X}"
    return (f"{where}: control characters are not allowed (U+{code:04X}; write it as an escape in a "
            "double-quoted string)")


def load_document(text: str, source: str = "<string>", *, index: int = 0, line: int = 0) -> Any:
    """Parse the single YAML document ``text`` (``line``: where it starts in ``source``, 0-based)."""
    value = _fast(text)
    if value is not _MISSING:
        return value
    try:
        return _build_document(text)
    except _DocError as exc:
        raise LoadError(source, f"line {exc.line + line + 1}: {exc}", document=index) from None
    except (yaml.reader.ReaderError, UnicodeEncodeError) as exc:
        message = _non_printable_message(text, line) or " ".join(str(exc).split())
        raise LoadError(source, message, document=index) from None
    except yaml.YAMLError as exc:
        raise LoadError(source, _error_message(exc, line), document=index) from None


#: str.translate table keeping only brackets and quotes of the ASCII range
_BRACKETS_AND_QUOTES = {i: None for i in range(128) if chr(i) not in '[]{}"'}


def _json_too_deep(text: str) -> bool:
    """Whether brackets nest more than MAX_DEPTH deep in a valid JSON text (strings ignored), unparsed.

    Everything here runs at C speed: escaped backslashes and quotes are dropped first (a run of
    backslashes pairs up from its start), then everything but brackets and quotes; two adjacent quotes
    are an empty string or the end of one and the start of the next, so dropping them changes no
    bracket's side of a string. Only strings holding brackets are left to remove with a regex.
    """
    if "\\" in text:
        text = text.replace("\\\\", "").replace('\\"', "")
    brackets = text.translate(_BRACKETS_AND_QUOTES).replace('""', "")
    if '"' in brackets:
        brackets = re.sub(r'"[^"]*"', "", brackets)
    if not brackets.isascii():
        brackets = re.sub(r"[^\[\]{}]+", "", brackets)
    if re.search(r"[\[{]{" + str(MAX_DEPTH + 1) + "}", brackets):
        return True
    # Each round of replace() removes one or two levels: a cheap bound first, the exact count if needed.
    rounds, rest = 0, brackets
    while rest and 2 * rounds <= MAX_DEPTH:
        shorter = rest.replace("[]", "").replace("{}", "")
        if len(shorter) == len(rest):
            break  # unbalanced: json.loads reports it
        rest, rounds = shorter, rounds + 1
    if 2 * rounds <= MAX_DEPTH:
        return False
    depth = 0
    while brackets and depth <= MAX_DEPTH:
        brackets, n = re.subn(r"\[\]|\{\}", "", brackets)
        if not n:
            break
        depth += 1
    return depth > MAX_DEPTH


def json_too_deep(text: str) -> bool:
    """Whether the collections of the JSON ``text`` nest more than :data:`MAX_DEPTH` deep (unparsed)."""
    return _json_too_deep(text)


def _load_json(text: str, source: str) -> Any:
    if text.count("[") + text.count("{") > MAX_DEPTH and _json_too_deep(text):
        raise LoadError(source, _depth_message(), document=0)
    if _JSON_SURROGATE_ESCAPE.search(text):
        return _MISSING  # the reference path decides on \\uD800-style escapes
    try:
        if _JSON_LONG_NUMBER.search(text):
            return json.loads(text, parse_int=resolve_plain, parse_float=resolve_plain,
                              parse_constant=resolve_plain)
        return json.loads(text, parse_float=resolve_plain, parse_constant=resolve_plain)
    except (json.JSONDecodeError, RecursionError):
        return _MISSING


# JSON is read with the YAML meaning of its numbers: beyond uint64 an integer is a float, an overflowing
# float (1e400) and Python's NaN/Infinity extensions stay strings, as the reference path reads them.
_JSON_LONG_NUMBER = re.compile(r"[0-9]{19}")
# A lone surrogate escape (``"\ud800"``) is an error on the reference path; a pair is the character it
# encodes, as JSON means it (YAML 1.1 knows no pairs, so the reference path would reject it).
_JSON_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F])"
                                    r"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F]")


_JSON_START = re.compile(r"\s*[\[{]")


_LIST_KIND = re.compile(r"^kind:[ \t]*['\"]?\w*List['\"]?[ \t]*$", re.MULTILINE)


def is_json(text: str) -> bool:
    """Whether a text will be read as JSON (its first non-blank character is ``{`` or ``[``)."""
    return bool(_JSON_START.match(text.removeprefix("\ufeff")))


def count_documents(text: str, source: str) -> int:
    """How many objects ``iter_documents`` + List flattening will give, parsing as little as possible.

    Only documents that may be a ``kind: *List`` (and JSON texts) are parsed; the rest are counted from
    the document boundaries alone.
    """
    text = text.removeprefix("\ufeff")
    if _JSON_START.match(text):
        value = _load_json(text, source)
        if value is not _MISSING:
            return _objects_in(value)
    n = 0
    for index, chunk, line in _split(text):
        body = chunk[3:] if chunk.startswith("---") else chunk
        if _LIST_KIND.search(chunk):
            n += _objects_in(load_document(chunk, source, index=index, line=line))
        elif _CONTENT_LINE.search(body) or body.split("\n", 1)[0].strip(" \t\r#"):
            n += 1
    return n


def _objects_in(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, dict) and str(value.get("kind", "")).endswith("List") and isinstance(value.get("items"), list):
        return len(value["items"])
    return 1


def yaml_chunks(text: str) -> Iterator[tuple[int, str, int]]:
    """``(document index, document text, first line)`` of a YAML text, unparsed (for ``load_document``).

    For a text :func:`is_json` rejects, ``load_document`` over these gives what :func:`iter_documents` gives.
    """
    return _split(text.removeprefix("\ufeff"))


def iter_documents(text: str, source: str) -> Iterator[tuple[int, Any]]:
    """Yield ``(document index, value)`` for each non-empty document of a YAML or JSON text.

    Documents are split and parsed one at a time; indices count empty documents too. A text whose
    first non-blank character is ``{`` or ``[`` is tried as one JSON document first. Errors are
    :class:`~verno.core.errors.LoadError` naming ``source``, the document and the line.
    """
    text = text.removeprefix("\ufeff")
    if _JSON_START.match(text):
        value = _load_json(text, source)
        if value is not _MISSING:
            if value is not None:
                yield 0, value
            return
    for index, chunk, line in _split(text):
        value = load_document(chunk, source, index=index, line=line)
        if value is not None:
            yield index, value
