"""A Sigstore ``TrustedRoot`` document (``application/vnd.dev.sigstore.trustedroot+json``) as the PEMs the
verifiers take: the certificate authorities' chains (keyless roots), the Rekor key and the CT log key."""
from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from verno.core.errors import VernoError


@dataclass(frozen=True)
class TrustMaterial:
    roots: str
    rekor_pubkey: str
    ctlog_pubkey: str


def _der(entry: Any, what: str) -> bytes:
    try:
        return base64.b64decode(entry["rawBytes"], validate=True)
    except (KeyError, TypeError, binascii.Error, ValueError):
        raise VernoError(f"trustedRoot: {what} has no base64 rawBytes") from None


def _key_pem(logs: Any, what: str) -> str:
    if not isinstance(logs, list) or not logs:
        return ""
    if len(logs) > 1:
        raise VernoError(f"trustedRoot: verno verifies with one {what} key; the document lists {len(logs)}")
    der = _der((logs[0] or {}).get("publicKey") or {}, f"{what} publicKey")
    try:
        key = serialization.load_der_public_key(der)
    except ValueError as exc:
        raise VernoError(f"trustedRoot: invalid {what} public key: {exc}") from None
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def trust_material(document: str) -> TrustMaterial:
    """The PEMs of a TrustedRoot given as JSON text; a VernoError naming what is wrong."""
    try:
        doc = json.loads(document)
    except ValueError as exc:
        raise VernoError(f"trustedRoot is not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise VernoError("trustedRoot must be a JSON object")
    pems: list[str] = []
    for i, ca in enumerate(doc.get("certificateAuthorities") or []):
        for j, raw in enumerate(((ca or {}).get("certChain") or {}).get("certificates") or []):
            try:
                cert = x509.load_der_x509_certificate(_der(raw, f"certificateAuthorities[{i}] certificate {j}"))
            except ValueError as exc:
                raise VernoError(f"trustedRoot: invalid certificate in certificateAuthorities[{i}]: {exc}") from None
            pems.append(cert.public_bytes(serialization.Encoding.PEM).decode())
    return TrustMaterial("".join(pems), _key_pem(doc.get("tlogs"), "tlogs (Rekor)"), _key_pem(doc.get("ctlogs"), "ctlogs"))
