"""cosign's legacy formats: ``<alg>-<hex>.sig`` simple-signing layers and ``.att`` DSSE attestations.

``Target`` is one image being verified; its signature and attestation objects are fetched once per
target (two round trips: the manifest, then each layer blob) and verified against each attestor entry.
Its ``registries`` is the pool the calling plugin hands over (``client(registry, insecure=...)`` giving
clients with ``manifest``, ``blob`` and ``referrers``; a missing manifest raises
:class:`~verno.core.errors.ArtifactNotFound`).
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any, Callable

from verno.core.errors import VernoError
from verno.core.images import parse_image_reference
from verno.core.signatures.crypto import (
    VerifyFailure,
    b64decode,
    load_certs,
    load_public_key,
    verify_set,
    verify_signature,
)
from verno.core.signatures.keyless import (
    check_code_signing,
    check_identities,
    check_validity,
    leaf_issuer,
    verify_chain,
    verify_sct,
)
from verno.core.errors import ArtifactNotFound
from verno.core.signatures.attestor import Attestor, AttestorSet

SIGNATURE = "dev.cosignproject.cosign/signature"
CERTIFICATE = "dev.sigstore.cosign/certificate"
CHAIN = "dev.sigstore.cosign/chain"
BUNDLE = "dev.sigstore.cosign/bundle"
INTOTO = "application/vnd.in-toto+json"


@dataclass
class Layer:
    media_type: str
    blob: bytes
    annotations: dict[str, str]


@dataclass
class Target:
    """One image: where it lives, its digest, and the registries to reach it and its signatures."""

    image: str
    registry: str
    repo: str
    digest: str
    registries: Any
    insecure: bool = False
    repository: str = ""  # the rule's ``repository`` (signatures stored elsewhere)
    _objects: dict[tuple[str, str, str], list[Layer]] = field(default_factory=dict)

    def storage(self, repository: str = "") -> tuple[str, str]:
        """(registry, repository) holding the image's signatures, attestations and bundles: the given
        ``repository``, else the rule's, else the image's own."""
        where = repository or self.repository
        if where:
            info = parse_image_reference(where.rstrip("/"))
            return info.registry, info.path
        return self.registry, self.repo

    def layers(self, suffix: str, repository: str = "", prefix: str = "") -> list[Layer]:
        """The layers of the ``[prefix]<alg>-<hex>.<suffix>`` object (none when it does not exist)."""
        registry, repo = self.storage(repository)
        key = (registry, repo, prefix + suffix)
        if key not in self._objects:
            client = self.registries.client(registry, insecure=self.insecure)
            tag = prefix + self.digest.replace(":", "-", 1) + "." + suffix
            try:
                manifest = client.manifest(repo, tag)
            except ArtifactNotFound:
                self._objects[key] = []
                return []
            self._objects[key] = [Layer(d.get("mediaType", ""), client.blob(repo, d["digest"]), d.get("annotations") or {})
                                  for d in manifest.json.get("layers") or []]
        return self._objects[key]


#: the fields a fix names, as a verifyImages rule spells them
RULE_FIELDS = {"roots": "keyless.roots", "rekor_pubkey": "rekor.pubkey", "ignore_tlog": "rekor.ignoreTlog",
               "ctlog_pubkey": "ctlog.pubkey", "ignore_sct": "ctlog.ignoreSCT"}


def public_services_needed(entry: Attestor, fields: dict[str, str] = RULE_FIELDS) -> str:
    """Why ``entry`` would need the public Sigstore services (checked before any network), or "". ``fields``
    names the settings that avoid them, as the policy kind spells them."""
    if entry.kind == "attestor" and entry.nested is not None:
        return next((m for e in entry.nested.entries if (m := public_services_needed(e, fields))), "")
    if entry.kind == "keyless" and not entry.roots:
        return (f"{entry.where}: keyless verification without roots needs the public Fulcio roots; "
                f"verno works offline: set {fields['roots']}")
    if not entry.rekor.ignore_tlog and not entry.rekor.pubkey:
        return (f"{entry.where}: verifying the transparency log needs the public Rekor ({entry.rekor.url}), "
                f"which verno does not contact; set {fields['rekor_pubkey']} (signatures then need a Rekor bundle) "
                f"or {fields['ignore_tlog']}: true")
    if entry.kind in ("keyless", "certificates") and not entry.ctlog.ignore_sct and not entry.ctlog.pubkey:
        return (f"{entry.where}: verifying the certificate's SCT needs the public CT log key; "
                f"set {fields['ctlog_pubkey']} or {fields['ignore_sct']}: true")
    return ""


def verify_attestor_set(aset: AttestorSet, verify_entry: Callable[[Attestor], list[Any]]) -> list[Any]:
    """m-of-n: verified items of the first ``count`` entries that verify (all entries when count is null)."""
    verified, items, failures = 0, [], []
    for entry in aset.entries:
        try:
            found = verify_attestor_set(entry.nested, verify_entry) if entry.nested else verify_entry(entry)
        except VerifyFailure as exc:
            failures.append(f"{entry.where}: {exc}")
            continue
        verified += 1
        items.extend(found)
        if verified >= aset.required:
            return items
    detail = "; ".join(failures)
    if aset.count is not None:
        raise VerifyFailure(f"{aset.where}: count not met: {verified} of {len(aset.entries)} attestors verified, "
                            f"{aset.count} required; {detail}")
    raise VerifyFailure(detail)


def verify_signatures(entry: Attestor, target: Target) -> list[dict[str, Any]]:
    """The simple-signing payloads of ``target``'s ``.sig`` that ``entry`` verifies."""
    layers = target.layers("sig", entry.repository, entry.tag_prefix)
    if not layers:
        raise VerifyFailure(f"no signatures found for {target.image}")
    return _verified(layers, lambda layer: _signature_layer(entry, layer, target))


