"""Kyverno's ``kyverno.image`` library: image references parsed as go-containerregistry's
``name.ParseReference`` parses them (Docker Hub is ``index.docker.io``, ``nginx`` is ``library/nginx``,
the tag defaults to ``latest``, ``repo:tag@sha256:...`` is a digest reference).

``parseImageReference(s)`` (and the deprecated ``image(s)``) return an opaque ``kyverno.image`` value with
the member functions ``registry()``, ``repository()``, ``identifier()``, ``tag()``, ``digest()`` and
``containsDigest()``; ``isImage(s)`` says whether ``s`` parses. As in the current kyverno/sdk, a digest
reference written with a tag keeps it: ``tag()`` is that tag and ``identifier()`` is ``tag@digest``.

This is a different grammar from the ``images`` variable of ClusterPolicies (Kyverno's ``GetImageInfo``,
:mod:`verno.core.images`: ``docker.io``, no ``library/``), which is why it is not reused here.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from verno.core.cel.library import FunctionError, Library
from verno.core.cel.opaque import unwrap, wrap

__all__ = ["ImageReference", "libraries", "parse_reference"]

IMAGE = "kyverno.image"
DEFAULT_REGISTRY = "index.docker.io"
_REGISTRY_ALIAS = "docker.io"
_REPOSITORY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_-./")
_TAG_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_-.ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_DIGEST_CHARS = frozenset("sh:0123456789abcdef")
# characters Go's url.Parse keeps in a host (encodeHost mode), besides letters and digits
_HOST_CHARS = frozenset("-_.~!$&'()*+,;=:[]<>\"")


class _BadName(ValueError):
    pass


@dataclass(frozen=True)
class ImageReference:
    original: str
    registry: str
    repository: str
    tag: str = ""       # a tag reference's tag ("latest" when none is written)
    digest: str = ""    # a digest reference's digest


def _element_ok(value: str, chars: frozenset[str], low: int, high: int) -> bool:
    return low <= len(value) <= high and all(c in chars for c in value)


def _registry_ok(name: str) -> bool:
    """Go's ``url.Parse("//" + name).Host == name``."""
    for c in name:
        if ord(c) < 0x80 and not (c.isalnum() or c in _HOST_CHARS):
            return False
    if name.startswith("["):
        close = name.find("]")
        if close < 0:
            return False
        port = name[close + 1:]
    else:
        colon = name.rfind(":")
        port = name[colon:] if colon >= 0 else ""
    return port == "" or (port.startswith(":") and port[1:].isdigit() or port == ":")


def _repository(name: str) -> tuple[str, str]:
    if not name:
        raise _BadName("a repository name must be specified")
    registry, repo = "", name
    first, sep, rest = name.partition("/")
    if sep and ("." in first or ":" in first):
        registry, repo = first, rest
    if not _element_ok(repo, _REPOSITORY_CHARS, 2, 255):
        raise _BadName(f"repository {repo}")
    if not _registry_ok(registry):
        raise _BadName(f"registries must be valid RFC 3986 URI authorities: {registry}")
    registry = registry or DEFAULT_REGISTRY
    if registry == _REGISTRY_ALIAS:
        registry = DEFAULT_REGISTRY
    if "/" not in repo and registry == DEFAULT_REGISTRY:
        repo = "library/" + repo
        if not _element_ok(repo, _REPOSITORY_CHARS, 2, 255):
            raise _BadName(f"repository {repo}")
    return registry, repo


def _tag(name: str) -> ImageReference:
    base, tag = name, ""
    parts = name.split(":")
    if len(parts) > 1 and "/" not in parts[-1]:
        base, tag = ":".join(parts[:-1]), parts[-1]
    if tag and not _element_ok(tag, _TAG_CHARS, 1, 127):
        raise _BadName(f"tag {tag}")
    registry, repo = _repository(base)
    return ImageReference(name, registry, repo, tag=tag or "latest")


def _digest(name: str) -> ImageReference:
    parts = name.split("@")
    if len(parts) != 2:
        raise _BadName("a digest must contain exactly one '@' separator")
    base, digest = parts
    if not _element_ok(digest, _DIGEST_CHARS, 71, 71):
        raise _BadName(f"digest {digest}")
    try:
        tagged = _tag(base)
        base = f"{tagged.registry}/{tagged.repository}"
    except _BadName:
        pass
    registry, repo = _repository(base)
    return ImageReference(name, registry, repo, digest=digest)


def parse_reference(text: str) -> ImageReference:
    """go-containerregistry's ``name.ParseReference`` (default options); ValueError when it fails."""
    if text.startswith(("http://", "https://")):
        raise ValueError(f"image reference must not contain a URL scheme (http:// or https://): {text}")
    for parse in (_tag, _digest):
        try:
            return parse(text)
        except _BadName:
            continue
    raise ValueError(f"could not parse reference: {text}")


def _tag_of_digest_reference(original: str) -> str:
    """The tag written before ``@`` (not a registry port): ``repo:v1@sha256:...`` -> ``v1``."""
    before = original.partition("@")[0]
    slash, colon = before.rfind("/"), before.rfind(":")
    return "" if colon == -1 or colon < slash else before[colon + 1:]


def _image(text: str) -> dict:
    try:
        return wrap(IMAGE, asdict(parse_reference(text)))
    except ValueError as exc:
        raise FunctionError(str(exc)) from None


def _is_image(text: str) -> bool:
    try:
        parse_reference(text)
        return True
    except ValueError:
        return False


def _ref(value: object, function: str) -> ImageReference:
    return ImageReference(**unwrap(value, IMAGE, function))  # type: ignore[arg-type]


def _tag_str(value: object) -> str:
    ref = _ref(value, "tag")
    return ref.tag if not ref.digest else _tag_of_digest_reference(ref.original)


def _identifier(value: object) -> str:
    ref = _ref(value, "identifier")
    if not ref.digest:
        return ref.tag
    tag = _tag_of_digest_reference(ref.original)
    return f"{tag}@{ref.digest}" if tag else ref.digest


def libraries() -> list[Library]:
    lib = Library("kyverno.image")
    lib.fn("parseImageReference", ["string"], "dyn", _image, overload_id="kyverno.string_to_image")
    lib.fn("image", ["string"], "dyn", _image, overload_id="kyverno.string_to_image_deprecated")
    lib.fn("isImage", ["string"], "bool", _is_image, overload_id="kyverno.is_image_string")
    lib.fn("containsDigest", ["dyn"], "bool", lambda v: bool(_ref(v, "containsDigest").digest), member=True,
           overload_id="kyverno.image_contains_digest")
    lib.fn("registry", ["dyn"], "string", lambda v: _ref(v, "registry").registry, member=True,
           overload_id="kyverno.image_registry")
    lib.fn("repository", ["dyn"], "string", lambda v: _ref(v, "repository").repository, member=True,
           overload_id="kyverno.image_repository")
    lib.fn("identifier", ["dyn"], "string", _identifier, member=True, overload_id="kyverno.image_identifier")
    lib.fn("tag", ["dyn"], "string", _tag_str, member=True, overload_id="kyverno.image_tag")
    lib.fn("digest", ["dyn"], "string", lambda v: _ref(v, "digest").digest, member=True,
           overload_id="kyverno.image_digest")
    return [lib]
