"""Conversion functions: booleans, JSON, YAML, X.509, image references."""
from __future__ import annotations

import json
import math
import re
from typing import Any

from verno.core import yamlio
from verno.core.errors import JMESPathError, LoadError
from verno.core.objectshape import first_non_finite
from verno.core.jmespath.functions._go import fn_error
from verno.core.jmespath.functions._spec import S, Spec


def to_boolean(s: str) -> bool:
    lowered = s.lower()
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    raise fn_error("to_boolean", f"lowercase argument must be 'true' or 'false' (provided: '{s}')")


def _json_constant(name: str) -> Any:
    # Go's encoding/json has no NaN or Infinity (Python's json reads them)
    if name.startswith("-"):
        raise ValueError("invalid character 'I' in numeric literal")
    raise ValueError(f"invalid character '{name[0]}' looking for beginning of value")


def parse_json(s: str) -> Any:
    """``json.Unmarshal``; collections nest at most as deep as in a file (``yamlio.MAX_DEPTH``)."""
    if s.count("[") + s.count("{") > yamlio.MAX_DEPTH and yamlio.json_too_deep(s):
        raise fn_error("parse_json", yamlio.depth_message())
    try:
        return json.loads(s, parse_constant=_json_constant)
    except ValueError as exc:
        raise fn_error("parse_json", str(exc)) from None
    except RecursionError:
        raise fn_error("parse_json", yamlio.depth_message()) from None


def _go_float_text(value: float) -> str:
    return "NaN" if math.isnan(value) else "+Inf" if value > 0 else "-Inf"


def _reject_non_finite(value: Any) -> None:
    """sigs.k8s.io/yaml converts to JSON, which has no NaN or infinity."""
    bad = first_non_finite(value)
    if bad is not None:
        raise fn_error("parse_yaml", f"json: unsupported value: {_go_float_text(bad)}")


def parse_yaml(s: str) -> Any:
    """``sigs.k8s.io/yaml.Unmarshal``: the first document, read as file loading reads one.

    Kubernetes' YAML 1.1 meaning (sexagesimal ``1:30`` and timestamps stay strings, keys become JSON
    strings) and the same bounds: aliases expand to at most ``yamlio.MAX_ALIAS_EVENTS`` values and
    collections nest at most ``yamlio.MAX_DEPTH`` deep.
    """
    first = next(yamlio.yaml_chunks(s), None)
    if first is None:
        return None
    index, chunk, line = first
    try:
        value = yamlio.load_document(chunk, "parse_yaml", index=index, line=line)
    except LoadError as exc:
        raise fn_error("parse_yaml", exc.message) from None
    _reject_non_finite(value)
    return value


def x509_decode(pem: str) -> dict[str, Any]:
    from verno.core.x509cert import CertificateError, decode_pem  # cryptography loads on first use

    try:
        return decode_pem(pem)
    except CertificateError as exc:
        raise JMESPathError(str(exc)) from None


# -- image references (github.com/distribution/reference grammar) --------------------------------------

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*"
_PATH_RE = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
_DOMAIN_RE = re.compile(
    r"^(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*"
    r"|\[[a-fA-F0-9:]+\])(?::[0-9]+)?$")
_TAG_RE = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST_RE = re.compile(r"^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$")
DEFAULT_REGISTRY = "docker.io"


def split_image(image: str, default_registry: str = DEFAULT_REGISTRY) -> tuple[str, str, str, str]:
    """(registry, path, tag, digest) of an image reference; ValueError when it is not one."""
    name, _, digest = image.partition("@")
    if digest and not _DIGEST_RE.match(digest):
        raise ValueError("invalid reference format")
    tag = ""
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        name, tag = name[:colon], name[colon + 1:]
        if not _TAG_RE.match(tag):
            raise ValueError("invalid reference format")
    first, sep, rest = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost" or first != first.lower()):
        registry, path = first, rest
        if not _DOMAIN_RE.match(registry):
            raise ValueError("invalid reference format")
    else:
        registry, path = default_registry, name
    if not path or not _PATH_RE.match(path):
        if path and path != path.lower():
            raise ValueError("repository name must be lowercase")
        raise ValueError("invalid reference format")
    if len(registry) + 1 + len(path) > 255:
        raise ValueError("repository name must not be more than 255 characters")
    return registry, path, tag, digest


def image_normalize(image: str) -> str:
    """``docker.io`` when no registry is named, ``latest`` when neither tag nor digest is."""
    try:
        registry, path, tag, digest = split_image(image)
    except ValueError as exc:
        raise fn_error("image_normalize", f"bad image: {image}: {exc}") from None
    base = f"{registry}/{path}" if registry else path
    return f"{base}@{digest}" if digest else f"{base}:{tag or 'latest'}"


FUNCTIONS = [
    Spec("to_boolean", to_boolean, [S], "boolean",
         "It returns true or false for any string, such as 'True', 'TruE', 'False', 'FAlse', 'faLSE', etc."),
    Spec("parse_json", parse_json, [S], "any",
         "decodes a valid JSON encoded string to the appropriate type. Opposite of `to_string` function"),
    Spec("parse_yaml", parse_yaml, [S], "any",
         "decodes a valid YAML encoded string to the appropriate type provided it can be represented as JSON"),
    Spec("x509_decode", x509_decode, [S], "object",
         "decodes an x.509 certificate to an object. you may also use this in conjunction with `base64_decode` "
         "jmespath function to decode a base64-encoded certificate"),
    Spec("image_normalize", image_normalize, [S], "string", "normalizes an image reference"),
]