def verify_attestations(entry: Attestor, target: Target) -> list[dict[str, Any]]:
    """The in-toto statements of ``target``'s ``.att`` that ``entry`` verifies."""
    layers = target.layers("att", entry.repository, entry.tag_prefix)
    if not layers:
        raise VerifyFailure(f"no attestations found for {target.image}")
    return _verified(layers, lambda layer: _attestation_layer(entry, layer, target))


def _verified(layers: list[Layer], check: Callable[[Layer], Any]) -> list[Any]:
    out, reasons = [], []
    for layer in layers:
        try:
            out.append(check(layer))
        except VerifyFailure as exc:
            if str(exc) not in reasons:
                reasons.append(str(exc))
    if not out:
        raise VerifyFailure("no matching signatures: " + "; ".join(reasons))
    return out


def _signature_layer(entry: Attestor, layer: Layer, target: Target) -> dict[str, Any]:
    sig_b64 = layer.annotations.get(SIGNATURE, "")
    if not sig_b64:
        raise VerifyFailure("signature layer without a signature annotation")
    key, cert = _verifier(entry, layer)
    verify_signature(key, b64decode(sig_b64, "signature"), layer.blob, entry.signature_algorithm)
    try:
        payload = json.loads(layer.blob)
        critical = {k.lower(): v for k, v in payload["critical"].items()}
        image = {k.lower(): v for k, v in critical["image"].items()}
        claimed = image.get("docker-manifest-digest", "")
    except (ValueError, KeyError, TypeError, AttributeError):
        raise VerifyFailure("invalid simple-signing payload") from None
    if claimed != target.digest:
        raise VerifyFailure(f"signature is for digest {claimed}, not the image digest {target.digest}")
    optional = payload.get("optional") or {}
    for k, v in entry.annotations.items():
        if optional.get(k) != v:
            raise VerifyFailure(f"annotation {k}={v!r} missing from the signature payload (found {optional.get(k)!r})")
    _trust(entry, layer, key, cert, sig_b64, layer.blob)
    return payload


