"""``verno certs``: SANs, CA signature, validity, key usage, chain verification and a real TLS handshake."""
from __future__ import annotations

import datetime as dt
import socket
import ssl
import stat
import threading
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

NAMES = ["webhook", "webhook.policy", "webhook.policy.svc", "webhook.policy.svc.cluster.local"]


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    from click.testing import CliRunner

    from verno.cli.main import cli

    out = tmp_path_factory.mktemp("certs") / "tls"
    result = CliRunner().invoke(cli, ["certs", "--service", "webhook", "--namespace", "policy",
                                      "--out", str(out), "--days", "30"])
    assert result.exit_code == 0, result.output
    assert result.output.split() == [str(out / n) for n in ("ca.crt", "ca.key", "tls.crt", "tls.key")]
    return out


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_files_and_permissions(out):
    for name in ("ca.key", "tls.key"):
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o600
        assert isinstance(load_pem_private_key((out / name).read_bytes(), None), ec.EllipticCurvePrivateKey)
    for name in ("ca.crt", "tls.crt"):
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o644


def test_serving_certificate_names_and_usage(out):
    cert = _cert(out / "tls.crt")
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == NAMES
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and not usage.value.key_cert_sign
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    key = load_pem_private_key((out / "tls.key").read_bytes(), None)
    assert key.public_key().public_numbers() == cert.public_key().public_numbers()


def test_ca_certificate(out):
    ca = _cert(out / "ca.crt")
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    usage = ca.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign and usage.crl_sign
    ca.verify_directly_issued_by(ca)  # self-signed
    _cert(out / "tls.crt").verify_directly_issued_by(ca)  # the serving certificate is signed by the CA
    key = load_pem_private_key((out / "ca.key").read_bytes(), None)
    assert key.public_key().public_numbers() == ca.public_key().public_numbers()


def test_validity(out):
    now = dt.datetime.now(dt.UTC)
    for name in ("ca.crt", "tls.crt"):
        cert = _cert(out / name)
        assert cert.not_valid_before_utc <= now
        assert dt.timedelta(days=29) < cert.not_valid_after_utc - now <= dt.timedelta(days=30)


def test_chain_verifies_for_every_service_name(out):
    store = Store([_cert(out / "ca.crt")])
    leaf = _cert(out / "tls.crt")
    for name in NAMES:
        verifier = PolicyBuilder().store(store).build_server_verifier(x509.DNSName(name))
        chain = verifier.verify(leaf, [])
        assert chain[0] == leaf
    with pytest.raises(VerificationError):
        PolicyBuilder().store(store).build_server_verifier(x509.DNSName("other.policy.svc")).verify(leaf, [])


def test_tls_handshake(out):
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    server_ctx.load_cert_chain(out / "tls.crt", out / "tls.key")
    client_ctx = ssl.create_default_context(cafile=str(out / "ca.crt"))
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(10)
        port = listener.getsockname()[1]
        errors: list[BaseException] = []

        def serve() -> None:
            try:
                conn, _ = listener.accept()
                with server_ctx.wrap_socket(conn, server_side=True) as tls:
                    tls.sendall(tls.recv(5).upper())
            except (OSError, ssl.SSLError) as exc:  # reported by the test thread
                errors.append(exc)

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        with (socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
              client_ctx.wrap_socket(raw, server_hostname="webhook.policy.svc") as tls):
            tls.sendall(b"hello")
            assert tls.recv(5) == b"HELLO"
            assert tls.version() in ("TLSv1.2", "TLSv1.3")
        thread.join(10)
        assert not errors


def test_handshake_rejects_a_wrong_name(out):
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(out / "tls.crt", out / "tls.key")
    client_ctx = ssl.create_default_context(cafile=str(out / "ca.crt"))
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(10)
        port = listener.getsockname()[1]

        def serve() -> None:
            try:
                conn, _ = listener.accept()
                with server_ctx.wrap_socket(conn, server_side=True):
                    pass
            except (ssl.SSLError, OSError):
                pass

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        with (socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
              pytest.raises(ssl.SSLCertVerificationError)):
            client_ctx.wrap_socket(raw, server_hostname="elsewhere.example")
        thread.join(10)


@pytest.mark.parametrize("args, message", [
    (["--service", "Bad_Name", "--namespace", "ns"], "is not a DNS label"),
    (["--service", "ok", "--namespace", "-ns"], "is not a DNS label"),
])
def test_bad_names_are_one_line_errors(run, tmp_path, args, message):
    result = run("certs", *args, "--out", tmp_path / "o")
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]


def test_unwritable_out_is_one_line_error(run, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = run("certs", "--service", "a", "--namespace", "b", "--out", blocker / "sub")
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot write certificates" in lines[0]
