"""A test timestamping authority: RFC 3161 TimeStampTokens (CMS SignedData over a TSTInfo) built in DER by
hand and signed with ``cryptography``. Imported by name."""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID

from notary_signer import NOW, certificate, new_key


def _len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def tlv(tag: int, body: bytes) -> bytes:
    return bytes([tag]) + _len(len(body)) + body


def seq(*items: bytes) -> bytes:
    return tlv(0x30, b"".join(items))


def set_of(*items: bytes) -> bytes:
    return tlv(0x31, b"".join(sorted(items)))


def integer(n: int) -> bytes:
    return tlv(0x02, n.to_bytes(n.bit_length() // 8 + 1, "big"))


def oid(dotted: str) -> bytes:
    parts = [int(p) for p in dotted.split(".")]
    body = bytes([40 * parts[0] + parts[1]])
    for p in parts[2:]:
        chunk = [p & 0x7F]
        p >>= 7
        while p:
            chunk.insert(0, 0x80 | (p & 0x7F))
            p >>= 7
        body += bytes(chunk)
    return tlv(0x06, body)


def octets(data: bytes) -> bytes:
    return tlv(0x04, data)


SHA256 = "2.16.840.1.101.3.4.2.1"
TST_INFO = "1.2.840.113549.1.9.16.1.4"


class TSA:
    def __init__(self, *, not_before: datetime | None = None, not_after: datetime | None = None):
        self.root_key = new_key("ec256")
        self.root = certificate(self.root_key, "tsa root", ca=True, not_before=NOW - timedelta(days=365),
                                not_after=NOW + timedelta(days=365))
        self.key = new_key("ec256")
        self.cert = certificate(self.key, "tsa", issuer_key=self.root_key, issuer=self.root,
                                eku=[ExtendedKeyUsageOID.TIME_STAMPING],
                                key_usage={"content_commitment": False},
                                not_before=not_before or NOW - timedelta(days=365),
                                not_after=not_after or NOW + timedelta(days=365))
        # the TSA's EKU must be critical: rebuild it so
        self.cert = _critical_eku(self.cert, self.key, self.root_key, self.root)

    def token(self, message: bytes, when: datetime, *, accuracy_seconds: int = 1) -> bytes:
        """A TimeStampToken stamping sha256(message) at ``when``."""
        tst = seq(integer(1), oid("1.3.6.1.4.1.99999.1"),
                  seq(seq(oid(SHA256), tlv(0x05, b"")), octets(hashlib.sha256(message).digest())),
                  integer(42), tlv(0x18, when.strftime("%Y%m%d%H%M%SZ").encode()),
                  seq(integer(accuracy_seconds)))
        cert_der = self.cert.public_bytes(Encoding.DER)
        attrs = [
            seq(oid("1.2.840.113549.1.9.3"), set_of(oid(TST_INFO))),
            seq(oid("1.2.840.113549.1.9.4"), set_of(octets(hashlib.sha256(tst).digest()))),
            seq(oid("1.2.840.113549.1.9.16.2.47"),
                set_of(seq(seq(seq(octets(hashlib.sha256(cert_der).digest())))))),
        ]
        signed_attrs = set_of(*attrs)
        signature = self.key.sign(signed_attrs, ec.ECDSA(hashes.SHA256()))
        signer_info = seq(
            integer(1),
            seq(self.cert.issuer.public_bytes(), integer(self.cert.serial_number)),
            seq(oid(SHA256)),
            b"\xa0" + signed_attrs[1:],  # [0] IMPLICIT
            seq(oid("1.2.840.10045.4.3.2")),
            octets(signature))
        signed_data = seq(
            integer(3), set_of(seq(oid(SHA256))),
            seq(oid(TST_INFO), tlv(0xA0, octets(tst))),
            tlv(0xA0, cert_der),
            set_of(signer_info))
        return seq(oid("1.2.840.113549.1.7.2"), tlv(0xA0, signed_data))


def _critical_eku(cert: x509.Certificate, key, issuer_key, issuer: x509.Certificate) -> x509.Certificate:
    builder = (x509.CertificateBuilder().subject_name(cert.subject).issuer_name(issuer.subject)
               .public_key(key.public_key()).serial_number(cert.serial_number)
               .not_valid_before(cert.not_valid_before_utc).not_valid_after(cert.not_valid_after_utc))
    for ext in cert.extensions:
        critical = True if isinstance(ext.value, x509.ExtendedKeyUsage) else ext.critical
        builder = builder.add_extension(ext.value, critical=critical)
    return builder.sign(issuer_key, hashes.SHA256())
