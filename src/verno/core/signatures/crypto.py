"""Signature checks: public keys (ECDSA, RSA PKCS#1 v1.5, Ed25519), certificates and the Rekor SET."""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from functools import lru_cache
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from verno.core.errors import VernoError

_HASHES = {"sha224": hashes.SHA224, "sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512}


class VerifyFailure(Exception):
    """A signature, certificate or claim did not verify: the rule fails with this message."""


@lru_cache(maxsize=256)
def load_public_key(pem: str) -> Any:
    try:
        return serialization.load_pem_public_key(pem.strip().encode())
    except ValueError as exc:
        raise VernoError(f"invalid public key: {exc}") from None


@lru_cache(maxsize=256)
def load_certs(pem: str) -> tuple[x509.Certificate, ...]:
    try:
        return tuple(x509.load_pem_x509_certificates(pem.strip().encode()))
    except ValueError as exc:
        raise VerifyFailure(f"invalid certificate: {exc}") from None


def verify_signature(public_key: Any, signature: bytes, data: bytes, algorithm: str = "sha256") -> None:
    """Raises VerifyFailure unless ``signature`` is ``public_key``'s signature over ``data``."""
    h = _HASHES.get(algorithm.lower())
    if h is None:
        raise VernoError(f"unsupported signatureAlgorithm {algorithm!r}")
    try:
        if isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(signature, data, ec.ECDSA(h()))
        elif isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, data, padding.PKCS1v15(), h())
        elif isinstance(public_key, ed25519.Ed25519PublicKey):
            public_key.verify(signature, data)
        else:
            raise VernoError(f"unsupported key type {type(public_key).__name__}")
    except InvalidSignature:
        raise VerifyFailure("invalid signature") from None


def b64decode(value: str, what: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except ValueError:
        raise VerifyFailure(f"{what} is not valid base64") from None


def same_key(a: Any, b: Any) -> bool:
    fmt = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return a.public_bytes(*fmt) == b.public_bytes(*fmt)


def verify_set(bundle_json: str, rekor_pubkey_pem: str, signature_b64: str, payload: bytes,
               verifier: Any) -> dt.datetime:
    """Verify a ``dev.sigstore.cosign/bundle`` SET and that its hashedrekord body is this signature.

    Returns the entry's integrated time (certificates are checked at that time).
    """
    try:
        bundle = json.loads(bundle_json)
        entry = bundle["Payload"]
        set_sig = base64.b64decode(bundle["SignedEntryTimestamp"])
        canonical = {k: entry[k] for k in ("body", "integratedTime", "logIndex", "logID")}
    except (ValueError, KeyError, TypeError):
        raise VerifyFailure("invalid Rekor bundle annotation") from None
    rekor_key = load_public_key(rekor_pubkey_pem)
    encoded = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    try:
        verify_signature(rekor_key, set_sig, encoded)
    except VerifyFailure:
        raise VerifyFailure("transparency log entry: the SET does not verify against rekor.pubkey") from None
    try:
        body = json.loads(base64.b64decode(entry["body"]))
        spec = body["spec"]
        logged_sig = spec["signature"]["content"]
        logged_hash = spec["data"]["hash"]["value"]
        logged_pem = base64.b64decode(spec["signature"]["publicKey"]["content"]).decode()
    except (ValueError, KeyError, TypeError):
        raise VerifyFailure("transparency log entry: unsupported body (hashedrekord expected)") from None
    if logged_sig != signature_b64 or logged_hash != hashlib.sha256(payload).hexdigest():
        raise VerifyFailure("transparency log entry does not match the signature")
    logged = (load_certs(logged_pem)[0].public_key() if "CERTIFICATE" in logged_pem else load_public_key(logged_pem))
    if not same_key(logged, verifier):
        raise VerifyFailure("transparency log entry names another key")
    return dt.datetime.fromtimestamp(int(entry["integratedTime"]), dt.timezone.utc)
