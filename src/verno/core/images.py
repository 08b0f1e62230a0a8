"""The ``images`` variable and image reference parsing.

K: pkg/utils/image/infos.go (``GetImageInfo``), pkg/utils/api/image.go (extractors), and the
distribution/reference grammar. Kyverno adds the default registry ``docker.io`` before parsing (no
``library/`` prefix: ``nginx`` has path ``nginx``), defaults the tag to ``latest`` when there is neither
tag nor digest, and keys each image by its container name.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import re2

from verno.core.errors import VernoError

DEFAULT_REGISTRY = "docker.io"
NAME_TOTAL_LENGTH_MAX = 255

_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN_NAME = rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*"
_IPV6 = r"\[(?:[a-fA-F0-9:]+)\]"
_DOMAIN = rf"(?:{_DOMAIN_NAME}|{_IPV6})(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9a-fA-F]{32,}"
_NAME = rf"(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_REFERENCE = re2.compile(rf"^({_NAME})(?::({_TAG}))?(?:@({_DIGEST}))?$")
_ANCHORED_NAME = re2.compile(rf"^(?:({_DOMAIN})/)?({_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*)$")
_DIGEST_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}


class ImageError(VernoError):
    """An image reference or an image extractor is invalid."""


@dataclass(frozen=True)
class ImageInfo:
    registry: str
    path: str
    name: str
    tag: str
    digest: str

    @property
    def reference(self) -> str:
        """Kyverno's ``String()``: ``registry/path@digest`` or ``registry/path:tag``."""
        image = f"{self.registry}/{self.path}" if self.registry else self.path
        return f"{image}@{self.digest}" if self.digest else f"{image}:{self.tag}"

    @property
    def reference_with_tag(self) -> str:
        image = f"{self.registry}/{self.path}" if self.registry else self.path
        return f"{image}:{self.tag}"

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (empty registry, tag and digest are omitted, as Kyverno's ``omitempty``)."""
        out: dict[str, Any] = {}
        if self.registry:
            out["registry"] = self.registry
        out["name"] = self.name
        out["path"] = self.path
        if self.tag:
            out["tag"] = self.tag
        if self.digest:
            out["digest"] = self.digest
        out["reference"] = self.reference
        out["referenceWithTag"] = self.reference_with_tag
        return out

    def __str__(self) -> str:
        return self.reference


def add_default_registry(image: str, registry: str = DEFAULT_REGISTRY) -> str:
    i = image.find("/")
    if i == -1:
        return f"{registry}/{image}"
    first = image[:i]
    if not any(c in first for c in ".:") and first != "localhost" and first.lower() == first:
        return f"{registry}/{image}"
    return image


def parse_image_reference(image: str, default_registry: str = DEFAULT_REGISTRY) -> ImageInfo:
    """Parse an image reference as Kyverno's ``GetImageInfo`` does (raises ImageError)."""
    full = add_default_registry(image, default_registry)
    m = _REFERENCE.match(full)
    if m is None:
        if not full:
            reason = "repository name must have at least one component"
        elif _REFERENCE.match(full.lower()) is not None:
            reason = "repository name must be lowercase"
        else:
            reason = "invalid reference format"
        raise ImageError(f"bad image: {full}: {reason}")
    name_part, tag, digest = m.group(1), m.group(2) or "", m.group(3) or ""
    if len(name_part) > NAME_TOTAL_LENGTH_MAX:
        raise ImageError(f"bad image: {full}: repository name must not be more than "
                         f"{NAME_TOTAL_LENGTH_MAX} characters")
    if digest:
        algorithm, _, hexpart = digest.partition(":")
        expected = _DIGEST_LENGTHS.get(algorithm)
        if expected is None:
            raise ImageError(f"bad image: {full}: unsupported digest algorithm")
        if len(hexpart) != expected or hexpart.lower() != hexpart:
            raise ImageError(f"bad image: {full}: invalid checksum digest format")
    nm = _ANCHORED_NAME.match(name_part)
    registry, path = (nm.group(1) or "", nm.group(2)) if nm else ("", name_part)
    name = path[path.rfind("/") + 1:]
    if not tag and not digest:
        tag = "latest"
    return ImageInfo(registry, path, name, tag, digest)


# -- extraction ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Extractor:
    fields: tuple[str, ...]
    key: str
    value: str
    name: str
    jmes_path: str = ""


def _standard(*tags: str) -> tuple[Extractor, ...]:
    return tuple(Extractor((*tags, group, "*"), "name", "image", group)
                 for group in ("initContainers", "containers", "ephemeralContainers"))


_POD = _standard("spec")
_CONTROLLER = _standard("spec", "template", "spec")
_CRONJOB = _standard("spec", "jobTemplate", "spec", "template", "spec")
REGISTERED: dict[str, tuple[Extractor, ...]] = {
    "Pod": _POD,
    "DaemonSet": _CONTROLLER,
    "Deployment": _CONTROLLER,
    "ReplicaSet": _CONTROLLER,
    "ReplicationController": _CONTROLLER,
    "StatefulSet": _CONTROLLER,
    "Job": _CONTROLLER,
    "CronJob": _CRONJOB,
}
POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
    **{k: ("spec", "template", "spec") for k in
       ("DaemonSet", "Deployment", "ReplicaSet", "ReplicationController", "StatefulSet", "Job")},
}


