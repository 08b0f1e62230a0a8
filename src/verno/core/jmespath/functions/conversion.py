"""Conversion functions: booleans, JSON, YAML, X.509, image references."""
from __future__ import annotations

import json
import math
import re
from typing import Any

import yaml

from verno.core.jmespath.functions._go import fn_error, format_go_float
from verno.core.jmespath.functions._spec import S, Spec


def to_boolean(s: str) -> bool:
    lowered = s.lower()
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    raise fn_error("to_boolean", f"lowercase argument must be 'true' or 'false' (provided: '{s}')")


def parse_json(s: str) -> Any:
    try:
        return json.loads(s)
    except ValueError as exc:
        raise fn_error("parse_json", str(exc)) from None


class _YAMLLoader(yaml.SafeLoader):
    """YAML as ``sigs.k8s.io/yaml`` reads it: timestamps stay strings."""


_YAMLLoader.yaml_implicit_resolvers = {
    first: [(tag, regex) for tag, regex in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _json_key(key: Any) -> str:
    if isinstance(key, str):
        return key
    if key is None:
        return "null"
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, float):
        return format_go_float(key)
    return str(key)


def _to_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {_json_key(k): _to_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_json(v) for v in value]
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        raise fn_error("parse_yaml", f"json: unsupported value: {value}")
    if isinstance(value, (bytes, bytearray)):
        import base64

        return base64.b64encode(value).decode()
    return value


def parse_yaml(s: str) -> Any:
    try:
        loaded = yaml.load(s, Loader=_YAMLLoader)
    except yaml.YAMLError as exc:
        raise fn_error("parse_yaml", " ".join(str(exc).split())) from None
    return _to_json(loaded)


def x509_decode(pem: str) -> dict[str, Any]:
    from verno.core.jmespath.functions.x509 import decode_pem  # cryptography loads on first use

    return decode_pem(pem)


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
