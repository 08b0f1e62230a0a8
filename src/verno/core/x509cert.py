"""PEM certificates and CSRs as Go's ``encoding/json`` renders them: the JMESPath ``x509_decode`` shape
(``x509.Certificate`` / ``x509.CertificateRequest``) and CEL's ``x509.decode`` shape (Kyverno's
``CertificateOutput``: no parsed ``Subject``, RFC 3339 times, more name-constraint fields).

Errors are :class:`CertificateError` with Go's wording; callers turn them into their language's error.
"""
from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtensionOID, NameOID


class CertificateError(ValueError):
    """The PEM text is not an RSA certificate or certificate request Go would decode."""


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
        raise CertificateError("certificate should use rsa algorithm")
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
    """Decode the first PEM block: a CERTIFICATE or a CERTIFICATE REQUEST (RSA keys only, as Kyverno),
    in the shape of JMESPath's ``x509_decode``."""
    return _decode(pem, _certificate)


def decode_pem_cel(pem: str) -> dict[str, Any]:
    """Decode the first PEM block in the shape of CEL's ``x509.decode`` (Kyverno's ``CertificateOutput``
    for a certificate, ``x509.CertificateRequest`` for a CSR). Numbers are floats: Kyverno hands the
    map over through a JSON round trip into ``map[string]any``."""
    return _floats(_decode(pem, _cel_certificate))


def _decode(pem: str, certificate: Any) -> dict[str, Any]:
    data = pem.encode()
    begin = data.find(b"-----BEGIN ")
    if begin < 0:
        raise CertificateError("failed to decode PEM block")
    kind = data[begin + 11:data.find(b"-----", begin + 11)].decode(errors="replace")
    try:
        if kind == "CERTIFICATE":
            cert = x509.load_pem_x509_certificate(data[begin:])
            if not isinstance(cert.public_key(), rsa.RSAPublicKey):
                raise CertificateError("certificate should use rsa algorithm")
            return certificate(cert)
        if kind == "CERTIFICATE REQUEST":
            csr = x509.load_pem_x509_csr(data[begin:])
            if not isinstance(csr.public_key(), rsa.RSAPublicKey):
                raise CertificateError("certificate should use rsa algorithm")
            return _request(csr)
    except ValueError as exc:
        raise CertificateError(f"x509: {exc}") from None
    raise CertificateError("PEM block neither contains a CERTIFICATE or CERTIFICATE REQUEST")


def _go_int64(value: int) -> int:
    """Go's ``big.Int.Int64()``: the low 64 bits of the magnitude as an int64, negated for a negative."""
    low = abs(value) & 0xFFFFFFFFFFFFFFFF
    low = low - (1 << 64) if low >= 1 << 63 else low
    return -low if value < 0 else low


def _rfc3339(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _access_urls(extensions: x509.Extensions, method: Any) -> list[str] | None:
    aia = _ext(extensions, ExtensionOID.AUTHORITY_INFORMATION_ACCESS)
    if aia is None:
        return None
    return _strings([d.access_location.value for d in aia if d.access_method == method
                     and isinstance(d.access_location, x509.UniformResourceIdentifier)])


def _ip_net(network: Any) -> dict[str, Any]:
    """Go's ``net.IPNet`` in JSON: the address as text, the mask as base64 bytes (16 bytes for IPv4, as
    the x509 parser stores it)."""
    mask = network.netmask.packed
    return {"IP": str(network.network_address), "Mask": base64.b64encode(mask).decode()}


def _constraints(extensions: x509.Extensions) -> dict[str, Any]:
    nc = _ext(extensions, ExtensionOID.NAME_CONSTRAINTS)
    permitted = list(nc.permitted_subtrees or []) if nc is not None else []
    excluded = list(nc.excluded_subtrees or []) if nc is not None else []

    def values(trees: list[Any], kind: Any) -> list[Any] | None:
        return _strings([t.value for t in trees if isinstance(t, kind) and not isinstance(t, x509.IPAddress)])

    def ranges(trees: list[Any]) -> list[dict[str, Any]] | None:
        return [_ip_net(t.value) for t in trees if isinstance(t, x509.IPAddress)] or None

    critical = False
    if nc is not None:
        critical = extensions.get_extension_for_oid(ExtensionOID.NAME_CONSTRAINTS).critical
    return {
        "PermittedDNSDomainsCritical": critical,
        "PermittedDNSDomains": values(permitted, x509.DNSName),
        "ExcludedDNSDomains": values(excluded, x509.DNSName),
        "PermittedIPRanges": ranges(permitted),
        "ExcludedIPRanges": ranges(excluded),
        "PermittedEmailAddresses": values(permitted, x509.RFC822Name),
        "ExcludedEmailAddresses": values(excluded, x509.RFC822Name),
        "PermittedURIDomains": values(permitted, x509.UniformResourceIdentifier),
        "ExcludedURIDomains": values(excluded, x509.UniformResourceIdentifier),
    }


def _cel_certificate(cert: x509.Certificate) -> dict[str, Any]:
    """Kyverno's ``CertificateOutput`` (pkg/cel/libs/x509): Go field names, ``[]byte`` as base64."""
    from cryptography.x509.oid import AuthorityInformationAccessOID

    full = _certificate(cert)
    exts = cert.extensions
    policies = _ext(exts, ExtensionOID.CERTIFICATE_POLICIES)
    out: dict[str, Any] = {name: full[name] or "" for name in (
        "Raw", "RawTBSCertificate", "RawSubjectPublicKeyInfo", "RawSubject", "RawIssuer", "Signature")}
    out.update({
        "PublicKeyAlgorithm": full["PublicKeyAlgorithm"],
        "PublicKey": full["PublicKey"],
        "SerialNumber": _go_int64(cert.serial_number),
        "Issuer": full["Issuer"],
        "NotBefore": _rfc3339(cert.not_valid_before_utc),
        "NotAfter": _rfc3339(cert.not_valid_after_utc),
        "KeyUsage": full["KeyUsage"],
        "Extensions": full["Extensions"],
        "ExtraExtensions": None,
        "ExtKeyUsage": full["ExtKeyUsage"],
        "BasicConstraintsValid": full["BasicConstraintsValid"],
        "IsCA": full["IsCA"],
        "MaxPathLen": full["MaxPathLen"],
        "MaxPathLenZero": full["MaxPathLenZero"],
        "AuthorityKeyId": full["AuthorityKeyId"],
        "OCSPServer": _access_urls(exts, AuthorityInformationAccessOID.OCSP),
        "IssuingCertificateURL": _access_urls(exts, AuthorityInformationAccessOID.CA_ISSUERS),
        "DNSNames": full["DNSNames"],
        "EmailAddresses": full["EmailAddresses"],
        "IPAddresses": full["IPAddresses"],
    })
    out.update(_constraints(exts))
    out["CRLDistributionPoints"] = full["CRLDistributionPoints"]
    out["PolicyIdentifiers"] = [_oid(p.policy_identifier.dotted_string) for p in policies] or None \
        if policies is not None else None
    return out


def _floats(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return float(value)
    if isinstance(value, list):
        return [_floats(v) for v in value]
    if isinstance(value, dict):
        return {k: _floats(v) for k, v in value.items()}
    return value
