"""``{{ }}`` variable substitution and ``$( )`` references (K: pkg/engine/variables/vars.go).

``substitute_all(document, query)`` returns a new document; the input is never mutated. Containers
that hold nothing to substitute are shared with the input, and a document without ``{{`` or ``$(``
is returned as is.

Rules (Kyverno's):

* a variable is found with ``(^|[^\\])(\\{\\{(?:\\{[^{}]*\\}|[^{}])*\\}\\})``;
* a string that is exactly one variable takes the JSON type of the result; inside a longer string a
  non-string result is JSON-encoded the way Go's ``json.Marshal`` does it;
* nested variables resolve inner-first, repeatedly, until none is left;
* ``\\{{...}}`` is an escape: it is left alone and the backslash removed at the end;
* map keys are substituted as well as values;
* ``$(./relative/path)`` references resolve against the document itself; ``\\$(`` escapes one;
* ``{{@}}`` (or ``{{@.x}}``) is the current node, as a path under ``at_prefix``.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from verno.core.errors import JMESPathError, NotFoundError, SubstitutionError, VernoError
from verno.core.jmespath.functions._go import go_json
from verno.core.memo import IdentityMemo

Query = Callable[[str], Any]

REGEX_VARIABLES = re.compile(r"(^|[^\\])(\{\{(?:\{[^{}]*\}|[^{}])*\}\})")
REGEX_ESCAPED_VARIABLES = re.compile(r"\\\{\{(?:\{[^{}]*\}|[^{}])*\}\}")
REGEX_REFERENCES = re.compile(r"^\$\(.[^ ]*\)|[^\\]\$\(.[^ ]*\)")
REGEX_ESCAPED_REFERENCES = re.compile(r"\\\$\(.[^ ]*\)")
_ANCHOR = re.compile(r"^(?:[=+^X<]?\()(.*)\)$")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_OPERATORS = (">=", "<=", "!=", ">", "<", "!")

#: passes over one string before a variable is declared self-referencing
MAX_PASSES = 64
#: longest string substitution may build
MAX_LENGTH = 1_000_000
#: most variables resolved for one string (bounds self-multiplying variables)
MAX_RESOLUTIONS = 10_000

__all__ = [
    "REGEX_VARIABLES",
    "has_variables",
    "path_to_jmespath",
    "substitute_all",
    "substitute_references",
    "substitute_variables",
]


def has_variables(value: str) -> bool:
    return REGEX_VARIABLES.search(value) is not None


# ---------------------------------------------------------------------------------------------------------
# paths
# ---------------------------------------------------------------------------------------------------------


def _pointer(path: tuple[Any, ...]) -> str:
    return "".join(f"/{p}" for p in path)


def _strip_anchor(key: Any) -> Any:
    if isinstance(key, str):
        m = _ANCHOR.match(key)
        if m:
            return m.group(1)
    return key


def path_to_jmespath(path: tuple[Any, ...], prefix: str = "") -> str:
    """``("spec", "containers", 0, "image")`` -> ``prefix.spec.containers[0].image``."""
    out = prefix
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
            continue
        part = _strip_anchor(part)
        if _IDENTIFIER.match(part):
            out += f".{part}" if out else part
        else:
            quoted = '"' + part.replace("\\", "\\\\").replace('"', '\\"') + '"'
            out += f".{quoted}" if out else quoted
    return out


# ---------------------------------------------------------------------------------------------------------
# traversal: keys and leaves, copy-on-change
# ---------------------------------------------------------------------------------------------------------

Action = Callable[[str, tuple[Any, ...]], Any]


def _walk(node: Any, path: tuple[Any, ...], action: Action, markers: tuple[str, ...]) -> Any:
    if isinstance(node, str):
        if any(m in node for m in markers):
            return action(node, path)
        return node
    if isinstance(node, dict):
        out: dict[str, Any] | None = None
        for i, (key, value) in enumerate(node.items()):
            new_key = key
            if isinstance(key, str) and any(m in key for m in markers):
                new_key = action(key, path + (key,))
                if not isinstance(new_key, str):
                    new_key = go_json(new_key)
            new_value = _walk(value, path + (key,), action, markers)
            if out is None and (new_key is not key or new_value is not value):
                out = dict(list(node.items())[:i])
            if out is not None:
                out[new_key] = new_value
        return node if out is None else out
    if isinstance(node, list):
        items: list[Any] | None = None
        for i, value in enumerate(node):
            new_value = _walk(value, path + (i,), action, markers)
            if items is None and new_value is not value:
                items = list(node[:i])
            if items is not None:
                items.append(new_value)
        return node if items is None else items
    return node


# ---------------------------------------------------------------------------------------------------------
# $( ) references
# ---------------------------------------------------------------------------------------------------------


def _join(base: str, rel: str) -> str:
    """Go's ``path.Join(base, rel)`` (``rel`` absolute: itself), cleaned."""
    full = rel if rel.startswith("/") else f"{base}/{rel}"
    parts: list[str] = []
    for part in full.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
    return "/" + "/".join(parts)


