"""The x5c certificate chain of a signature: its shape, the code-signing certificate rules of the Notary
Project, trust in the policy's ``certs``, and validity at a given time.

Rules (Notary Project signature specification, "Certificate Requirements"): the chain runs leaf first,
each certificate issued by the next, and ends at a self-signed root (a lone certificate is a self-signed
signing certificate). CA certificates have basicConstraints ``cA`` true, keyUsage ``keyCertSign`` and
respect ``pathLenConstraint``; the leaf is no CA, has keyUsage ``digitalSignature`` (without
``keyCertSign``/``cRLSign``) and, when it has extendedKeyUsage, ``codeSigning`` without
``anyExtendedKeyUsage``, ``serverAuth``, ``emailProtection`` or ``timeStamping``. The chain is trusted
when it contains one of the trusted certificates (notation's rule). Revocation is checked by fetching OCSP
and CRL endpoints, which verno does not do offline: a chain naming such endpoints is refused.
"""
from __future__ import annotations

from datetime import datetime
from email.utils import format_datetime
from typing import Sequence

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from verno.core.notary.outcome import SignatureInvalid

_FORBIDDEN_EKU = {
    ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE: "anyExtendedKeyUsage",
    ExtendedKeyUsageOID.SERVER_AUTH: "serverAuth",
    ExtendedKeyUsageOID.EMAIL_PROTECTION: "emailProtection",
    ExtendedKeyUsageOID.TIME_STAMPING: "timeStamping",
}


def subject(cert: x509.Certificate) -> str:
    return cert.subject.rfc4514_string()


def rfc1123(when: datetime) -> str:
    return format_datetime(when)


def _ext(cert: x509.Certificate, kind: type) -> object | None:
    try:
        return cert.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None
    except ValueError:  # a duplicated or undecodable extension
        raise SignatureInvalid(f"the certificate with subject {subject(cert)!r} has invalid extensions") from None


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def _invalid(cert: x509.Certificate, why: str) -> SignatureInvalid:
    return SignatureInvalid(f"the certificate with subject {subject(cert)!r} is invalid: {why}")


def _check_key(cert: x509.Certificate) -> None:
    try:
        key = cert.public_key()
    except (ValueError, UnsupportedAlgorithm):
        raise _invalid(cert, "its public key cannot be read") from None
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < 2048:
            raise _invalid(cert, f"an RSA key of {key.key_size} bits is too short (2048 at least)")
    elif isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.name not in ("secp256r1", "secp384r1", "secp521r1"):
            raise _invalid(cert, f"EC curve {key.curve.name} is not allowed (P-256, P-384 or P-521)")
    else:
        raise _invalid(cert, "only RSA and ECDSA keys are allowed")


def _check_leaf(cert: x509.Certificate) -> None:
    bc = _ext(cert, x509.BasicConstraints)
    if isinstance(bc, x509.BasicConstraints) and bc.ca:
        raise _invalid(cert, "if the basic constraints extension is present, the CA field must be set to false")
    ku = _ext(cert, x509.KeyUsage)
    if not isinstance(ku, x509.KeyUsage):
        raise _invalid(cert, "the key usage extension must be present")
    if not ku.digital_signature:
        raise _invalid(cert, 'the key usage must have the bit position for "Digital Signature" set')
    if ku.key_cert_sign or ku.crl_sign:
        raise _invalid(cert, 'the key usage must not have the bit positions for "KeyCertSign" or "CRLSign" set')
    eku = _ext(cert, x509.ExtendedKeyUsage)
    if isinstance(eku, x509.ExtendedKeyUsage):
        for oid, name in _FORBIDDEN_EKU.items():
            if oid in eku:
                raise _invalid(cert, f"the extended key usage must not contain {name}")
        if ExtendedKeyUsageOID.CODE_SIGNING not in eku:
            raise _invalid(cert, "the extended key usage must contain Code Signing")
    _check_key(cert)


