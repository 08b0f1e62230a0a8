"""Certificates: chain to the policy's roots, validity, Fulcio identity (subject, issuer, extensions), SCT."""
from __future__ import annotations

import datetime as dt
import hashlib
import re
import struct
from typing import Any, Sequence

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from verno.core import wildcard
from verno.core.signatures.attestor import Identity
from verno.core.signatures.crypto import VerifyFailure, load_public_key, verify_signature

ISSUER_V1 = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.1")
ISSUER_V2 = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.8")
#: Kyverno's additionalExtensions names -> Fulcio OIDs (raw values)
EXTENSIONS = {"githubWorkflowTrigger": "1.3.6.1.4.1.57264.1.2", "githubWorkflowSha": "1.3.6.1.4.1.57264.1.3",
              "githubWorkflowName": "1.3.6.1.4.1.57264.1.4", "githubWorkflowRepository": "1.3.6.1.4.1.57264.1.5",
              "githubWorkflowRef": "1.3.6.1.4.1.57264.1.6"}


def verify_chain(leaf: x509.Certificate, intermediates: Sequence[x509.Certificate],
                 roots: Sequence[x509.Certificate], at: dt.datetime) -> None:
    """Walk leaf -> intermediates -> a trusted root, checking signatures, CA flags and validity at ``at``."""
    _check_validity(leaf, at, "certificate")
    current = leaf
    pool = list(intermediates)
    for _ in range(len(pool) + 1):
        for root in roots:
            if _issued_by(current, root):
                _check_validity(root, at, "root certificate")
                return
        issuer = next((c for c in pool if _issued_by(current, c)), None)
        if issuer is None:
            break
        _check_ca(issuer)
        _check_validity(issuer, at, "intermediate certificate")
        pool.remove(issuer)
        current = issuer
    raise VerifyFailure(f"certificate chain is not trusted: {leaf.issuer.rfc4514_string()} "
                        "does not chain to the configured roots")


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, Exception):  # InvalidSignature and unsupported algorithms alike
        return False
    return True


def _check_ca(cert: x509.Certificate) -> None:
    try:
        if not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
            raise VerifyFailure("an intermediate certificate is not a CA")
    except x509.ExtensionNotFound:
        raise VerifyFailure("an intermediate certificate has no basicConstraints") from None


def _check_validity(cert: x509.Certificate, at: dt.datetime, what: str) -> None:
    if at < cert.not_valid_before_utc:
        raise VerifyFailure(f"{what} is not valid before {cert.not_valid_before_utc.isoformat()}")
    if at > cert.not_valid_after_utc:
        raise VerifyFailure(f"{what} expired at {cert.not_valid_after_utc.isoformat()} "
                            f"(checked at {at.isoformat(timespec='seconds')})")


def check_code_signing(cert: x509.Certificate) -> None:
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return
    if ExtendedKeyUsageOID.CODE_SIGNING not in eku:
        raise VerifyFailure("certificate lacks the codeSigning extended key usage")