def _find_by_path(document: Any, target: str) -> Any:
    """The leaf of ``document`` whose anchor-free pointer is ``target`` (None when there is none)."""
    found: list[Any] = [None]

    def visit(node: Any, pointer: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                visit(value, f"{pointer}/{_strip_anchor(key)}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                visit(value, f"{pointer}/{i}")
        elif pointer == target:
            found[0] = node

    visit(document, "")
    return found[0]


def _format_operand(value: Any, operator: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{float(value):f}"
    raise ValueError(f"incorrect expression: operator {operator} does not match with value {go_json(value)}")


def _resolve_reference(document: Any, reference: str, pointer: str) -> Any:
    inner = reference.strip("$()")
    operator = next((op for op in _OPERATORS if inner.startswith(op)), "")
    inner = inner[len(operator):]
    if not inner:
        raise ValueError("expected path, found empty reference")
    value = _find_by_path(document, _join(pointer, inner))
    if not operator:
        return value
    return operator + _format_operand(value, operator)


def substitute_references(document: Any) -> Any:
    """Resolve ``$(path)`` references against ``document`` itself."""

    def action(value: str, path: tuple[Any, ...]) -> Any:
        pointer = _pointer(path)
        for m in list(REGEX_REFERENCES.finditer(value)):
            old = m.group(0)
            initial = old.startswith("$(")
            ref = old if initial else old[1:]
            try:
                resolved = _resolve_reference(document, ref, pointer)
            except ValueError as exc:
                raise SubstitutionError(f"failed to resolve {ref} at path {pointer}: {exc}") from None
            if resolved is None:
                raise SubstitutionError(f"got nil resolved variable {ref} at path {pointer}")
            if not isinstance(resolved, str):
                raise SubstitutionError(f"NotResolvedReferenceErr,reference {ref} not resolved at path {pointer}")
            value = value.replace(old, ("" if initial else old[0]) + resolved, 1)
        if "\\$(" in value:
            value = REGEX_ESCAPED_REFERENCES.sub(lambda e: e.group(0)[1:], value)
        return value

    return _walk(document, (), action, ("$(",))


# ---------------------------------------------------------------------------------------------------------
# {{ }} variables
# ---------------------------------------------------------------------------------------------------------


def variable_text(match: str) -> str:
    inner = match[2:-2].strip()
    if inner.startswith("-"):
        inner = inner[1:].strip()
    return inner


@lru_cache(maxsize=8192)
def find_variables(value: str) -> list[tuple[str, str]]:
    """``(prefix, {{variable}})`` pairs of a string; policy strings recur, so the scan is cached."""
    return REGEX_VARIABLES.findall(value)


class _Resolver:
    def __init__(self, query: Query, lenient: bool, at_prefix: str, delete: bool | None = None):
        self.query = query
        self.lenient = lenient
        self.at_prefix = at_prefix
        self._delete: bool | None = delete

    def is_delete(self) -> bool:
        if self._delete is None:
            try:
                self._delete = self.query("request.operation") == "DELETE"
            except (VernoError, Exception):  # noqa: BLE001 - a context without a request
                self._delete = False
        return self._delete

    def resolve(self, variable: str, path: tuple[Any, ...]) -> Any:
        if variable == "@" or variable.startswith(("@.", "@[")):
            variable = path_to_jmespath(path, self.at_prefix) + variable[1:]
        if "request.object" in variable and self.is_delete():
            variable = variable.replace("request.object", "request.oldObject")
        try:
            return self.query(variable)
        except NotFoundError as exc:
            if self.lenient:
                return ""
            reason = f"JMESPath query failed: {exc}"
        except JMESPathError as exc:
            if self.lenient:
                return ""
            reason = str(exc)
        raise SubstitutionError(f"failed to resolve {variable} at path {_pointer(path)}: {reason}")

    def __call__(self, value: str, path: tuple[Any, ...]) -> Any:
        matches = find_variables(value)
        passes = resolved = 0
        while matches:
            passes += 1
            resolved += len(matches)
            if passes > MAX_PASSES or len(value) > MAX_LENGTH or resolved > MAX_RESOLUTIONS:
                variable = variable_text(matches[0][1])
                raise SubstitutionError(
                    f"failed to resolve {variable} at path {_pointer(path)}: variable substitution does not "
                    f"terminate (self-referencing variable?)")
            original = value
            for prefix, var in matches:
                result = self.resolve(variable_text(var), path)
                if original == var:
                    return result
                text = result if isinstance(result, str) else go_json(result)
                value = value.replace(prefix + var, prefix + text, 1)
            matches = REGEX_VARIABLES.findall(value)
        if "\\{{" in value:
            value = REGEX_ESCAPED_VARIABLES.sub(lambda e: e.group(0)[1:], value)
        return value


def substitute_variables(document: Any, query: Query, *, lenient: bool = False,
                         at_prefix: str = "request.object", delete: bool | None = None) -> Any:
    """Resolve ``{{ }}`` variables in every key and string of ``document``."""
    return _walk(document, (), _Resolver(query, lenient, at_prefix, delete), ("{{",))


def substitute_all(document: Any, query: Query, *, lenient: bool = False,
                   at_prefix: str = "request.object", delete: bool | None = None) -> Any:
    """References first, then variables; a new document (unchanged parts are shared).

    :param query: evaluates a JMESPath expression against the JSON context; raises
        :class:`NotFoundError` for a missing key.
    :param lenient: an unresolvable variable becomes ``""`` (Kyverno's preconditions resolver).
    :param at_prefix: what ``@`` stands for at the document's root.
    :param delete: whether the request is a DELETE (``request.object`` then reads ``request.oldObject``);
        None asks the context (``request.operation``).
    :raises SubstitutionError: ``failed to resolve <var> at path <path>: <reason>``.
    """
    if isinstance(document, (dict, list)):
        if not _has_markers(document):
            return document
    elif not isinstance(document, str) or ("{{" not in document and "$(" not in document):
        return document
    elif "$(" not in document and len(document) <= MAX_LENGTH:
        found = find_variables(document)
        if len(found) == 1 and found[0][1] == document:  # the whole string is one variable: its value, typed
            return _Resolver(query, lenient, at_prefix, delete).resolve(variable_text(document), ())
    document = substitute_references(document)
    return substitute_variables(document, query, lenient=lenient, at_prefix=at_prefix, delete=delete)


def _contains_markers(node: Any) -> bool:
    if isinstance(node, str):
        return "{{" in node or "$(" in node
    if isinstance(node, dict):
        return any(_contains_markers(k) or _contains_markers(v) for k, v in node.items())
    if isinstance(node, list):
        return any(_contains_markers(v) for v in node)
    return False


#: whether a policy-owned document holds any variable or reference, computed once per document
has_markers = _has_markers = IdentityMemo(_contains_markers)
