"""Line and column of a field in a YAML (or JSON) source file, for reports that point into the file (SARIF).

verno's resource loader keeps no positions (it is a fast decoder). When a report needs them, the file is
read again here: split into documents exactly as the loader splits it (so document indexes agree), each
document composed with PyYAML, whose nodes carry their start line and column, and a JSON path (``spec``,
``containers``, ``0``, ``image``) walked down the node tree. Lines are absolute in the file, 1-based.

A path that leaves the document (a field the resource lacks, which is often what a pattern failure is
about) stops at the deepest node that exists: the place where the missing field belongs.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

import yaml

#: files larger than this are not re-read for positions (their findings point at the file alone)
MAX_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class Position:
    line: int  # 1-based, absolute in the file
    column: int  # 1-based


def split_path(path: str) -> list[str]:
    """``/spec/containers/0/image/`` (Kyverno's pattern path) as its segments."""
    return [p for p in path.split("/") if p]


class SourcePositions:
    """Positions in the files a run read; each file is re-read at most once, and only when asked."""

    def __init__(self) -> None:
        self._files: dict[str, dict[int, Any] | None] = {}

    def _documents(self, source: str) -> dict[int, Any] | None:
        if source not in self._files:
            self._files[source] = _compose_file(source)
        return self._files[source]

    def locate(self, source: str, document: int, path: Iterable[str] = (),
               resource: dict[str, Any] | None = None) -> Position | None:
        """Where ``path`` is in document ``document`` of ``source``, or the nearest existing parent.

        ``resource``: the object the path is about, when the document is a ``List`` whose items stand for
        it (the item is found by kind, name and namespace). ``None`` when the file cannot be read again.
        """
        docs = self._documents(source)
        if not docs or document not in docs:
            return None
        node = docs[document]
        if resource is not None:
            node = _list_item(node, resource)
        for key in path:
            child = _child(node, key)
            if child is None:
                break
            node = child
        return Position(node.start_mark.line + 1, node.start_mark.column + 1)


def _compose_file(source: str) -> dict[int, Any] | None:
    from verno.core.loading import read_text
    from verno.core.yamlio import is_json, yaml_chunks

    if source == "-":
        return None  # stdin was consumed by the run
    try:
        import os

        if os.path.getsize(source) > MAX_BYTES:
            return None
        text = read_text(source)
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    if is_json(text):
        chunks: Iterable[tuple[int, str, int]] = [(0, text.removeprefix("\ufeff"), 0)]
    else:
        chunks = yaml_chunks(text)
    out: dict[int, Any] = {}
    for index, chunk, line in chunks:
        try:
            node = yaml.compose(chunk, Loader=yaml.SafeLoader)
        except yaml.YAMLError:
            continue  # the run read it; positions are a courtesy, the file still names the finding
        if node is not None:
            _shift(node, line)
            out[index] = node
    return out


def _shift(node: Any, lines: int) -> None:
    """Make a document's marks absolute in the file (each document was composed on its own)."""
    if not lines:
        return
    seen: set[int] = set()
    stack = [node]
    while stack:
        n = stack.pop()
        if id(n) in seen:  # aliases share nodes
            continue
        seen.add(id(n))
        n.start_mark = _moved(n.start_mark, lines)
        if isinstance(n, yaml.MappingNode):
            for k, v in n.value:
                stack.extend((k, v))
        elif isinstance(n, yaml.SequenceNode):
            stack.extend(n.value)


def _moved(mark: Any, lines: int) -> Any:
    return yaml.Mark(mark.name, mark.index, mark.line + lines, mark.column, None, None)


def _child(node: Any, key: str) -> Any:
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == key:
                return v
        return None
    if isinstance(node, yaml.SequenceNode) and key.isdigit():
        i = int(key)
        return node.value[i] if i < len(node.value) else None
    return None


def _scalar(node: Any, *path: str) -> str | None:
    for key in path:
        node = _child(node, key)
        if node is None:
            return None
    return node.value if isinstance(node, yaml.ScalarNode) else None


def _list_item(node: Any, resource: dict[str, Any]) -> Any:
    """The item of a ``kind: List`` document that is ``resource`` (the document itself otherwise)."""
    kind = _scalar(node, "kind")
    items = _child(node, "items")
    if not kind or not kind.endswith("List") or not isinstance(items, yaml.SequenceNode):
        return node
    meta = resource.get("metadata") or {}
    want = (resource.get("kind"), meta.get("name"), meta.get("namespace"))
    for item in items.value:
        got = (_scalar(item, "kind"), _scalar(item, "metadata", "name"), _scalar(item, "metadata", "namespace"))
        if got[:2] == want[:2] and (got[2] is None or got[2] == want[2]):
            return item
    return node