def _field(config: Any, name: str) -> str:
    if isinstance(config, Mapping):
        alias = {"jmes_path": "jmesPath"}.get(name, name)
        return config.get(alias) or config.get(name) or ""
    return getattr(config, name, "") or ""


def custom_extractors(configs: list[Any]) -> tuple[Extractor, ...]:
    """Extractors from a rule's ``imageExtractors[Kind]`` entries (``{path, value, name, key, jmesPath}``)."""
    out = []
    for config in configs:
        fields = [p.strip(" ") for p in _field(config, "path").split("/")]
        fields = [p for p in fields if p]
        value = _field(config, "value")
        if not value:
            if not fields:
                raise ImageError("invalid image extractor: empty path")
            value = fields.pop()
        out.append(Extractor(tuple(fields), _field(config, "key"), value, _field(config, "name") or "custom",
                             _field(config, "jmes_path")))
    return tuple(out)


def _extract(obj: Any, path: list[str], ex: Extractor, fields: tuple[str, ...], out: dict[str, dict],
             search: Callable[[str, Any], Any], default_registry: str) -> None:
    if obj is None:
        return
    if fields and fields[0] == "*":
        if isinstance(obj, list):
            for i, item in enumerate(obj):
                _extract(item, path + [str(i)], ex, fields[1:], out, search, default_registry)
        elif isinstance(obj, dict):
            for k, item in obj.items():
                _extract(item, path + [str(k)], ex, fields[1:], out, search, default_registry)
        else:
            raise ImageError("invalid type")
        return
    if not isinstance(obj, dict):
        raise ImageError("invalid image config")
    if not fields:
        pointer = "/" + "/".join(path) + "/" + ex.value
        key: Any = pointer
        if ex.key:
            key = obj.get(ex.key)
            if not isinstance(key, str):
                raise ImageError("invalid key")
        value = obj.get(ex.value)
        if not isinstance(value, str) or not value.strip():
            return
        if ex.jmes_path:
            try:
                result = search(ex.jmes_path, value)
            except VernoError as exc:
                raise ImageError(f"failed to apply jmespath {ex.jmes_path}: {exc}") from exc
            if not isinstance(result, str):
                raise ImageError(f"jmespath {ex.jmes_path} must produce a string, but produced {result}")
            value = result
        try:
            info = parse_image_reference(value, default_registry)
        except ImageError as exc:
            raise ImageError(f"invalid image '{value}' ({exc})") from exc
        entry = info.to_dict()
        entry["jsonPointer"] = pointer
        out[key] = entry
        return
    head = fields[0]
    _extract(obj.get(head), path + [head], ex, fields[1:], out, search, default_registry)


def _default_search(expression: str, data: Any) -> Any:
    import jmespath

    return jmespath.search(expression, data)


def _pull_secrets(resource: dict[str, Any]) -> list[str]:
    spec_path = POD_SPEC_PATHS.get(resource.get("kind") or "")
    if spec_path is None:
        return []
    node: Any = resource
    for part in spec_path:
        node = node.get(part) if isinstance(node, dict) else None
    if not isinstance(node, dict):
        return []
    return [s["name"] for s in node.get("imagePullSecrets") or [] if isinstance(s, dict) and s.get("name")]


def extract_images(resource: dict[str, Any], extractors: Mapping[str, list[Any]] | None = None, *,
                   search: Callable[[str, Any], Any] | None = None,
                   default_registry: str = DEFAULT_REGISTRY) -> dict[str, dict[str, dict[str, Any]]]:
    """Kyverno's ``images`` for a resource: ``{containers|initContainers|ephemeralContainers|<name>:
    {<key>: {registry, name, path, tag, digest, reference, referenceWithTag, jsonPointer,
    imagePullSecrets}}}``. ``extractors`` are a rule's ``imageExtractors``; they replace the built-in
    ones for the kinds they name. Raises ImageError for an invalid image or extractor.
    """
    if not isinstance(resource, dict):
        return {}
    kind = resource.get("kind") or ""
    if extractors and kind in extractors:
        chosen = custom_extractors(list(extractors[kind]))
        if not chosen:
            raise ImageError(f"no extractors found for {kind}")
    else:
        chosen = REGISTERED.get(kind, ())
    if not chosen:
        return {}
    search = search or _default_search
    secrets = _pull_secrets(resource)
    infos: dict[str, dict[str, dict[str, Any]]] = {}
    for ex in chosen:
        found: dict[str, dict[str, Any]] = {}
        _extract(resource, [], ex, ex.fields, found, search, default_registry)
        if found:
            if secrets:
                for entry in found.values():
                    entry["imagePullSecrets"] = list(secrets)
            infos[ex.name] = found
    return infos
