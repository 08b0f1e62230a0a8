"""``x509_decode``: a PEM certificate or CSR as Go's ``encoding/json`` renders ``x509.Certificate``."""
from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtensionOID, NameOID

from verno.core.errors import JMESPathError

# crypto/x509 SignatureAlgorithm values
_SIGNATURE_ALGORITHMS = {
    "1.2.840.113549.1.1.2": 1, "1.2.840.113549.1.1.4": 2, "1.2.840.113549.1.1.5": 3,
    "1.2.840.113549.1.1.11": 4, "1.2.840.113549.1.1.12": 5, "1.2.840.113549.1.1.13": 6,
    "1.2.840.10040.4.3": 7, "2.16.840.1.101.3.4.3.2": 8, "1.2.840.10045.4.1": 9,
    "1.2.840.10045.4.3.2": 10, "1.2.840.10045.4.3.3": 11, "1.2.840.10045.4.3.4": 12,
    "1.2.840.113549.1.1.10": 13, "1.3.101.112": 16,
}
# crypto/x509 ExtKeyUsage values
_EXT_KEY_USAGES = {
    "2.5.29.37.0": 0, "1.3.6.1.5.5.7.3.1": 1, "1.3.6.1.5.5.7.3.2": 2, "1.3.6.1.5.5.7.3.3": 3,
    "1.3.6.1.5.5.7.3.4": 4, "1.3.6.1.5.5.7.3.5": 5, "1.3.6.1.5.5.7.3.6": 6, "1.3.6.1.5.5.7.3.7": 7,
    "1.3.6.1.5.5.7.3.8": 8, "1.3.6.1.5.5.7.3.9": 9, "1.3.6.1.4.1.311.10.3.3": 10,
    "2.16.840.1.113730.4.1": 11, "1.3.6.1.4.1.311.2.1.22": 12, "1.3.6.1.4.1.311.61.1.1": 13,
}
_NAME_FIELDS = [
    ("Country", NameOID.COUNTRY_NAME), ("Organization", NameOID.ORGANIZATION_NAME),
    ("OrganizationalUnit", NameOID.ORGANIZATIONAL_UNIT_NAME), ("Locality", NameOID.LOCALITY_NAME),
    ("Province", NameOID.STATE_OR_PROVINCE_NAME), ("StreetAddress", NameOID.STREET_ADDRESS),
    ("PostalCode", NameOID.POSTAL_CODE),
]


def _b64(data: bytes | None) -> str | None:
    return base64.b64encode(data).decode() if data else None


def _oid(dotted: str) -> list[int]:
    return [int(p) for p in dotted.split(".")]


def _strings(values: list[str]) -> list[str] | None:
    return values or None


def _name(name: x509.Name) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field, oid in _NAME_FIELDS:
        out[field] = _strings([str(a.value) for a in name.get_attributes_for_oid(oid)])
    serial = name.get_attributes_for_oid(NameOID.SERIAL_NUMBER)
    out["SerialNumber"] = str(serial[-1].value) if serial else ""
    common = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    out["CommonName"] = str(common[-1].value) if common else ""
    out["Names"] = [{"Type": _oid(a.oid.dotted_string), "Value": a.value} for a in name] or None
    out["ExtraNames"] = None
    return out


def _time(value: datetime) -> str:
    value = value.astimezone(UTC)
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond:
        text += f".{value.microsecond:06d}".rstrip("0")
    return text + "Z"


def _public_key(key: Any) -> dict[str, Any]:
    if not isinstance(key, rsa.RSAPublicKey):
        raise JMESPathError("certificate should use rsa algorithm")
    numbers = key.public_numbers()
    return {"N": str(numbers.n), "E": numbers.e}


def _extensions(extensions: x509.Extensions) -> list[dict[str, Any]] | None:
    out = []
    for ext in extensions:
        try:
            value = ext.value.public_bytes()
        except (NotImplementedError, AttributeError, ValueError):
            value = b""
        out.append({"Id": _oid(ext.oid.dotted_string), "Critical": ext.critical, "Value": _b64(value)})
    return out or None


def _ext(extensions: x509.Extensions, oid: Any) -> Any:
    try:
        return extensions.get_extension_for_oid(oid).value
    except x509.ExtensionNotFound:
        return None


