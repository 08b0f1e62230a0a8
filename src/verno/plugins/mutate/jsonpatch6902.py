"""``patchesJson6902``: RFC 6902 operations applied as Kyverno applies them.

Kyverno decodes the string (YAML is converted to JSON unless it starts with ``[``) and applies it with
evanphx/json-patch v5 and the options ``SupportNegativeIndices`` (``-1`` is the last element; for ``add``
it is the end), ``AllowMissingPathOnRemove`` (removing something absent is a no-op) and
``EnsurePathExistsOnAdd`` (``add`` creates missing parents: a list when the next token is an index or
``-``, a map otherwise). Pointers are parsed with the ``jsonpatch`` package's RFC 6901 rules.
"""
from __future__ import annotations

import copy
import json
from typing import Any

import jsonpatch
import jsonpointer

from verno.core.patch import json_equal
from verno.plugins.mutate.anchors import PatchError

_OPS = ("add", "remove", "replace", "move", "copy", "test")


def decode(text: str) -> list[dict[str, Any]]:
    """The operations of a ``patchesJson6902`` string."""
    from verno.core.errors import VernoError
    from verno.core.yamlio import load_document

    stripped = text.strip()
    try:
        if stripped.startswith("["):
            ops = json.loads(stripped)
        else:
            ops = load_document(text, "patchesJson6902")
    except (ValueError, VernoError) as exc:
        raise PatchError(f"failed to decode patches: {exc}", None) from None  # type: ignore[arg-type]
    if not isinstance(ops, list) or not all(isinstance(op, dict) for op in ops):
        raise PatchError("failed to decode patches: expected a list of operations", None)  # type: ignore[arg-type]
    return ops


def apply_json6902(resource: Any, text: str) -> Any:
    """Apply a ``patchesJson6902`` string to ``resource`` (a new document is returned).

    :raises PatchError: an invalid operation, a missing path, a type mismatch; the message names the path.
    """
    doc = copy.deepcopy(resource)
    for op in decode(text):
        doc = apply_operation(doc, op)
    return doc


def _tokens(path: Any) -> list[str]:
    if not isinstance(path, str):
        raise PatchError("operation has no valid path", "")
    try:
        return list(jsonpointer.JsonPointer(path).parts)
    except jsonpointer.JsonPointerException as exc:
        raise PatchError(f"invalid JSON pointer: {exc}", path) from None


def apply_operation(doc: Any, op: dict[str, Any]) -> Any:
    name = op.get("op")
    path = op.get("path")
    if name not in _OPS:
        raise PatchError(f"unexpected operation {name!r}", path if isinstance(path, str) else "")
    tokens = _tokens(path)
    if name in ("add", "replace", "test") and "value" not in op:
        raise PatchError(f"{name} operation has no value", path)
    if name == "add":
        return _add(doc, tokens, copy.deepcopy(op["value"]), path)
    if name == "remove":
        return _remove(doc, tokens, path, allow_missing=True)[0]
    if name == "replace":
        _get(doc, tokens, path)
        doc = _remove(doc, tokens, path, allow_missing=False)[0]
        return _add(doc, tokens, copy.deepcopy(op["value"]), path, ensure=False)
    if name == "test":
        if not json_equal(_get(doc, tokens, path), op["value"]):
            raise PatchError("testing value failed", path)
        return doc
    source = _tokens(op.get("from"))
    value = _get(doc, source, op.get("from"))
    if name == "move":
        doc = _remove(doc, source, op.get("from"), allow_missing=False)[0]
    else:
        value = copy.deepcopy(value)
    return _add(doc, tokens, value, path, ensure=False)


def _index(container: list[Any], token: str, path: str, *, adding: bool) -> int:
    size = len(container) + (1 if adding else 0)
    try:
        idx = int(token)
    except ValueError:
        raise PatchError(f"invalid list index {token!r}", path) from None
    if idx < 0:
        if idx < -size:
            raise PatchError(f"index out of bounds: {idx}", path)
        idx += size
    if idx >= size:
        raise PatchError(f"index out of bounds: {idx}", path)
    return idx


def _step(node: Any, token: str, path: str) -> Any:
    if isinstance(node, dict):
        if token not in node:
            raise PatchError("doc is missing key", path)
        return node[token]
    if isinstance(node, list):
        return node[_index(node, token, path, adding=False)]
    raise PatchError(f"cannot read {token!r} from a {type(node).__name__}", path)


def _get(doc: Any, tokens: list[str], path: str) -> Any:
    node = doc
    for token in tokens:
        node = _step(node, token, path)
    return node


def _add(doc: Any, tokens: list[str], value: Any, path: str, *, ensure: bool = True) -> Any:
    if not tokens:
        return value
    node = doc
    for i, token in enumerate(tokens[:-1]):
        nxt = tokens[i + 1]
        if isinstance(node, dict) and token not in node and ensure:
            node[token] = [] if nxt == "-" or _is_int(nxt) else {}
        elif isinstance(node, list) and ensure and (token == "-" or token == str(len(node))):
            node.append([] if nxt == "-" or _is_int(nxt) else {})
            token = str(len(node) - 1)
        node = _step(node, token, path)
    last = tokens[-1]
    if isinstance(node, dict):
        node[last] = value
    elif isinstance(node, list):
        if last == "-":
            node.append(value)
        else:
            node.insert(_index(node, last, path, adding=True), value)
    else:
        raise PatchError(f"cannot add {last!r} to a {type(node).__name__}", path)
    return doc


def _remove(doc: Any, tokens: list[str], path: str, *, allow_missing: bool) -> tuple[Any, bool]:
    if not tokens:
        return None, True
    try:
        parent = _get(doc, tokens[:-1], path)
    except PatchError:
        if allow_missing:
            return doc, False
        raise
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            if allow_missing:
                return doc, False
            raise PatchError("doc is missing key", path)
        del parent[last]
    elif isinstance(parent, list):
        try:
            idx = _index(parent, last, path, adding=False)
        except PatchError:
            if allow_missing:
                return doc, False
            raise
        del parent[idx]
    elif allow_missing:
        return doc, False
    else:
        raise PatchError(f"cannot remove {last!r} from a {type(parent).__name__}", path)
    return doc, True


def _is_int(token: str) -> bool:
    try:
        int(token)
    except ValueError:
        return False
    return True


__all__ = ["apply_json6902", "apply_operation", "decode", "jsonpatch"]