def _check_ca(cert: x509.Certificate, below: int) -> None:
    bc = _ext(cert, x509.BasicConstraints)
    if not isinstance(bc, x509.BasicConstraints) or not bc.ca:
        raise _invalid(cert, "a CA certificate must have the basic constraints extension with the CA field true")
    if bc.path_length is not None and below > bc.path_length:
        raise _invalid(cert, f"its path length constraint {bc.path_length} is exceeded by {below} intermediate "
                             f"certificates below it")
    ku = _ext(cert, x509.KeyUsage)
    if not isinstance(ku, x509.KeyUsage) or not ku.key_cert_sign:
        raise _invalid(cert, 'a CA certificate must have the key usage extension with "KeyCertSign" set')
    _check_key(cert)


def validate_chain(chain: Sequence[x509.Certificate]) -> None:
    """The chain's shape and the code-signing rules; SignatureInvalid naming the certificate at fault."""
    if len(chain) == 1:
        leaf = chain[0]
        if not _issued_by(leaf, leaf):
            raise SignatureInvalid(f"the certificate chain is invalid: the lone certificate with subject "
                                   f"{subject(leaf)!r} is not self-signed (the chain must end at its root)")
        _check_leaf(leaf)
        return
    for i, cert in enumerate(chain):
        last = i == len(chain) - 1
        self_signed = _issued_by(cert, cert)
        if last:
            if not self_signed:
                raise SignatureInvalid(f"the certificate chain is invalid: root certificate with subject "
                                       f"{subject(cert)!r} is not self-signed; the chain must end with a valid "
                                       f"self-signed root certificate")
        else:
            if self_signed:
                what = "leaf" if i == 0 else "intermediate"
                raise SignatureInvalid(f"the certificate chain is invalid: {what} certificate with subject "
                                       f"{subject(cert)!r} is self-signed")
            parent = chain[i + 1]
            if not _issued_by(cert, parent):
                raise SignatureInvalid(f"the certificate chain is invalid: certificate with subject "
                                       f"{subject(cert)!r} is not issued by {subject(parent)!r}")
        if i == 0:
            _check_leaf(cert)
        else:
            _check_ca(cert, i - 1)
    _no_revocation_endpoints(chain)


def _no_revocation_endpoints(chain: Sequence[x509.Certificate]) -> None:
    for cert in chain:
        if _ext(cert, x509.CRLDistributionPoints) is not None:
            raise SignatureInvalid(f"the certificate with subject {subject(cert)!r} names CRL distribution points; "
                                   f"revocation checking is not supported by verno, so its revocation status "
                                   f"is unknown")
        aia = _ext(cert, x509.AuthorityInformationAccess)
        if isinstance(aia, x509.AuthorityInformationAccess) and any(
                d.access_method == x509.oid.AuthorityInformationAccessOID.OCSP for d in aia):
            raise SignatureInvalid(f"the certificate with subject {subject(cert)!r} names an OCSP responder; "
                                   f"revocation checking is not supported by verno, so its revocation status "
                                   f"is unknown")


def check_trusted(chain: Sequence[x509.Certificate], trusted: Sequence[x509.Certificate]) -> None:
    """The chain must contain one of the trusted certificates (compared as DER)."""
    for cert in chain:
        if cert in trusted:
            return
    raise SignatureInvalid("signature is not produced by a trusted signer: the certificate chain "
                           f"(leaf {subject(chain[0])!r}, root {subject(chain[-1])!r}) contains none of the "
                           f"notary attestor's certs")


def check_valid_at(chain: Sequence[x509.Certificate], when: datetime, what: str) -> None:
    """Every certificate of the chain is valid at ``when`` (``what`` names that moment in the message)."""
    for cert in chain:
        if when < cert.not_valid_before_utc:
            raise SignatureInvalid(f"{what} is before certificate {subject(cert)!r} validity period, it will be "
                                   f"valid from {rfc1123(cert.not_valid_before_utc)!r}")
        if when > cert.not_valid_after_utc:
            raise SignatureInvalid(f"{what} is after certificate {subject(cert)!r} validity period, it was "
                                   f"expired at {rfc1123(cert.not_valid_after_utc)!r}")
