"""Writing a resource's changes back into its source text, keeping everything else byte for byte.

YAML documents go through a ruamel.yaml round trip (comments, key order, quoting styles and flow styles
kept); the edits are made on the round-tripped nodes, and only the lines the edits change are taken from
ruamel's output: its text for the unchanged document is aligned with the original, so lines it would
normalise (spacing, a ``---`` it drops) stay as they were. Documents without changes are not touched.
JSON files are rewritten with the indentation, separators and final newline they had.

Every result is read back with verno's own reader and must give exactly the edited resource; a change
that would read back differently (a string that YAML 1.1 would read as a boolean, a value behind an
anchor shared with other nodes, a key from a ``<<`` merge) is :class:`Unwritable`, naming the field.
"""
from __future__ import annotations

import copy
import difflib
import io
import json
import re
from typing import Any

from verno.cli.resource_changes import (
    ADD,
    APPEND,
    REMOVE,
    TRUNCATE,
    Change,
    Path,
    apply_plain,
    changes,
    format_path,
)
from verno.core.errors import VernoError
from verno.core.yamlio import load_document, resolve_plain

#: (mapping indent, sequence indent, sequence dash offset) tried to reproduce a document's own layout
LAYOUTS = ((2, 2, 0), (2, 4, 2), (4, 4, 0), (4, 6, 4), (4, 4, 2), (2, 3, 1), (3, 3, 0), (4, 2, 0))


class Unwritable(VernoError):
    """A change that cannot be written back into the source faithfully."""


def _yaml() -> Any:
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 1 << 30  # never fold a line the source did not fold
    yaml.allow_duplicate_keys = True
    return yaml


def edit_yaml_document(text: str, edits: dict[Path, list[Change]], line: int = 0) -> str:
    """``text`` (one YAML document, as split from its file) with ``edits`` applied: ``{prefix: changes}``,
    the prefix locating a resource in the document (``()``, or ``("items", i)`` in a List)."""
    from ruamel.yaml.error import YAMLError

    try:
        yaml = _yaml()
        data = yaml.load(text)
    except YAMLError as exc:
        raise Unwritable(f"the YAML round trip cannot read this document: {str(exc).splitlines()[0]}") from None
    original_lines = text.splitlines(keepends=True)
    layout, before = _best_layout(data, text)
    for prefix, resource_edits in edits.items():
        for change in resource_edits:
            _apply_node(data, prefix, change)
    after = _dump(data, layout)
    merged = _merge(original_lines, before.splitlines(keepends=True), after.splitlines(keepends=True))
    if merged is None:
        merged = after if not text.startswith("---") or after.startswith("---") else \
            original_lines[0] + after
    return merged


def _dump(data: Any, layout: tuple[int, int, int]) -> str:
    yaml = _yaml()
    mapping, sequence, offset = layout
    yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


def _best_layout(data: Any, text: str) -> tuple[tuple[int, int, int], str]:
    """The indentation that reproduces ``text`` most closely, and the unedited document in it."""
    wanted = _keys(text.splitlines())
    best: tuple[float, tuple[int, int, int], str] | None = None
    for layout in LAYOUTS:
        dumped = _dump(data, layout)
        got = _keys(dumped.splitlines())
        if got == wanted or got == wanted[1:]:  # ruamel drops a leading ---
            return layout, dumped
        score = difflib.SequenceMatcher(None, wanted, got, autojunk=False).ratio()
        if best is None or score > best[0]:
            best = (score, layout, dumped)
    assert best is not None
    return best[1], best[2]


def _keys(lines: list[str]) -> list[str]:
    return [line.rstrip("\r\n") for line in lines]


def _merge(original: list[str], before: list[str], after: list[str]) -> str | None:
    """``original`` with the hunks that turn ``before`` into ``after``; None when a hunk touches a line of
    ``before`` that has no counterpart in ``original``."""
    k_orig, k_before, k_after = _keys(original), _keys(before), _keys(after)
    where: dict[int, int] = {}
    for block in difflib.SequenceMatcher(None, k_before, k_orig, autojunk=False).get_matching_blocks():
        for n in range(block.size):
            where[block.a + n] = block.b + n
    newline = "\r\n" if original and original[0].endswith("\r\n") else "\n"
    replacements: list[tuple[int, int, list[str]]] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, k_before, k_after, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        if i1 < i2:
            if any(i not in where for i in range(i1, i2)) or where[i2 - 1] - where[i1] != i2 - i1 - 1:
                return None
            start, end = where[i1], where[i2 - 1] + 1
        elif i1 > 0 and i1 - 1 in where:
            start = end = where[i1 - 1] + 1
        elif i1 in where:
            start = end = where[i1]
        else:
            return None
        replacements.append((start, end, [line + newline for line in k_after[j1:j2]]))
    out: list[str] = []
    position = 0
    for start, end, lines in replacements:
        if start < position:
            return None
        out.extend(original[position:start])
        out.extend(lines)
        position = end
    tail = original[position:]
    if replacements and not tail and out and not out[-1].endswith("\n") and original and \
            not original[-1].endswith("\n"):
        out[-1] = out[-1].rstrip("\r\n")
    out.extend(tail)
    return "".join(out)


