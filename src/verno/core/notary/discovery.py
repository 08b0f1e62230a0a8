"""Finding an artifact's Notary Project signatures in its registry.

The signatures of an artifact are the manifests whose ``subject`` is it and whose ``artifactType`` is
``application/vnd.cncf.notary.signature``, listed by the OCI referrers API or, where the registry lacks
it, by the referrers tag schema (the client does both). Each must hold exactly one layer, the envelope.
The registry is reached only through the client ``Registries`` hands out (``verno.registry``, passed in:
the core does not import it), so every request stays behind the egress fence and its size limits.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

from verno.core.errors import VernoError
from verno.core.images import parse_image_reference
from verno.core.notary.bounds import (
    MAX_ENVELOPE_BYTES, MAX_PAYLOAD_BYTES, MAX_REFERRERS, MAX_SIGNATURE_ATTEMPTS, MAX_SIGNATURE_MANIFEST_BYTES)
from verno.core.notary.mediatypes import COSE, JWS, SIGNATURE_ARTIFACT
from verno.core.notary.outcome import NotaryError, SignatureInvalid


class RegistryClient(Protocol):  # what verno.registry.RegistryClient offers
    def resolve(self, repo: str, reference: str) -> Any: ...
    def manifest(self, repo: str, reference: str) -> Any: ...
    def blob(self, repo: str, digest: str) -> bytes: ...
    def referrers(self, repo: str, digest: str, artifact_type: str | None = None) -> list[dict[str, Any]]: ...


class Registries(Protocol):  # verno.registry.Registries
    def client(self, registry: str, *, insecure: bool = False) -> RegistryClient: ...


@dataclass(frozen=True)
class Artifact:
    """A manifest in a repository: the image, or one of its referrers."""

    client: RegistryClient
    registry: str
    repo: str
    digest: str
    media_type: str
    size: int

    @property
    def reference(self) -> str:
        return f"{self.registry}/{self.repo}@{self.digest}"

    @property
    def descriptor(self) -> dict[str, Any]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size}

    def at(self, desc: dict[str, Any]) -> "Artifact":
        return Artifact(self.client, self.registry, self.repo, desc["digest"], desc["mediaType"], desc["size"])


def resolve(registries: Registries, image: str, insecure: bool) -> Artifact:
    """The image's descriptor (a HEAD of its tag or digest). Registry errors propagate (VernoError)."""
    info = parse_image_reference(image)
    client = registries.client(info.registry, insecure=insecure)
    desc = client.resolve(info.path, info.digest or info.tag)
    if info.digest and desc.digest != info.digest:
        raise NotaryError(f"{image}: the registry answered digest {desc.digest} for it")
    return Artifact(client, info.registry, info.path, desc.digest, desc.media_type, desc.size)


def _descriptor(entry: Any) -> dict[str, Any] | None:
    if not isinstance(entry, dict):
        return None
    digest, media_type, size = entry.get("digest"), entry.get("mediaType"), entry.get("size")
    if not isinstance(digest, str) or not isinstance(media_type, str) or not isinstance(size, int) \
            or isinstance(size, bool) or size < 0:
        return None
    return {**entry, "digest": digest, "mediaType": media_type, "size": size}


def referrers(art: Artifact, artifact_type: str) -> list[dict[str, Any]]:
    """The artifact's referrers of ``artifact_type`` (Kyverno refuses an artifact with more than
    :data:`MAX_REFERRERS` referrers in all)."""
    entries = art.client.referrers(art.repo, art.digest)
    if len(entries) > MAX_REFERRERS:
        raise NotaryError(f"{art.reference}: failed to fetch referrers: too many referrers found "
                          f"({len(entries)}), max limit is {MAX_REFERRERS}")
    out = []
    for entry in entries:
        desc = _descriptor(entry)
        if desc is not None and desc.get("artifactType") == artifact_type:
            out.append(desc)
    return out


