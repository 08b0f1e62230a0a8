"""Kyverno's ``kyverno.x509`` library: ``x509.decode(pem)``: the first PEM block, a CERTIFICATE (as
Kyverno's ``CertificateOutput``: Go field names such as ``Issuer.CommonName``, ``NotBefore``, ``DNSNames``,
``IsCA``, ``PublicKey{N, E}``, base64 ``Raw*``; no parsed ``Subject``) or a CERTIFICATE REQUEST (Go's
``x509.CertificateRequest``), RSA keys only; numbers are doubles (Kyverno's JSON round trip)."""
from __future__ import annotations

from typing import Any

from verno.core.cel.library import FunctionError, Library

__all__ = ["decode", "libraries"]


def decode(pem: str) -> dict[str, Any]:
    from verno.core.x509cert import CertificateError, decode_pem_cel  # cryptography loads on first use

    try:
        return decode_pem_cel(pem)
    except CertificateError as exc:
        raise FunctionError(str(exc)) from None


def libraries() -> list[Library]:
    lib = Library("kyverno.x509")
    lib.fn("x509.decode", ["string"], "dyn", decode, overload_id="kyverno.x509_decode_string")
    return [lib]
