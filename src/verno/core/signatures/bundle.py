"""``type: SigstoreBundle``: cosign v3 Sigstore bundles attached to the image as OCI 1.1 referrers.

Each referrer with ``artifactType`` ``application/vnd.dev.sigstore.bundle.v0.3+json`` holds one bundle
(a DSSE in-toto statement; ``cosign sign`` writes predicate type ``https://sigstore.dev/cosign/sign/v1``,
``cosign attest`` its ``--type``). Bundles are verified with sigstore-python against a trust root built
from the attestor entry itself, offline: ``keyless.roots`` (the Fulcio-like CA chain), ``rekor.pubkey``
(the tlog entry's checkpoint, inclusion proof and SET) and ``ctlog.pubkey`` (the embedded SCT). The
identity (subject, issuer, extensions) is checked as for ``type: Cosign``; the statement must name the
image digest. sigstore-python always verifies the tlog entry and the SCT, so ``ignoreTlog`` and
``ignoreSCT`` are rule errors for this type. ``sigstore`` is imported on first use (it costs ~0.5 s).
"""
from __future__ import annotations

import base64
import functools
import json
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from verno.core.errors import VernoError
from verno.core.errors import ArtifactNotFound
from verno.core.signatures.attestor import Attestor
from verno.core.signatures.cosign import INTOTO, Target
from verno.core.signatures.crypto import VerifyFailure, load_certs, load_public_key
from verno.core.signatures.keyless import check_identities

BUNDLE_ARTIFACT = "application/vnd.dev.sigstore.bundle.v0.3+json"
SIGN_PREDICATE = "https://sigstore.dev/cosign/sign/v1"
TRUSTED_ROOT_TYPE = "application/vnd.dev.sigstore.trustedroot+json;version=0.1"
_EPOCH = "1970-01-01T00:00:00Z"


def bundle_offline_problem(entry: Attestor) -> str:
    """Why ``entry`` cannot verify Sigstore bundles offline, or ""."""
    if entry.kind == "attestor" and entry.nested is not None:
        return next((m for e in entry.nested.entries if (m := bundle_offline_problem(e))), "")
    if entry.kind != "keyless":
        return f"{entry.where}: type SigstoreBundle verifies keyless bundles only (use keyless with roots)"
    if not entry.roots:
        return f"{entry.where}: type SigstoreBundle needs keyless.roots (verno never fetches the public trust root)"
    if entry.rekor.ignore_tlog or not entry.rekor.pubkey:
        return (f"{entry.where}: type SigstoreBundle needs rekor.pubkey: bundles are verified with their "
                "transparency log entry (ignoreTlog is not supported for this type)")
    if entry.ctlog.ignore_sct or not entry.ctlog.pubkey:
        return (f"{entry.where}: type SigstoreBundle needs ctlog.pubkey: the certificate's SCT is always "
                "verified (ignoreSCT is not supported for this type)")
    return ""


