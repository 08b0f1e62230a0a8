"""Notary attestors: the one place an ImageValidatingPolicy's ``notary`` attestor is verified, through the
core's :mod:`verno.core.notary` (notation JWS signatures found as OCI referrers, trusted through the
attestor's ``certs``; ``tsaCerts`` for RFC 3161 timestamps).

For a signature, the image's own notary signatures; for a ``referrer`` attestation, the image's referrers of
that artifact type whose notary signatures verify (their payloads returned); a notary attestor verifies no
``intoto`` attestation (Kyverno's notary verifier reads referrers only).
"""
from __future__ import annotations

from typing import Any

from verno.core.errors import VernoError
from verno.core.notary import NotaryError, verify_image, verify_referrer
from verno.core.signatures.crypto import VerifyFailure


def _pem(notary: dict[str, Any], field: str, name: str) -> str:
    value = notary.get(field)
    if isinstance(value, dict):
        value = value.get("value")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise VernoError(f"notary attestor {name}: {field} must be PEM text")
    return value


def verify_notary(name: str, notary: dict[str, Any], target: Any, attestation: dict[str, Any] | None) -> list[Any]:
    """The payloads ``notary`` verifies for ``target`` (none for the image signature; the verified referrers'
    payloads for a ``referrer`` attestation); raises VerifyFailure when nothing verifies, VernoError when it
    cannot be checked (unreadable certificates, an unreachable registry)."""
    certs = _pem(notary, "certs", name)
    if not certs.strip():
        raise VernoError(f"notary attestor {name}: certs is required (the PEM certificates signatures chain to)")
    tsa = _pem(notary, "tsaCerts", name)
    image = f"{target.registry}/{target.repo}@{target.digest}"
    if attestation is None:
        try:
            result = verify_image(target.registries, image, certs, tsa, insecure=target.insecure)
        except NotaryError as exc:
            raise VernoError(f"notary attestor {name}: {exc}") from None
        if not result.ok:
            raise VerifyFailure(f"attestor {name}: {result.message}")
        return []
    referrer = attestation.get("referrer")
    if not isinstance(referrer, dict):
        raise VerifyFailure(f"attestor {name}: a notary attestor verifies referrer attestations only")
    try:
        found = verify_referrer(target.registries, image, str(referrer.get("type") or ""), certs, tsa,
                                insecure=target.insecure)
    except NotaryError as exc:
        raise VernoError(f"notary attestor {name}: {exc}") from None
    if not found.verified:
        raise VerifyFailure(f"attestor {name}: {found.message}")
    return list(found.payloads)
