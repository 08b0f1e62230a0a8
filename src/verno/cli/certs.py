"""``verno certs``: a self-signed CA and a serving certificate for the webhook Service's DNS names."""
from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass
from pathlib import Path

import click
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from verno.core.errors import VernoError

FILES = ("ca.crt", "ca.key", "tls.crt", "tls.key")


class CertsError(VernoError):
    """Certificates cannot be written."""


_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


def service_dns_names(service: str, namespace: str) -> list[str]:
    """The names the API server may use for a Service: ``NAME``, ``NAME.NS``, ``NAME.NS.svc``, and the
    cluster-local FQDN."""
    for what, value in (("service", service), ("namespace", namespace)):
        if not _DNS_LABEL.match(value):
            raise CertsError(f"--{what} {value!r} is not a DNS label (lowercase letters, digits and '-')")
    return [service, f"{service}.{namespace}", f"{service}.{namespace}.svc",
            f"{service}.{namespace}.svc.cluster.local"]


@dataclass(frozen=True)
class Bundle:
    ca_cert: x509.Certificate
    ca_key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    def pem(self) -> dict[str, bytes]:
        def key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
            return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption())
        return {
            "ca.crt": self.ca_cert.public_bytes(serialization.Encoding.PEM),
            "ca.key": key_pem(self.ca_key),
            "tls.crt": self.cert.public_bytes(serialization.Encoding.PEM),
            "tls.key": key_pem(self.key),
        }


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "verno"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def generate(service: str, namespace: str, days: int = 365,
             now: dt.datetime | None = None) -> Bundle:
    """A P-256 CA (valid ``days``) and a serving certificate signed by it for the Service's DNS names."""
    now = now or dt.datetime.now(dt.UTC)
    not_before = now - dt.timedelta(minutes=5)  # tolerate clock skew between hosts
    not_after = now + dt.timedelta(days=days)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name(f"{service}.{namespace}.svc CA")
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before).not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    names = service_dns_names(service, namespace)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(names[2])).issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before).not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=True,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return Bundle(ca_cert, ca_key, cert, key)


def write(bundle: Bundle, out: Path) -> list[Path]:
    """Write the four PEM files (keys readable by the owner only); returns their paths."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        written = []
        for name, data in bundle.pem().items():
            path = out / name
            mode = 0o600 if name.endswith(".key") else 0o644
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.chmod(path, mode)
            written.append(path)
        return written
    except OSError as exc:
        raise CertsError(f"{exc.filename or out}: cannot write certificates: {exc.strerror or exc}") from None


@click.command("certs")
@click.option("--service", required=True, help="name of the Service in front of verno serve")
@click.option("--namespace", required=True, help="namespace of that Service")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False), help="directory to write to")
@click.option("--days", default=365, show_default=True, type=click.IntRange(1, 36500), help="validity in days")
def certs_command(service: str, namespace: str, out: str, days: int) -> None:
    """Write ca.crt, ca.key, tls.crt and tls.key: a CA and a serving certificate for the Service."""
    for path in write(generate(service, namespace, days), Path(out)):
        click.echo(str(path))
