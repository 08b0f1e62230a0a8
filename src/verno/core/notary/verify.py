"""Verifying an artifact's Notary Project signatures as Kyverno's notary attestor does (notation, trust
policy level ``strict``, trust store ``ca`` = the attestor's ``certs``, ``tsa`` = its ``tsaCerts`` when
given).

For each signature (at most ten, stopping at the first that verifies): the envelope parses, its critical
headers are understood, its chain is a valid code-signing chain containing a trusted certificate, its
signature verifies with the leaf's key under the algorithm the key calls for, its payload's
``targetArtifact`` equals the artifact's descriptor (mediaType, digest, size), it has not expired, and the
chain was valid when it was signed: at the authentic signing time (``notary.x509.signingAuthority``), at
the timestamp countersignature's time checked against ``tsaCerts`` (``notary.x509`` with ``tsaCerts``),
else now.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Sequence

from cryptography import x509

from verno.core.notary import algorithms, chain, discovery, timestamp
from verno.core.notary.bounds import MAX_SIGNATURE_ATTEMPTS, MAX_TRUSTED_CERTS
from verno.core.notary.discovery import Artifact, Registries
from verno.core.notary.envelope import parse_jws, target_artifact
from verno.core.notary.mediatypes import SCHEME_SIGNING_AUTHORITY
from verno.core.notary.outcome import (
    NotaryError, NotaryResult, SignatureInvalid, SignatureOutcome, VerifiedReferrer)

_MAX_PEM_CHARS = 4 * 1024 * 1024


def load_certs(pem: str, field: str) -> list[x509.Certificate]:
    """The PEM certificates of ``certs`` / ``tsaCerts``; NotaryError naming the field when invalid."""
    if not isinstance(pem, str):
        raise NotaryError(f"notary {field}: expected PEM text")
    if not pem.strip():
        return []
    if len(pem) > _MAX_PEM_CHARS:
        raise NotaryError(f"notary {field}: more than {_MAX_PEM_CHARS} characters of PEM")
    try:
        certs = x509.load_pem_x509_certificates(pem.encode())
    except ValueError:
        raise NotaryError(f"notary {field}: not valid PEM certificates (expected one or more "
                          f"-----BEGIN CERTIFICATE----- blocks)") from None
    if len(certs) > MAX_TRUSTED_CERTS:
        raise NotaryError(f"notary {field}: {len(certs)} certificates, more than {MAX_TRUSTED_CERTS}")
    return certs


def verify_envelope(blob: bytes, descriptor: dict, trusted: Sequence[x509.Certificate],
                    tsa: Sequence[x509.Certificate], now: datetime) -> SignatureOutcome:
    """Verify one envelope blob against the artifact ``descriptor``; raises SignatureInvalid (only)."""
    env = parse_jws(blob)
    if not trusted:
        raise SignatureInvalid("no trusted certificates are found to verify authenticity (the notary "
                               "attestor's certs are empty)")
    chain.validate_chain(env.chain)
    try:
        key = env.chain[0].public_key()
    except ValueError:
        raise SignatureInvalid("the signing certificate's public key cannot be read") from None
    algorithms.verify(env.alg, key, env.signature, env.signing_input)
    target = target_artifact(env.payload)
    chain.check_trusted(env.chain, trusted)
    mismatch = [k for k in ("mediaType", "digest", "size") if target.get(k) != descriptor[k]]
    if mismatch:
        raise SignatureInvalid(
            "content descriptor mismatch: the signature is for "
            f"{target['mediaType']} {target['digest']} ({target['size']} bytes), the artifact is "
            f"{descriptor['mediaType']} {descriptor['digest']} ({descriptor['size']} bytes)")
    if env.expiry is not None and now >= env.expiry:
        raise SignatureInvalid(f"digital signature has expired on {chain.rfc1123(env.expiry)!r}")
    if env.signing_scheme == SCHEME_SIGNING_AUTHORITY:
        chain.check_valid_at(env.chain, env.signing_time,
                             f"the authentic signing time {chain.rfc1123(env.signing_time)!r}")
    elif tsa:
        if env.timestamp_token is None:
            raise SignatureInvalid("no timestamp countersignature was found in the signature envelope "
                                   "(the notary attestor's tsaCerts require one)")
        stamp = timestamp.verify_token(env.timestamp_token, env.signature, tsa)
        if stamp.latest < env.signing_time:  # stamped before it was (claimed to be) signed
            raise SignatureInvalid(f"timestamp {stamp} is not bounded after the signing time "
                                   f"{env.signing_time.isoformat()}")
        chain.check_valid_at(env.chain, stamp.earliest, f"the timestamp {stamp}")
        chain.check_valid_at(env.chain, stamp.latest, f"the timestamp {stamp}")
    else:
        chain.check_valid_at(env.chain, now, "verification time")
    return SignatureOutcome("", "", env.signing_scheme, chain.subject(env.chain[0]), dict(target))


def _verify_artifact(art: Artifact, image: str, trusted: Sequence[x509.Certificate],
                     tsa: Sequence[x509.Certificate], now: datetime) -> NotaryResult:
    descs, truncated = discovery.signatures(art)
    outcomes: list[SignatureOutcome] = []
    for desc in descs:
        try:
            blob = discovery.envelope(art, desc)
            good = verify_envelope(blob, art.descriptor, trusted, tsa, now)
        except SignatureInvalid as exc:
            outcomes.append(SignatureOutcome(desc["digest"], str(exc)))
            continue
        outcomes.append(SignatureOutcome(desc["digest"], "", good.signing_scheme, good.signer, good.target))
        return NotaryResult(image, art.digest, tuple(outcomes))
    return NotaryResult(image, art.digest, tuple(outcomes), truncated)


def _now(now: datetime | None) -> datetime:
    when = now or datetime.now(timezone.utc)
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def verify_image(registries: Registries, image: str, certs_pem: str, tsa_certs_pem: str = "", *,
                 insecure: bool = False, now: datetime | None = None) -> NotaryResult:
    """Verify ``image``'s Notary Project signatures with the notary attestor's ``certs`` and ``tsaCerts``.

    Returns a :class:`NotaryResult` (``verified`` is 0 with ``message`` saying why when none verified,
    including when the image has no signature). Raises NotaryError for invalid certs or too many
    referrers, ImageError for an invalid reference, and the registry client's errors (VernoError) when
    the registry gives no usable answer for the image or its referrers list.
    """
    trusted = load_certs(certs_pem, "certs")
    tsa = load_certs(tsa_certs_pem, "tsaCerts")
    art = discovery.resolve(registries, image, insecure)
    return _verify_artifact(art, image, trusted, tsa, _now(now))


class ReferrerResult:
    """The referrers of one artifactType examined for an image: ``verified`` (with payloads) and, for the
    others, why (``failures``: (referrer digest, reason))."""

    def __init__(self, image: str, digest: str, artifact_type: str, verified: list[VerifiedReferrer],
                 failures: list[tuple[str, str]]):
        self.image, self.digest, self.artifact_type = image, digest, artifact_type
        self.verified, self.failures = verified, failures

    @property
    def payloads(self) -> list:
        return [v.payload for v in self.verified]

    @property
    def message(self) -> str:
        """Why no referrer verified (empty when one did), as Kyverno words it."""
        if self.verified:
            return ""
        if not self.failures:
            return f"attestation verification failed, no attestations found for type: {self.artifact_type}"
        return "; ".join(f"failed to verify attestation {self.artifact_type}, digest {d}: {r}"
                         for d, r in self.failures)


def verify_referrer(registries: Registries, image: str, artifact_type: str, certs_pem: str,
                    tsa_certs_pem: str = "", *, insecure: bool = False,
                    now: datetime | None = None) -> ReferrerResult:
    """Kyverno's ``referrer{type}`` attestation: the image's referrers of ``artifact_type`` whose own Notary
    Project signatures verify, each with its payload (its single layer parsed as JSON). At most ten
    referrers of the type are examined. Raises as :func:`verify_image` does."""
    trusted = load_certs(certs_pem, "certs")
    tsa = load_certs(tsa_certs_pem, "tsaCerts")
    when = _now(now)
    art = discovery.resolve(registries, image, insecure)
    verified: list[VerifiedReferrer] = []
    failures: list[tuple[str, str]] = []
    for desc in discovery.referrers(art, artifact_type)[:MAX_SIGNATURE_ATTEMPTS]:
        ref = art.at(desc)
        result = _verify_artifact(ref, f"{art.registry}/{art.repo}@{ref.digest}", trusted, tsa, when)
        if not result.ok:
            failures.append((ref.digest, result.message))
            continue
        try:
            payload = discovery.referrer_payload(ref, artifact_type)
        except SignatureInvalid as exc:
            failures.append((ref.digest, str(exc)))
            continue
        good = next(o for o in result.outcomes if o.verified)
        verified.append(VerifiedReferrer(ref.digest, artifact_type, payload, good))
    return ReferrerResult(image, art.digest, artifact_type, verified, failures)