def _log(pem: str, url: str) -> dict[str, Any]:
    import hashlib

    der = load_public_key(pem).public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return {"baseUrl": url, "hashAlgorithm": "SHA2_256",
            "publicKey": {"rawBytes": base64.b64encode(der).decode(), "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                          "validFor": {"start": _EPOCH}},
            "logId": {"keyId": base64.b64encode(hashlib.sha256(der).digest()).decode()}}


def trusted_root_document(roots: str, rekor_pubkey: str, ctlog_pubkey: str, rekor_url: str = "") -> dict[str, Any]:
    """A Sigstore ``TrustedRoot`` (JSON) from the PEMs a policy gives."""
    certs = load_certs(roots)
    if not certs:
        raise VernoError("keyless.roots holds no PEM certificate")
    return {
        "mediaType": TRUSTED_ROOT_TYPE,
        "tlogs": [_log(rekor_pubkey, rekor_url or "https://rekor.invalid")],
        "certificateAuthorities": [{
            "subject": {"organization": "verno", "commonName": "policy roots"}, "uri": "https://fulcio.invalid",
            "certChain": {"certificates": [
                {"rawBytes": base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode()} for c in certs]},
            "validFor": {"start": _EPOCH}}],
        "ctlogs": [_log(ctlog_pubkey, "https://ctlog.invalid")],
        "timestampAuthorities": [],
    }


@functools.lru_cache(maxsize=64)
def _verifier(roots: str, rekor_pubkey: str, ctlog_pubkey: str) -> Any:
    from sigstore.models import TrustedRoot
    from sigstore.verify import Verifier
    from sigstore_models.trustroot.v1 import TrustedRoot as TrustedRootModel

    inner = TrustedRootModel.from_json(json.dumps(trusted_root_document(roots, rekor_pubkey, ctlog_pubkey)))
    return Verifier(trusted_root=TrustedRoot(inner))


class _Identity:
    """A sigstore verification policy applying Kyverno's subject/issuer/extension checks."""

    def __init__(self, entry: Attestor):
        self.entry = entry

    def verify(self, cert: x509.Certificate) -> None:
        from sigstore.errors import VerificationError

        e = self.entry
        try:
            check_identities(cert, e.identities, e.extensions)
        except VerifyFailure as exc:
            raise VerificationError(str(exc)) from None


def fetch_bundles(target: Target, repository: str = "") -> list[bytes]:
    """The bundle blobs attached to ``target`` (referrers API or tag-schema fallback), fetched once."""
    registry, repo = target.storage(repository)
    key = (registry, repo, "sigstore-bundle")
    cached = target._objects.get(key)
    if cached is None:
        client = target.registries.client(registry, insecure=target.insecure)
        blobs = []
        for desc in client.referrers(repo, target.digest, BUNDLE_ARTIFACT):
            try:
                manifest = client.manifest(repo, desc["digest"])
            except ArtifactNotFound:
                continue
            for layer in manifest.json.get("layers") or []:
                blobs.append(client.blob(repo, layer["digest"]))
        cached = target._objects[key] = blobs  # type: ignore[assignment]
    return list(cached)  # type: ignore[arg-type]


def _statement(payload_type: str, payload: bytes, target: Target) -> dict[str, Any]:
    if payload_type != INTOTO:
        raise VerifyFailure(f"unsupported DSSE payloadType {payload_type!r} in the bundle")
    try:
        statement = json.loads(payload)
        digests = [(s.get("digest") or {}).get("sha256") for s in statement.get("subject") or []]
    except (ValueError, AttributeError, TypeError):
        raise VerifyFailure("invalid in-toto statement in the bundle") from None
    if "sha256:" + str(next((d for d in digests if f"sha256:{d}" == target.digest), "")) != target.digest:
        raise VerifyFailure(f"bundle statement is not about the image digest {target.digest}")
    return statement


def verify_bundles(entry: Attestor, target: Target, predicate_type: str | None = SIGN_PREDICATE) -> list[dict[str, Any]]:
    """The in-toto statements of ``target``'s bundles that ``entry`` verifies (of ``predicate_type``,
    or every type when None). Raises VerifyFailure saying why none verified."""
    blobs = fetch_bundles(target, entry.repository)
    if not blobs:
        raise VerifyFailure(f"no Sigstore bundles found for {target.image}")
    from sigstore.errors import Error as SigstoreError
    from sigstore.models import Bundle

    verifier = _verifier(entry.roots, entry.rekor.pubkey, entry.ctlog.pubkey)
    out: list[dict[str, Any]] = []
    reasons: list[str] = []
    for blob in blobs:
        try:
            bundle = Bundle.from_json(blob)
            payload_type, payload = verifier.verify_dsse(bundle, _Identity(entry))
            statement = _statement(payload_type, payload, target)
        except VerifyFailure as exc:
            reasons.append(str(exc))
            continue
        except (SigstoreError, ValueError) as exc:
            reasons.append(f"bundle verification failed: {exc}")
            continue
        if predicate_type is None or statement.get("predicateType") == predicate_type:
            out.append(statement)
        else:
            reasons.append(f"bundle predicate type {statement.get('predicateType')!r} is not {predicate_type!r}")
    if not out:
        raise VerifyFailure("no matching bundles: " + "; ".join(dict.fromkeys(reasons)))
    return out
