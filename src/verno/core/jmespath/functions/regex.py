"""Regex and match functions, with Go's RE2 semantics (K: pkg/engine/jmespath/functions.go)."""
from __future__ import annotations

from functools import lru_cache
from typing import Any

import re2

from verno.core import wildcard
from verno.core.jmespath.functions._go import arg_type_error, fn_error, iface_to_string
from verno.core.jmespath.functions._spec import SN, O, S, Spec

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False


@lru_cache(maxsize=1024)
def _compile_cached(pattern: str) -> Any:
    return re2.compile(pattern, _OPTIONS)


def _compile(function: str, pattern: str) -> Any:
    try:
        return _compile_cached(pattern)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise fn_error(function, f"error parsing regexp: {reason}") from None


def _text(function: str, value: Any, position: int) -> str:
    text = iface_to_string(value)
    if text is None:
        raise arg_type_error(function, position, "String or Real")
    return text


def _is_name_char(c: str) -> bool:
    return c.isalnum() or c == "_"


def expand(template: str, match: Any, groupindex: dict[str, int], groups: int) -> str:
    """Go's ``Regexp.Expand``: ``$1``, ``${1}``, ``$name``, ``${name}``; ``$$`` is a literal ``$``.

    ``$name`` takes the longest run of letters, digits and underscores; an unknown or out-of-range
    group expands to the empty string; a malformed ``${`` is copied literally.
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
        name = ""
        if i < n and template[i] == "{":
            end = template.find("}", i + 1)
            candidate = template[i + 1:end] if end > 0 else ""
            if end < 0 or not candidate or not all(_is_name_char(c) for c in candidate):
                out.append("$")
                continue
            name = candidate
            i = end + 1
        else:
            k = i
            while k < n and _is_name_char(template[k]):
                k += 1
            if k == i:
                out.append("$")
                continue
            name = template[i:k]
            i = k
        index: int | None
        if name.isdigit():
            index = int(name)
            if index > groups:
                index = None
        else:
            index = groupindex.get(name)
        if index is not None:
            out.append(match.group(index) or "")
    return "".join(out)


def _replace_all(regex: Any, src: str, repl: Any) -> str:
    """Go's ``ReplaceAll`` loop: empty matches right after a previous match are not replaced."""
    out: list[str] = []
    last_end = 0
    pos = 0
    n = len(src)
    while pos <= n:
        m = regex.search(src, pos)
        if m is None:
            break
        start, end = m.span()
        out.append(src[last_end:start])
        if end > last_end or start == 0:
            out.append(repl(m))
        last_end = end
        pos = end if end > pos else pos + 1
    out.append(src[last_end:])
    return "".join(out)


def regex_replace_all(pattern: str, src: Any, repl: Any) -> str:
    source = _text("regex_replace_all", src, 2)
    template = _text("regex_replace_all", repl, 3)
    regex = _compile("regex_replace_all", pattern)
    if "$" not in template:
        return _replace_all(regex, source, lambda m: template)
    groupindex = dict(regex.groupindex)
    return _replace_all(regex, source, lambda m: expand(template, m, groupindex, regex.groups))


def regex_replace_all_literal(pattern: str, src: Any, repl: Any) -> str:
    source = _text("regex_replace_all_literal", src, 2)
    literal = _text("regex_replace_all_literal", repl, 3)
    regex = _compile("regex_replace_all_literal", pattern)
    return _replace_all(regex, source, lambda m: literal)


def regex_match(pattern: str, src: Any) -> bool:
    source = _text("regex_match", src, 2)
    return _compile("regex_match", pattern).search(source) is not None


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