def signatures(art: Artifact) -> tuple[list[dict[str, Any]], bool]:
    """The signature manifests to examine (at most MAX_SIGNATURE_ATTEMPTS) and whether more remained."""
    found = referrers(art, SIGNATURE_ARTIFACT)
    return found[:MAX_SIGNATURE_ATTEMPTS], len(found) > MAX_SIGNATURE_ATTEMPTS


def _single_layer(manifest: dict[str, Any], what: str) -> dict[str, Any]:
    layers = manifest.get("layers")
    if not isinstance(layers, list) or len(layers) != 1:
        raise SignatureInvalid(f"{what} must have exactly one layer, it has "
                               f"{len(layers) if isinstance(layers, list) else 'none'}")
    layer = _descriptor(layers[0])
    if layer is None:
        raise SignatureInvalid(f"{what}'s layer is not a descriptor (mediaType, digest, size)")
    return layer


def _manifest(art: Artifact, desc: dict[str, Any], limit: int, what: str) -> dict[str, Any]:
    if desc["size"] > limit:
        raise SignatureInvalid(f"{what} is {desc['size']} bytes, more than the {limit} allowed")
    try:
        return art.client.manifest(art.repo, desc["digest"]).json
    except VernoError as exc:
        raise SignatureInvalid(str(exc)) from None


def _blob(art: Artifact, layer: dict[str, Any], limit: int, what: str) -> bytes:
    if layer["size"] > limit:
        raise SignatureInvalid(f"{what} is {layer['size']} bytes, more than the {limit} allowed")
    try:
        data = art.client.blob(art.repo, layer["digest"])
    except VernoError as exc:
        raise SignatureInvalid(str(exc)) from None
    if len(data) != layer["size"]:
        raise SignatureInvalid(f"{what} is {len(data)} bytes, its descriptor says {layer['size']}")
    return data


def envelope(art: Artifact, desc: dict[str, Any]) -> bytes:
    """The JWS envelope blob of one signature manifest; SignatureInvalid saying what is wrong with it."""
    manifest = _manifest(art, desc, MAX_SIGNATURE_MANIFEST_BYTES, "the signature manifest")
    config = manifest.get("config")
    kind = manifest.get("artifactType") or (config.get("mediaType") if isinstance(config, dict) else None)
    if kind != SIGNATURE_ARTIFACT:
        raise SignatureInvalid(f"the manifest is not a Notary Project signature (artifactType {kind!r}, "
                               f"not {SIGNATURE_ARTIFACT!r})")
    subject = manifest.get("subject")
    if not isinstance(subject, dict) or subject.get("digest") != art.digest:
        raise SignatureInvalid(f"the signature manifest's subject is not {art.digest}")
    layer = _single_layer(manifest, "the signature manifest")
    if layer["mediaType"] == COSE:
        raise SignatureInvalid(f"signature envelope format with media type {COSE!r} is not supported by verno; "
                               f"sign with the JWS envelope ({JWS!r}, notation's default "
                               f"--signature-format jws)")
    if layer["mediaType"] != JWS:
        raise SignatureInvalid(f"signature envelope format with media type {layer['mediaType']!r} is not "
                               f"supported (the Notary Project envelopes are {JWS!r} and {COSE!r})")
    return _blob(art, layer, MAX_ENVELOPE_BYTES, "the signature envelope")


def referrer_payload(art: Artifact, artifact_type: str) -> Any:
    """A referrer's payload: its single layer, parsed as JSON (Kyverno's referrer attestation data)."""
    manifest = _manifest(art, art.descriptor, MAX_SIGNATURE_MANIFEST_BYTES, "the referrer manifest")
    try:
        layer = _single_layer(manifest, "the referrer manifest")
    except SignatureInvalid:
        raise SignatureInvalid("invalid referrer descriptor, must have only one layer") from None
    data = _blob(art, layer, MAX_PAYLOAD_BYTES, "the referrer's layer")
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        raise SignatureInvalid(f"failed to unmarshal json for attestation {artifact_type}") from None
