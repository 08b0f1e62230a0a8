from __future__ import annotations

import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from verno.core.errors import JMESPathError
from verno.core.jmespath import JMESPath


@pytest.mark.parametrize("expr, expected", [
    ("to_boolean('true')", True),
    ("to_boolean('TruE')", True),
    ("to_boolean('faLSE')", False),
    ("parse_json('{\"a\": [1, \"b\"]}')", {"a": [1, "b"]}),
    ("parse_json('3')", 3),
    ("parse_yaml('a: 1\nb: [x, z]\nc: null')", {"a": 1, "b": ["x", "z"], "c": None}),
    # sigs.k8s.io/yaml (go-yaml v2): y and on are booleans, 1:30 a string, 0777 octal; the first document
    ("parse_yaml('a: [y, on, 1:30, 0777]\n---\nb: 2')", {"a": [True, True, "1:30", 511]}),
    ("parse_yaml('when: 2021-01-01')", {"when": "2021-01-01"}),
    ("parse_yaml('1: one')", {"1": "one"}),
    ("parse_yaml('')", None),
    ("image_normalize('nginx')", "docker.io/nginx:latest"),
    ("image_normalize('docker.io/nginx')", "docker.io/nginx:latest"),
    ("image_normalize('docker.io/library/nginx')", "docker.io/library/nginx:latest"),
    ("image_normalize('ghcr.io/library/nginx')", "ghcr.io/library/nginx:latest"),
    ("image_normalize('ghcr.io/nginx:1.2')", "ghcr.io/nginx:1.2"),
    ("image_normalize('localhost:5000/app/img:v1')", "localhost:5000/app/img:v1"),
    ("image_normalize('nginx@sha256:" + "a" * 64 + "')", "docker.io/nginx@sha256:" + "a" * 64),
])
def test_conversion_functions(jp: JMESPath, expr: str, expected: object) -> None:
    assert jp.search(expr, {}) == expected


@pytest.mark.parametrize("expr, message", [
    ("to_boolean('yes')", "lowercase argument must be 'true' or 'false' (provided: 'yes')"),
    ("parse_json('{')", "parse_json"),
    ("parse_yaml('a: [')", "parse_yaml"),
    ("image_normalize('Nginx:bad tag')", "image_normalize"),
    ("x509_decode('not pem')", "failed to decode PEM block"),
])
def test_conversion_errors(jp: JMESPath, expr: str, message: str) -> None:
    with pytest.raises(JMESPathError) as info:
        jp.search(expr, {})
    assert message in str(info.value)


def _certificate(key, *, cn: str = "example.com") -> str:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Acme")])
    start = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(4242).not_valid_before(start).not_valid_after(start + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("example.com")]), critical=False)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def test_x509_decode_certificate(jp: JMESPath) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = _certificate(key)
    out = jp.search("x509_decode(@)", pem)
    assert out["Subject"]["CommonName"] == "example.com"
    assert out["Subject"]["Organization"] == ["Acme"]
    assert out["Issuer"]["CommonName"] == "example.com"
    assert out["SerialNumber"] == 4242
    assert out["NotBefore"] == "2024-01-01T00:00:00Z"
    assert out["NotAfter"] == "2024-01-31T00:00:00Z"
    assert out["IsCA"] is True and out["BasicConstraintsValid"] is True and out["MaxPathLen"] == -1
    assert out["DNSNames"] == ["example.com"]
    assert out["Version"] == 3
    assert out["SignatureAlgorithm"] == 4  # x509.SHA256WithRSA
    assert out["PublicKey"] == {"N": str(key.public_key().public_numbers().n), "E": 65537}
    # the base64-then-decode idiom of Kyverno policies
    assert jp.search("x509_decode(base64_decode(@)).Subject.CommonName",
                     __import__("base64").b64encode(pem.encode()).decode()) == "example.com"


def test_x509_decode_csr(jp: JMESPath) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "req")]))
           .sign(key, hashes.SHA256()))
    out = jp.search("x509_decode(@)", csr.public_bytes(serialization.Encoding.PEM).decode())
    assert out["Subject"]["CommonName"] == "req"
    assert out["PublicKey"]["E"] == 65537


def test_x509_decode_requires_rsa(jp: JMESPath) -> None:
    pem = _certificate(ec.generate_private_key(ec.SECP256R1()))
    with pytest.raises(JMESPathError, match="certificate should use rsa algorithm"):
        jp.search("x509_decode(@)", pem)
