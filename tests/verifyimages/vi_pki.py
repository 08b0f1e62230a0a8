"""A private Sigstore made at test time: signing keys, a Fulcio-like CA, a CT log key and a Rekor key.

Leaf certificates carry what Fulcio writes: a critical SAN, the codeSigning EKU, the OIDC issuer in
OID 1.3.6.1.4.1.57264.1.1 (raw) and 1.3.6.1.4.1.57264.1.8 (DER UTF8String), and optionally an
embedded SCT signed by the CT key over the RFC 6962 precertificate entry.
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import ipaddress
import json
import struct
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ISSUER_V1 = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.1")
ISSUER_V2 = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.8")
WORKFLOW_TRIGGER = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.2")
SCT_OID = x509.ObjectIdentifier("1.3.6.1.4.1.11129.2.4.2")
UTC = dt.timezone.utc


def now() -> dt.datetime:
    return dt.datetime.now(UTC)


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def public_pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def spki_der(public_key) -> bytes:
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def cert_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def sign(key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    return key.sign(data, ec.ECDSA(hashes.SHA256()))


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "verno-test"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _der_utf8(value: str) -> bytes:
    raw = value.encode()
    assert len(raw) < 128
    return bytes([0x0C, len(raw)]) + raw


def _der_octets(raw: bytes) -> bytes:
    n = len(raw)
    if n < 128:
        return bytes([0x04, n]) + raw
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x04, 0x80 | len(size)]) + size + raw


def ca_cert(key, cn: str, issuer_key=None, issuer_cert: x509.Certificate | None = None,
            days: int = 3650) -> x509.Certificate:
    b = (x509.CertificateBuilder().subject_name(_name(cn))
         .issuer_name(issuer_cert.subject if issuer_cert else _name(cn))
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now() - dt.timedelta(days=1)).not_valid_after(now() + dt.timedelta(days=days))
         .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
         .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))
    if issuer_key is not None:  # as real CAs write it (and WebPKI path validation requires it)
        b = b.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                            critical=False)
    return b.sign(issuer_key or key, hashes.SHA256())


@dataclass
class CTLog:
    key: ec.EllipticCurvePrivateKey = field(default_factory=new_key)

    @property
    def pubkey_pem(self) -> str:
        return public_pem(self.key)

    def sct_extension(self, tbs: bytes, issuer_public_key) -> x509.UnrecognizedExtension:
        """An SCT list extension signed over the precertificate entry of ``tbs``."""
        timestamp = int(now().timestamp() * 1000)
        issuer_hash = hashlib.sha256(spki_der(issuer_public_key)).digest()
        signed = (b"\x00\x00" + struct.pack(">Q", timestamp) + b"\x00\x01" + issuer_hash
                  + len(tbs).to_bytes(3, "big") + tbs + b"\x00\x00")
        sig = sign(self.key, signed)
        log_id = hashlib.sha256(spki_der(self.key.public_key())).digest()
        sct = (b"\x00" + log_id + struct.pack(">Q", timestamp) + b"\x00\x00" + b"\x04\x03"
               + struct.pack(">H", len(sig)) + sig)
        sct_list = struct.pack(">H", len(sct) + 2) + struct.pack(">H", len(sct)) + sct
        return x509.UnrecognizedExtension(SCT_OID, _der_octets(sct_list))


@dataclass
class FulcioCA:
    """Root -> intermediate -> short-lived leaves."""

    root_key: ec.EllipticCurvePrivateKey = field(default_factory=new_key)
    inter_key: ec.EllipticCurvePrivateKey = field(default_factory=new_key)

    def __post_init__(self) -> None:
        self.root = ca_cert(self.root_key, "test-fulcio-root")
        self.intermediate = ca_cert(self.inter_key, "test-fulcio-intermediate", self.root_key, self.root)

    @property
    def roots_pem(self) -> str:
        return cert_pem(self.root)

    @property
    def chain_pem(self) -> str:
        """What cosign writes in ``dev.sigstore.cosign/chain``: intermediates, then the root."""
        return cert_pem(self.intermediate) + cert_pem(self.root)

    def leaf(self, *, email: str = "", uri: str = "", issuer: str = "https://token.test",
             not_before: dt.datetime | None = None, minutes: int = 10, ctlog: CTLog | None = None,
             extra: dict[x509.ObjectIdentifier, str] | None = None,
             key: ec.EllipticCurvePrivateKey | None = None) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
        key = key or new_key()
        start = not_before or (now() - dt.timedelta(minutes=1))
        san: list[x509.GeneralName] = []
        if email:
            san.append(x509.RFC822Name(email))
        if uri:
            san.append(x509.UniformResourceIdentifier(uri))
        b = (x509.CertificateBuilder().subject_name(x509.Name([])).issuer_name(self.intermediate.subject)
             .public_key(key.public_key()).serial_number(x509.random_serial_number())
             .not_valid_before(start).not_valid_after(start + dt.timedelta(minutes=minutes))
             .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
             .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
             .add_extension(x509.SubjectAlternativeName(san), critical=True)
             .add_extension(x509.UnrecognizedExtension(ISSUER_V1, issuer.encode()), critical=False)
             .add_extension(x509.UnrecognizedExtension(ISSUER_V2, _der_utf8(issuer)), critical=False)
             .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.inter_key.public_key()),
                            critical=False))
        for oid, value in (extra or {}).items():
            b = b.add_extension(x509.UnrecognizedExtension(oid, value.encode()), critical=False)
        if ctlog is not None:
            precert = b.sign(self.inter_key, hashes.SHA256())
            b = b.add_extension(ctlog.sct_extension(precert.tbs_certificate_bytes, self.inter_key.public_key()),
                                critical=False)
        return key, b.sign(self.inter_key, hashes.SHA256())


@dataclass
class Rekor:
    """Signs Rekor SET bundles (``dev.sigstore.cosign/bundle``) for hashedrekord entries."""

    key: ec.EllipticCurvePrivateKey = field(default_factory=new_key)
    index: int = 0

    @property
    def pubkey_pem(self) -> str:
        return public_pem(self.key)

    def bundle(self, signature_b64: str, payload: bytes, verifier_pem: str,
               integrated_time: int | None = None) -> str:
        body = {"apiVersion": "0.0.1", "kind": "hashedrekord", "spec": {
            "data": {"hash": {"algorithm": "sha256", "value": hashlib.sha256(payload).hexdigest()}},
            "signature": {"content": signature_b64,
                          "publicKey": {"content": base64.b64encode(verifier_pem.encode()).decode()}}}}
        self.index += 1
        entry = {"body": base64.b64encode(json.dumps(body).encode()).decode(),
                 "integratedTime": integrated_time if integrated_time is not None else int(now().timestamp()),
                 "logIndex": self.index,
                 "logID": hashlib.sha256(spki_der(self.key.public_key())).hexdigest()}
        canonical = json.dumps(entry, sort_keys=True, separators=(",", ":")).encode()
        return json.dumps({"SignedEntryTimestamp": base64.b64encode(sign(self.key, canonical)).decode(),
                           "Payload": entry})


def server_tls(workdir: Path, names: tuple[str, ...] = ()) -> tuple[Path, Path, str]:
    """A CA and a serving certificate for 127.0.0.1 (and DNS ``names``): (cert file, key file, CA PEM)."""
    ca_key = new_key()
    ca = ca_cert(ca_key, "test-registry-ca")
    key = new_key()
    cert = (x509.CertificateBuilder().subject_name(_name("127.0.0.1")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now() - dt.timedelta(days=1)).not_valid_after(now() + dt.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                        *(x509.DNSName(n) for n in names)]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256()))
    workdir.mkdir(parents=True, exist_ok=True)
    cert_file, key_file = workdir / "server.pem", workdir / "server.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file, cert_pem(ca)