# -- edits on round-tripped nodes --------------------------------------------------------------------

def _anchor(node: Any) -> str | None:
    anchor = getattr(node, "anchor", None)
    return getattr(anchor, "value", None)


def _child_key(node: Any, key: Any, path: Path) -> Any:
    """The key of ``node`` that verno reads as ``key`` (YAML 1.1 and 1.2 may type a key differently)."""
    if key in node:
        found = key
    else:
        found = next((k for k in node if _as_key(k) == key), _MISSING)
        if found is _MISSING:
            return _MISSING
    own = getattr(node, "_ok", None)
    if own is not None and getattr(node, "merge", None) and found not in own:
        raise Unwritable(f"{format_path(path)} comes from a YAML merge key (<<); edit the anchored mapping it "
                         "comes from by hand")
    return found


_MISSING = object()


def _as_key(key: Any) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    return str(key)


def _navigate(data: Any, path: Path, full: Path) -> Any:
    node = data
    walked: Path = ()
    for part in path:
        walked += (part,)
        if isinstance(part, int):
            node = node[part]
        else:
            key = _child_key(node, part, walked)
            if key is _MISSING:
                raise Unwritable(f"{format_path(walked)} is not in the source document")
            node = node[key]
        name = _anchor(node)
        if name:
            raise Unwritable(f"{format_path(full)} is inside the YAML anchor &{name}, which other nodes may "
                             "share; edit it by hand")
    return node


def _apply_node(data: Any, prefix: Path, change: Change) -> None:
    path = prefix + change.path
    if not change.path:
        raise Unwritable("the mutation replaces the whole resource")
    parent = _navigate(data, path[:-1], path)
    last = path[-1]
    if change.op == TRUNCATE:
        target = _navigate(parent, (last,), path)
        while len(target) > change.value:
            target.pop()
        return
    if change.op == APPEND:
        parent.append(fresh(change.value))
        return
    if isinstance(last, int):
        if change.op == REMOVE:
            del parent[last]
        else:
            parent[last] = _replacement(parent[last], change.value, path)
        return
    key = _child_key(parent, last, path)
    if change.op == REMOVE:
        if key is not _MISSING:
            del parent[key]
        return
    if key is _MISSING or change.op == ADD:
        parent[last if key is _MISSING else key] = fresh(change.value)
        return
    parent[key] = _replacement(parent[key], change.value, path)


def _replacement(old: Any, value: Any, path: Path) -> Any:
    """``value`` in place of ``old``: a string keeps the quoting style of the one it replaces."""
    from ruamel.yaml.scalarstring import ScalarString

    name = _anchor(old)
    if name:
        raise Unwritable(f"{format_path(path)} is the YAML anchor &{name}, which other nodes may share; "
                         "edit it by hand")
    if isinstance(value, str) and isinstance(old, ScalarString):
        return type(old)(value)
    return fresh(value)


def fresh(value: Any) -> Any:
    """A value to insert: block mappings and sequences; strings quoted where YAML 1.1 (Kubernetes) would
    read the plain text as something else."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString

    if isinstance(value, dict):
        out = CommentedMap()
        for k, v in value.items():
            out[k] = fresh(v)
        return out
    if isinstance(value, list):
        return CommentedSeq(fresh(v) for v in value)
    if isinstance(value, str) and (value == "" or resolve_plain(value) != value or value != value.strip()):
        return DoubleQuotedScalarString(value)
    return value


# -- checking what was written ---------------------------------------------------------------------------

def check_document(text: str, source: str, index: int, line: int, expected: dict[Path, Any]) -> None:
    """Read ``text`` back with verno's reader: each resource at its prefix must be ``expected``."""
    from verno.cli.resource_changes import same

    try:
        value = load_document(text, source, index=index, line=line)
    except VernoError as exc:
        raise Unwritable(f"the edited document would not read back: {exc}") from None
    for prefix, want in expected.items():
        got = value
        for part in prefix:
            got = got[part]
        if not same(got, want):
            diff = changes(want, got)
            where = format_path(diff[0].path) if diff else "(the whole resource)"
            raise Unwritable(f"{where} would read back differently from the mutated resource; edit it by hand")


# -- JSON ---------------------------------------------------------------------------------------------

_INDENT = re.compile(r"\n([ \t]+)\S")


def edit_json_text(text: str, value: Any, edits: dict[Path, list[Change]]) -> str:
    """A JSON file's text with ``edits`` applied to its value, written as it was written (indentation,
    separators, ASCII escapes, final newline)."""
    value = copy.deepcopy(value)
    for prefix, resource_edits in edits.items():
        node = value
        for part in prefix:
            node = node[part]
        apply_plain(node, resource_edits)
    match = _INDENT.search(text)
    indent: int | str | None = None
    if match:
        unit = match.group(1)
        indent = unit if "\t" in unit else len(unit)
    item = ", " if indent is None and re.search(r",\s", text) else ","
    key = ": " if re.search(r'":\s', text) else ":"
    out = json.dumps(value, indent=indent, separators=(item, key), ensure_ascii="\\u" in text and text.isascii())
    trailing = text[len(text.rstrip()):]
    return out + trailing