def subjects(cert: x509.Certificate) -> list[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return [*san.get_values_for_type(x509.RFC822Name), *san.get_values_for_type(x509.UniformResourceIdentifier),
            *san.get_values_for_type(x509.DNSName)]


def _raw_extension(cert: x509.Certificate, oid: str) -> bytes | None:
    try:
        value = cert.extensions.get_extension_for_oid(x509.ObjectIdentifier(oid)).value
    except x509.ExtensionNotFound:
        return None
    return getattr(value, "value", None)


def issuer_of(cert: x509.Certificate) -> str:
    raw = _raw_extension(cert, ISSUER_V1.dotted_string)
    if raw is not None:
        return raw.decode(errors="replace")
    raw = _raw_extension(cert, ISSUER_V2.dotted_string)
    if raw and raw[0] == 0x0C and len(raw) > 2:  # DER UTF8String (short form length)
        return raw[2:2 + raw[1]].decode(errors="replace")
    return ""


def check_identity(cert: x509.Certificate, subject: str, subject_regexp: str, issuer: str, issuer_regexp: str,
                   extensions: dict[str, str]) -> None:
    sans = subjects(cert)
    if subject and not any(wildcard.match(subject, s) for s in sans):
        raise VerifyFailure(f"subject mismatch: expected {subject!r}, certificate has {sans}")
    if subject_regexp and not any(re.fullmatch(subject_regexp, s) for s in sans):
        raise VerifyFailure(f"subject mismatch: {subject_regexp!r} matches none of {sans}")
    got = issuer_of(cert)
    if issuer and not wildcard.match(issuer, got):
        raise VerifyFailure(f"issuer mismatch: expected {issuer!r}, certificate has {got!r}")
    if issuer_regexp and not re.fullmatch(issuer_regexp, got):
        raise VerifyFailure(f"issuer mismatch: {issuer_regexp!r} does not match {got!r}")
    for name, want in extensions.items():
        oid = EXTENSIONS.get(name, name)
        raw = _raw_extension(cert, oid)
        have = raw.decode(errors="replace") if raw is not None else None
        if have != want:
            raise VerifyFailure(f"certificate extension {name} is {have!r}, expected {want!r}")


def check_identities(cert: x509.Certificate, identities: Sequence[Identity], extensions: dict[str, str]) -> None:
    """The certificate matches one of ``identities`` (any, when there are none) and carries ``extensions``."""
    if identities:
        reasons: list[str] = []
        for identity in identities:
            try:
                check_identity(cert, identity.subject, identity.subject_regexp, identity.issuer,
                               identity.issuer_regexp, {})
                break
            except VerifyFailure as exc:
                reasons.append(str(exc))
        else:
            raise VerifyFailure(reasons[0] if len(reasons) == 1 else
                                "no identity matches: " + "; ".join(dict.fromkeys(reasons)))
    check_identity(cert, "", "", "", "", extensions)


def check_validity(cert: x509.Certificate, at: dt.datetime, what: str = "certificate") -> None:
    _check_validity(cert, at, what)


def verify_sct(cert: x509.Certificate, issuer: x509.Certificate, ctlog_pubkey_pem: str) -> None:
    """Verify an embedded SCT (RFC 6962 precertificate entry) against the CT log's public key."""
    try:
        scts = cert.extensions.get_extension_for_class(x509.PrecertificateSignedCertificateTimestamps).value
    except x509.ExtensionNotFound:
        raise VerifyFailure("certificate has no embedded SCT (set ctlog.ignoreSCT to skip this check)") from None
    log_key = load_public_key(ctlog_pubkey_pem)
    fmt = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    log_id = hashlib.sha256(log_key.public_bytes(*fmt)).digest()
    issuer_hash = hashlib.sha256(issuer.public_key().public_bytes(*fmt)).digest()
    tbs = cert.tbs_precertificate_bytes
    for sct in scts:
        if sct.log_id != log_id:
            continue
        ts = int(sct.timestamp.replace(tzinfo=dt.timezone.utc).timestamp() * 1000) if sct.timestamp.tzinfo is None \
            else int(sct.timestamp.timestamp() * 1000)
        signed = (b"\x00\x00" + struct.pack(">Q", ts) + b"\x00\x01" + issuer_hash + len(tbs).to_bytes(3, "big")
                  + tbs + struct.pack(">H", len(sct.extension_bytes)) + sct.extension_bytes)
        try:
            verify_signature(log_key, sct.signature, signed)
            return
        except VerifyFailure:
            raise VerifyFailure("embedded SCT does not verify against ctlog.pubkey") from None
    raise VerifyFailure("no embedded SCT from the CT log given in ctlog.pubkey")


def leaf_issuer(leaf: x509.Certificate, chain: Sequence[x509.Certificate], roots: Sequence[Any]) -> x509.Certificate:
    for c in [*chain, *roots]:
        if leaf.issuer == c.subject:
            return c
    raise VerifyFailure("the certificate's issuer is not in its chain")