def _san(extensions: x509.Extensions) -> dict[str, Any]:
    san = _ext(extensions, ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
    if san is None:
        return {"DNSNames": None, "EmailAddresses": None, "IPAddresses": None, "URIs": None}
    return {
        "DNSNames": _strings(san.get_values_for_type(x509.DNSName)),
        "EmailAddresses": _strings(san.get_values_for_type(x509.RFC822Name)),
        "IPAddresses": _strings([str(ip) for ip in san.get_values_for_type(x509.IPAddress)]),
        "URIs": _strings(san.get_values_for_type(x509.UniformResourceIdentifier)),
    }


def _key_usage(extensions: x509.Extensions) -> int:
    ku = _ext(extensions, ExtensionOID.KEY_USAGE)
    if ku is None:
        return 0
    bits = [ku.digital_signature, ku.content_commitment, ku.key_encipherment, ku.data_encipherment,
            ku.key_agreement, ku.key_cert_sign, ku.crl_sign]
    value = sum(1 << i for i, bit in enumerate(bits) if bit)
    if ku.key_agreement:
        value |= (1 << 7 if ku.encipher_only else 0) | (1 << 8 if ku.decipher_only else 0)
    return value


def _certificate(cert: x509.Certificate) -> dict[str, Any]:
    exts = cert.extensions
    basic = _ext(exts, ExtensionOID.BASIC_CONSTRAINTS)
    eku = _ext(exts, ExtensionOID.EXTENDED_KEY_USAGE)
    ski = _ext(exts, ExtensionOID.SUBJECT_KEY_IDENTIFIER)
    aki = _ext(exts, ExtensionOID.AUTHORITY_KEY_IDENTIFIER)
    crl = _ext(exts, ExtensionOID.CRL_DISTRIBUTION_POINTS)
    path_len = basic.path_length if basic is not None else None
    out: dict[str, Any] = {
        "Raw": _b64(cert.public_bytes(serialization.Encoding.DER)),
        "RawTBSCertificate": _b64(cert.tbs_certificate_bytes),
        "RawSubjectPublicKeyInfo": _b64(cert.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)),
        "RawSubject": _b64(cert.subject.public_bytes()),
        "RawIssuer": _b64(cert.issuer.public_bytes()),
        "Signature": _b64(cert.signature),
        "SignatureAlgorithm": _SIGNATURE_ALGORITHMS.get(cert.signature_algorithm_oid.dotted_string, 0),
        "PublicKeyAlgorithm": 1,
        "PublicKey": _public_key(cert.public_key()),
        "Version": cert.version.value + 1,
        "SerialNumber": cert.serial_number,
        "Issuer": _name(cert.issuer),
        "Subject": _name(cert.subject),
        "NotBefore": _time(cert.not_valid_before_utc),
        "NotAfter": _time(cert.not_valid_after_utc),
        "KeyUsage": _key_usage(exts),
        "Extensions": _extensions(exts),
        "ExtraExtensions": None,
        "UnhandledCriticalExtensions": None,
        "ExtKeyUsage": [_EXT_KEY_USAGES[o.dotted_string] for o in eku if o.dotted_string in _EXT_KEY_USAGES]
        if eku is not None else None,
        "UnknownExtKeyUsage": [_oid(o.dotted_string) for o in eku if o.dotted_string not in _EXT_KEY_USAGES]
        or None if eku is not None else None,
        "BasicConstraintsValid": basic is not None,
        "IsCA": bool(basic and basic.ca),
        "MaxPathLen": path_len if path_len is not None else (-1 if basic is not None else 0),
        "MaxPathLenZero": path_len == 0,
        "SubjectKeyId": _b64(ski.digest) if ski is not None else None,
        "AuthorityKeyId": _b64(aki.key_identifier) if aki is not None else None,
        "OCSPServer": None,
        "IssuingCertificateURL": None,
        "CRLDistributionPoints": _strings([n.value for p in crl for n in (p.full_name or [])
                                           if isinstance(n, x509.UniformResourceIdentifier)])
        if crl is not None else None,
    }
    out.update(_san(exts))
    return out


def _request(csr: x509.CertificateSigningRequest) -> dict[str, Any]:
    exts = csr.extensions
    out: dict[str, Any] = {
        "Raw": _b64(csr.public_bytes(serialization.Encoding.DER)),
        "RawTBSCertificateRequest": _b64(csr.tbs_certrequest_bytes),
        "RawSubjectPublicKeyInfo": _b64(csr.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)),
        "RawSubject": _b64(csr.subject.public_bytes()),
        "Version": 0,
        "Signature": _b64(csr.signature),
        "SignatureAlgorithm": _SIGNATURE_ALGORITHMS.get(csr.signature_algorithm_oid.dotted_string, 0),
        "PublicKeyAlgorithm": 1,
        "PublicKey": _public_key(csr.public_key()),
        "Subject": _name(csr.subject),
        "Extensions": _extensions(exts),
        "ExtraExtensions": None,
    }
    out.update(_san(exts))
    return out


def decode_pem(pem: str) -> dict[str, Any]:
    """Decode the first PEM block: a CERTIFICATE or a CERTIFICATE REQUEST (RSA keys only, as Kyverno)."""
    data = pem.encode()
    begin = data.find(b"-----BEGIN ")
    if begin < 0:
        raise JMESPathError("failed to decode PEM block")
    kind = data[begin + 11:data.find(b"-----", begin + 11)].decode(errors="replace")
    try:
        if kind == "CERTIFICATE":
            cert = x509.load_pem_x509_certificate(data[begin:])
            if not isinstance(cert.public_key(), rsa.RSAPublicKey):
                raise JMESPathError("certificate should use rsa algorithm")
            return _certificate(cert)
        if kind == "CERTIFICATE REQUEST":
            csr = x509.load_pem_x509_csr(data[begin:])
            if not isinstance(csr.public_key(), rsa.RSAPublicKey):
                raise JMESPathError("certificate should use rsa algorithm")
            return _request(csr)
    except ValueError as exc:
        raise JMESPathError(f"x509: {exc}") from None
    raise JMESPathError("PEM block neither contains a CERTIFICATE or CERTIFICATE REQUEST")
