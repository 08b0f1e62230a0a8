"""Kyverno's encoding libraries (kyverno/sdk ``extensions/cel/libs``): ``kyverno.hash`` (``sha1``/``sha256``/
``md5`` and ``hash.*``), ``kyverno.json`` (``json.unmarshal``/``json.marshal``), ``kyverno.yaml``
(``yaml.parse``) and ``kyverno.gzip`` (``gzip.compress``/``gzip.decompress``).

Values decoded from JSON or YAML come back as Go's ``json.Unmarshal`` into ``any`` gives them: every number
is a ``double``. ``json.marshal`` renders like Go's ``json.Marshal`` (compact, sorted keys, HTML-escaped).
"""
from __future__ import annotations

import base64
import datetime
import gzip
import hashlib
import io
import json
import math
import zlib
from typing import Any

from verno.core import limits, yamlio
from verno.core.cel.library import FunctionError, Library
from verno.core.errors import LoadError
from verno.core.objectshape import first_non_finite
from verno.core.jmespath.functions._go import go_json

__all__ = ["as_go_json", "libraries"]

D = "dyn"


def as_go_json(value: Any) -> Any:
    """``value`` after a Go JSON round trip into ``any``: integers become floats (iteratively, so deep
    values cost no recursion)."""
    if isinstance(value, bool) or value is None or isinstance(value, (str, float)):
        return value
    if isinstance(value, int):
        return float(value)
    root: list[Any] = [value]
    todo: list[tuple[Any, Any, Any]] = [(root, 0, value)]
    while todo:
        parent, key, item = todo.pop()
        if isinstance(item, dict):
            copy: Any = dict(item)
            parent[key] = copy
            todo.extend((copy, k, v) for k, v in copy.items() if isinstance(v, (dict, list, int)))
        elif isinstance(item, list):
            copy = list(item)
            parent[key] = copy
            todo.extend((copy, i, v) for i, v in enumerate(copy) if isinstance(v, (dict, list, int)))
        elif isinstance(item, int) and not isinstance(item, bool):
            parent[key] = float(item)
    return root[0]


# ---------------------------------------------------------------------------------------------- hash
def _hasher(name: str):
    def digest(s: str) -> str:
        return hashlib.new(name, s.encode("utf-8", "surrogatepass")).hexdigest()
    return digest


def hash_library() -> Library:
    lib = Library("kyverno.hash")
    for name in ("sha1", "sha256", "md5"):
        lib.fn(name, ["string"], "string", _hasher(name), overload_id=f"kyverno.{name}_string")
        lib.fn(f"hash.{name}", ["string"], "string", _hasher(name), overload_id=f"kyverno.hash.{name}_string")
    return lib


# ---------------------------------------------------------------------------------------------- json
def _reject_constant(name: str) -> float:
    raise ValueError(f"invalid character '{name[0]}' looking for beginning of value")


def _go_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"json: cannot unmarshal number {text} into Go value of type float64")
    return value


def unmarshal(text: object) -> Any:
    if not isinstance(text, str):
        raise FunctionError(f"json.unmarshal: no such overload: the argument is a {type(text).__name__}, "
                            "not a string")
    try:
        return json.loads(text, parse_int=_go_float, parse_float=_go_float, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        if exc.msg == "Expecting value" and exc.pos >= len(text.rstrip()):
            raise FunctionError("unexpected end of JSON input") from None
        raise FunctionError(f"json.unmarshal: {exc.msg} at offset {exc.pos}") from None
    except ValueError as exc:
        raise FunctionError(str(exc)) from None


def _json_native(value: Any) -> Any:
    """A CEL value as Go's ``json.Marshal`` sees it: bytes as base64, timestamps as RFC 3339, durations
    as nanoseconds; NaN and infinities are Go's ``unsupported value`` error."""
    if isinstance(value, float):
        if not math.isfinite(value):
            text = "NaN" if math.isnan(value) else ("+Inf" if value > 0 else "-Inf")
            raise FunctionError(f"json: unsupported value: {text}")
        return value
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, datetime.datetime):
        text = value.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
        if value.microsecond:
            text += f".{value.microsecond:06d}".rstrip("0")
        return text + "Z"
    if isinstance(value, datetime.timedelta):
        return (value.days * 86_400 + value.seconds) * 1_000_000_000 + value.microseconds * 1000
    if isinstance(value, dict):
        return {str(k): _json_native(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_native(v) for v in value]
    return value


def marshal(value: Any) -> str:
    text = go_json(_json_native(value))
    if len(text) > limits.max_function_result():
        raise FunctionError(f"json.marshal: the result is longer than {limits.max_function_result()} bytes")
    return text


def json_library() -> Library:
    lib = Library("kyverno.json")
    lib.fn("json.unmarshal", [D], D, unmarshal, overload_id="kyverno.json.unmarshal_dyn")
    lib.fn("json.marshal", [D], "string", marshal, overload_id="kyverno.json.marshal_dyn")
    return lib


# ---------------------------------------------------------------------------------------------- yaml
def _non_finite(value: Any) -> None:
    bad = first_non_finite(value)
    if bad is not None:
        raise FunctionError(f"json: unsupported value: {_go_name(bad)}")


def _go_name(v: float) -> str:
    return "NaN" if math.isnan(v) else ("+Inf" if v > 0 else "-Inf")


def parse_yaml(text: str) -> Any:
    """``sigs.k8s.io/yaml`` YAML-to-JSON of the first document, then JSON into ``any`` (numbers double);
    Kubernetes' YAML 1.1 meaning and the loader's bounds on aliases and depth."""
    first = next(yamlio.yaml_chunks(text), None)
    if first is None:
        return None
    index, chunk, line = first
    try:
        value = yamlio.load_document(chunk, "yaml.parse", index=index, line=line)
    except LoadError as exc:
        raise FunctionError(f"yaml.parse: {exc.message}") from None
    _non_finite(value)
    return as_go_json(value)


def yaml_library() -> Library:
    lib = Library("kyverno.yaml")
    lib.fn("yaml.parse", ["string"], D, parse_yaml, overload_id="kyverno.yaml.parse_string")
    return lib


# ---------------------------------------------------------------------------------------------- gzip
def compress(value: object) -> bytes:
    if not isinstance(value, str):
        raise FunctionError(f"gzip.compress: no such overload: the argument is a {type(value).__name__}, "
                            "not a string")
    # as Go's gzip.Writer with ModTime 0: a header without name or time, OS byte 255 (unknown); the
    # deflate stream is zlib's, so the bytes may differ from Go's while decompressing to the same text
    out = gzip.compress(value.encode("utf-8", "surrogatepass"), compresslevel=6, mtime=0)
    return out[:9] + b"\xff" + out[10:]


def decompress(data: bytes) -> str:
    cap = limits.max_function_result()
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(bytes(data))) as fh:
            out = fh.read(cap + 1)
    except (OSError, EOFError, zlib.error) as exc:
        message = "gzip: invalid header" if "Not a gzipped file" in str(exc) else f"gzip: {exc}"
        raise FunctionError(message) from None
    if len(out) > cap:
        raise FunctionError(f"gzip.decompress: the result is longer than {cap} bytes")
    return out.decode("utf-8", "replace")


def gzip_library() -> Library:
    lib = Library("kyverno.gzip")
    lib.fn("gzip.compress", [D], "bytes", compress, overload_id="kyverno.gzip.compress_dyn")
    lib.fn("gzip.decompress", ["bytes"], "string", decompress, overload_id="kyverno.gzip.decompress_bytes")
    return lib


def libraries() -> list[Library]:
    return [hash_library(), json_library(), yaml_library(), gzip_library()]