def _attestation_layer(entry: Attestor, layer: Layer, target: Target) -> dict[str, Any]:
    try:
        envelope = json.loads(layer.blob)
        payload_type, body = envelope["payloadType"], b64decode(envelope["payload"], "DSSE payload")
        sigs = [s["sig"] for s in envelope.get("signatures") or []]
    except (ValueError, KeyError, TypeError):
        raise VerifyFailure("invalid DSSE envelope") from None
    if payload_type != INTOTO:
        raise VerifyFailure(f"unsupported DSSE payloadType {payload_type!r}")
    key, cert = _verifier(entry, layer)
    pae = b"DSSEv1 %d %s %d %s" % (len(payload_type), payload_type.encode(), len(body), body)
    good = ""
    for sig in sigs:
        try:
            verify_signature(key, b64decode(sig, "DSSE signature"), pae, entry.signature_algorithm)
            good = sig
            break
        except VerifyFailure:
            continue
    if not good:
        raise VerifyFailure("invalid signature on the attestation envelope")
    try:
        statement = json.loads(body)
        digests = [s.get("digest", {}).get("sha256") for s in statement.get("subject") or []]
    except (ValueError, AttributeError):
        raise VerifyFailure("invalid in-toto statement") from None
    if target.digest.split(":", 1)[1] not in digests:
        raise VerifyFailure(f"attestation subject does not name the image digest {target.digest}")
    _trust(entry, layer, key, cert, good, pae)
    return statement


def _verifier(entry: Attestor, layer: Layer) -> tuple[Any, Any]:
    """The public key to check the signature with, and the signing certificate (if any)."""
    if entry.kind == "keys":
        return load_public_key(entry.key), None
    pem = entry.cert if entry.kind == "certificates" and entry.cert else layer.annotations.get(CERTIFICATE, "")
    if not pem:
        raise VerifyFailure("signature carries no certificate")
    cert = load_certs(pem)[0]
    return cert.public_key(), cert


def _trust(entry: Attestor, layer: Layer, key: Any, cert: Any, sig_b64: str, signed: bytes) -> None:
    """Transparency log, then the certificate (chain, validity at the log time or now, identity, SCT)."""
    at = None
    if not entry.rekor.ignore_tlog:
        bundle = layer.annotations.get(BUNDLE, "")
        if not bundle:
            raise VerifyFailure("no transparency log bundle in the signature (rekor.ignoreTlog is false)")
        at = verify_set(bundle, entry.rekor.pubkey, sig_b64, signed, key)
    if cert is None:
        return
    when = at or dt.datetime.now(dt.timezone.utc)
    chain = list(load_certs(layer.annotations[CHAIN])) if layer.annotations.get(CHAIN) else []
    if entry.kind == "keyless":
        roots = load_certs(entry.roots)
        verify_chain(cert, chain[:-1], roots, when)  # the chain's last cert is never trusted
        check_code_signing(cert)
        check_identities(cert, entry.identities, entry.extensions)
        issuers = [*chain, *roots]
    elif entry.cert_chain:
        given = load_certs(entry.cert_chain)
        verify_chain(cert, given[:-1], given[-1:], when)
        issuers = list(given)
    else:
        verify_chain(cert, [], [cert], when) if cert.issuer == cert.subject else _valid_at(cert, when)
        issuers = [*chain, cert]
    if not entry.ctlog.ignore_sct:
        verify_sct(cert, leaf_issuer(cert, issuers, []), entry.ctlog.pubkey)


def _valid_at(cert: Any, when: dt.datetime) -> None:
    check_validity(cert, when, "certificate")


def check_offline(entries: list[Attestor]) -> None:
    for entry in entries:
        why = public_services_needed(entry)
        if why:
            raise VernoError(why)
