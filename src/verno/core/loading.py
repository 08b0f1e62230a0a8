"""Reading policies, exceptions, resources and CLI files from paths, directories and stdin.

Every problem is a :class:`~verno.core.errors.LoadError` naming the file, the document and the field.
"""
from __future__ import annotations

import difflib
import os
import sys
from dataclasses import dataclass
from types import UnionType
from typing import Annotated, Any, Iterable, Iterator, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from verno.core.errors import LoadError
from verno.core.yamlio import iter_documents

YAML_EXTENSIONS = (".yaml", ".yml", ".json")
POLICY_KINDS = {"ClusterPolicy", "Policy"}
M = TypeVar("M", bound=BaseModel)


@dataclass
class Document:
    source: str
    index: int
    data: Any

    @property
    def where(self) -> str:
        return f"{self.source} (document {self.index + 1})"


def read_text(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except FileNotFoundError:
        raise LoadError(path, "no such file or directory") from None
    except IsADirectoryError:
        raise LoadError(path, "is a directory, expected a file") from None
    except UnicodeDecodeError as exc:
        raise LoadError(path, f"not UTF-8 text: {exc.reason} at byte {exc.start}") from None
    except OSError as exc:
        raise LoadError(path, exc.strerror or str(exc)) from None


def _walk_error(exc: OSError) -> None:
    """A directory that cannot be read is an error (``os.walk`` skips it silently by default): a set
    read without it would be smaller than the one on disk."""
    raise LoadError(exc.filename or "?", f"cannot read directory: {exc.strerror or exc}") from None


def expand_paths(paths: Iterable[str]) -> list[str]:
    """Files as given; directories walked recursively for YAML/JSON files, in sorted order."""
    out: list[str] = []
    for path in paths:
        if path == "-" or os.path.isfile(path):
            out.append(path)
        elif os.path.isdir(path):
            for root, dirs, files in os.walk(path, onerror=_walk_error):
                dirs.sort()
                out.extend(os.path.join(root, f) for f in sorted(files) if f.endswith(YAML_EXTENSIONS))
        else:
            raise LoadError(path, "no such file or directory")
    return out


def iter_file_documents(path: str) -> Iterator[Document]:
    for index, data in iter_documents(read_text(path), path):
        yield Document(path, index, data)


def iter_path_documents(paths: Iterable[str]) -> Iterator[Document]:
    for path in expand_paths(paths):
        yield from iter_file_documents(path)


def validate_model(model: type[M], doc: Document) -> M:
    """Parse ``doc`` as ``model``; a failure names the file, document and field path."""
    if not isinstance(doc.data, dict):
        raise LoadError(doc.source, f"expected a mapping, got {type(doc.data).__name__}", document=doc.index)
    try:
        return model.model_validate(doc.data)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        field = field_path(err.get("loc", ()))
        msg = err.get("msg", "invalid")
        if err.get("type") == "extra_forbidden":
            msg = "unknown field"
            loc = tuple(err.get("loc", ()))
            close = difflib.get_close_matches(str(loc[-1]), sorted(_field_names_at(model, loc[:-1])), n=1,
                                              cutoff=0.6) if loc else []
            if close:
                msg += f" (did you mean {close[0]}?)"
        elif err.get("type") == "value_error" and msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]  # pydantic's prefix for a validator's message
        elif err.get("type") == "literal_error":
            msg = f"{msg}, got {err.get('input')!r}"
        more = len(exc.errors()) - 1
        if more:
            msg += f" (and {more} more error{'s' if more > 1 else ''})"
        raise LoadError(doc.source, msg, document=doc.index, field=field) from None


def _field_names_at(model: type[BaseModel], loc: tuple[Any, ...]) -> set[str]:
    """The field names (aliases) the models at ``loc`` under ``model`` accept, for did-you-mean hints.

    Follows fields by alias or name, list items by index and dict values by key; union branches (and
    pydantic's branch labels in ``loc``) are all followed, so the names of every candidate model count.
    """
    types: list[Any] = [model]
    for part in loc:
        if not isinstance(part, int) and _is_branch_label(str(part)):
            continue
        following: list[Any] = []
        for tp in _unwrap(types):
            if isinstance(part, int):
                if get_origin(tp) in (list, tuple, set, frozenset):
                    following.extend(get_args(tp)[:1])
            elif isinstance(tp, type) and issubclass(tp, BaseModel):
                for name, info in tp.model_fields.items():
                    if part in (name, info.alias):
                        following.append(info.annotation)
            elif get_origin(tp) is dict and len(get_args(tp)) == 2:
                following.append(get_args(tp)[1])
        types = following
    return {info.alias or name for tp in _unwrap(types) if isinstance(tp, type) and issubclass(tp, BaseModel)
            for name, info in tp.model_fields.items()}


def _unwrap(types: list[Any]) -> list[Any]:
    """``Optional``/``Union``/``Annotated`` types replaced by what they hold."""
    out: list[Any] = []
    pending = list(types)
    while pending and len(out) < 64:
        tp = pending.pop(0)
        origin = get_origin(tp)
        if origin is Annotated:
            pending.append(get_args(tp)[0])
        elif origin is Union or origin is UnionType:
            pending.extend(get_args(tp))
        else:
            out.append(tp)
    return out


def _is_branch_label(part: str) -> bool:
    """Whether a part of a pydantic error location names a union branch rather than a field."""
    return part.startswith(("function-", "list[", "union[", "tagged-union[")) or part in (
        "AnyAllConditions", "list[Condition]")


def field_path(loc: Iterable[Any]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _is_branch_label(str(part)):
            continue  # pydantic's names for union branches, not fields
        else:
            out += ("." if out else "") + str(part)
    return out


def kind_of(data: Any) -> tuple[str, str]:
    if isinstance(data, dict):
        return str(data.get("apiVersion") or ""), str(data.get("kind") or "")
    return "", ""


def flatten_lists(doc: Document) -> Iterator[Document]:
    """A ``kind: List`` (or ``*List``) document stands for its items."""
    data = doc.data
    if isinstance(data, dict) and str(data.get("kind", "")).endswith("List") and isinstance(data.get("items"), list):
        for item in data["items"]:
            yield Document(doc.source, doc.index, item)
    else:
        yield doc
