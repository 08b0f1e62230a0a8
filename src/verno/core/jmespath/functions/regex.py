"""Regex and match functions, with Go's RE2 semantics (K: pkg/engine/jmespath/functions.go)."""
from __future__ import annotations

from typing import Any


from verno.core import goregex, limits, wildcard
from verno.core.jmespath.functions._go import arg_type_error, fn_error, iface_to_string
from verno.core.jmespath.functions._spec import SN, O, S, Spec

def _compile_cached(pattern: str) -> Any:
    # a bytes pattern: matched against UTF-8 bytes by byte offset (see _replace_all), runes as in Go
    return goregex.compile_go(_utf8(pattern))


def compile_go(function: str, pattern: str) -> Any:
    """The compiled pattern (cached), or a function error worded as Go's ``regexp.Compile`` words it."""
    try:
        return _compile_cached(pattern)
    except goregex.GoRegexError as exc:
        raise fn_error(function, str(exc)) from None


_compile = compile_go


def _text(function: str, value: Any, position: int) -> str:
    text = iface_to_string(value)
    if text is None:
        raise arg_type_error(function, position, "String or Real")
    return text


def _is_name_char(c: str) -> bool:
    """Go's ``unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_'`` (IsDigit is category Nd)."""
    return c.isalpha() or c.isdecimal() or c == "_"


def _group_number(name: str) -> int:
    """Go's ``extract`` number: ASCII digits, no leading zero, below 1e9; -1 when ``name`` is a name."""
    num = 0
    for c in name:
        if not ("0" <= c <= "9") or num >= 100_000_000:
            return -1
        num = num * 10 + ord(c) - 48
    if name[0] == "0" and len(name) > 1:
        return -1
    return num


def expand(template: str, group: Any, groupindex: dict[str, int], groups: int) -> str:
    """Go's ``Regexp.Expand``: ``$1``, ``${1}``, ``$name``, ``${name}``; ``$$`` is a literal ``$``.

    ``$name`` takes the longest run of letters, digits and underscores; an unknown or out-of-range
    group expands to the empty string; a malformed ``$`` or ``${`` is copied literally. ``group(i)``
    gives the text of group ``i`` ("" when it did not take part in the match).
    """
    out: list[str] = []
    i = 0
    n = len(template)
    while i < n:
        j = template.find("$", i)
        if j < 0:
            out.append(template[i:])
            break
        out.append(template[i:j])
        i = j + 1
        if i < n and template[i] == "$":
            out.append("$")
            i += 1
            continue
        brace = i < n and template[i] == "{"
        k = i + 1 if brace else i
        start = k
        while k < n and _is_name_char(template[k]):
            k += 1
        if k == start or (brace and (k >= n or template[k] != "}")):
            out.append("$")  # malformed: the ``$`` is text
            continue
        name = template[start:k]
        i = k + 1 if brace else k
        num = _group_number(name)
        index = (num if num <= groups else None) if num >= 0 else groupindex.get(name)
        if index is not None:
            out.append(group(index))
    return "".join(out)


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _rune_width(src: bytes, pos: int) -> int:
    """The width of the UTF-8 sequence starting at ``pos`` (Go's ``utf8.DecodeRune`` width; 0 at the end)."""
    if pos >= len(src):
        return 0
    lead = src[pos]
    width = 1 if lead < 0xC0 else 2 if lead < 0xE0 else 3 if lead < 0xF0 else 4
    return min(width, len(src) - pos)


def _replace_all(regex: Any, src: bytes, repl: Any, function: str) -> bytes:
    """Go's ``Regexp.replaceAll`` loop over UTF-8 bytes; empty matches abutting a match are not replaced.

    The text is encoded once and searched by byte offset, so the whole loop is linear in the text
    (searching a ``str`` from an offset re-encodes the text on every call).
    """
    out: list[bytes] = []
    last_end = 0
    pos = 0
    n = len(src)
    # the result is checked in characters where functions are dispatched; this bound (4 bytes per
    # character at most) stops a replacement that multiplies the text before it takes the memory
    room = 4 * limits.max_function_result() - n
    while pos <= n:
        m = regex.search(src, pos)
        if m is None:
            break
        start, end = m.span()
        out.append(src[last_end:start])
        if end > last_end or start == 0:
            piece = repl(m)
            room -= len(piece) - (end - start)
            if room < 0:
                raise limits.too_large(function)
            out.append(piece)
        last_end = end
        width = _rune_width(src, pos)
        if pos + width > end:
            pos += width
        elif pos + 1 > end:
            pos += 1
        else:
            pos = end
    out.append(src[last_end:])
    return b"".join(out)


def _replace(function: str, pattern: str, src: Any, repl: Any, literal: bool) -> str:
    source = _text(function, src, 2)
    template = _text(function, repl, 3)
    regex = _compile(function, pattern)
    if literal or "$" not in template:
        fixed = _utf8(template)
        replaced = _replace_all(regex, _utf8(source), lambda m: fixed, function)
    else:
        groupindex = {(k.decode() if isinstance(k, bytes) else k): v for k, v in regex.groupindex.items()}
        groups = regex.groups

        def expanded(m: Any) -> bytes:
            return _utf8(expand(template, lambda i: (m.group(i) or b"").decode("utf-8", "surrogatepass"),
                                groupindex, groups))

        replaced = _replace_all(regex, _utf8(source), expanded, function)
    return replaced.decode("utf-8", "surrogatepass")


def regex_replace_all(pattern: str, src: Any, repl: Any) -> str:
    return _replace("regex_replace_all", pattern, src, repl, literal=False)


def regex_replace_all_literal(pattern: str, src: Any, repl: Any) -> str:
    return _replace("regex_replace_all_literal", pattern, src, repl, literal=True)


def regex_match(pattern: str, src: Any) -> bool:
    source = _text("regex_match", src, 2)
    return _compile("regex_match", pattern).search(_utf8(source)) is not None


def pattern_match(pattern: str, src: Any) -> bool:
    """Kyverno wildcards: ``*`` any run of characters, ``?`` exactly one."""
    return wildcard.match(pattern, _text("pattern_match", src, 2))


def label_match(selector: dict[str, Any], labels: dict[str, Any]) -> bool:
    """Every key/value of ``selector`` is present with the same value in ``labels``."""
    for key, value in selector.items():
        if key not in labels:
            return False
        other = labels[key]
        if other != value or isinstance(other, bool) != isinstance(value, bool):
            return False
    return True


FUNCTIONS = [
    Spec("regex_replace_all", regex_replace_all, [S, SN, SN], "string", "converts all parameters to string"),
    Spec("regex_replace_all_literal", regex_replace_all_literal, [S, SN, SN], "string",
         "converts all parameters to string"),
    Spec("regex_match", regex_match, [S, SN], "boolean",
         "first string is the regular exression which is compared with second input which can be a number or string"),
    Spec("pattern_match", pattern_match, [S, SN], "boolean",
         "'*' matches zero or more alphanumeric characters, '?' matches a single alphanumeric character"),
    Spec("label_match", label_match, [O, O], "boolean",
         "object arguments must be enclosed in backticks; ex. `{{request.object.spec.template.metadata.labels}}`"),
]
