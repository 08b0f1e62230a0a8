"""Kyverno's CEL libraries without data sources, against the values Kyverno's sdk and docs give."""
from __future__ import annotations

import base64
import datetime
import gzip
import json
import re

import pytest

from verno.core.cel import Activation, CELCompileError, CELEvaluationError, environment_for

DIGEST = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def run(expression: str, kind: str = "ValidatingPolicy", **inputs):
    return environment_for(kind).compile(expression).evaluate(Activation(inputs))


def fails(expression: str, kind: str = "ValidatingPolicy", **inputs) -> str:
    with pytest.raises(CELEvaluationError) as info:
        run(expression, kind, **inputs)
    return info.value.detail


# -- hash -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, digest", [
    ("sha1", "a9993e364706816aba3e25717850c26c9cd0d89d"),
    ("sha256", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
    ("md5", "900150983cd24fb0d6963f7d28e17f72"),
])
def test_hash_functions_and_their_prefixed_names(name, digest):
    assert run(f"{name}('abc')") == digest
    assert run(f"hash.{name}('abc')") == digest


# -- math -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("expression, expected", [
    ("math.round(10.125, 2)", 10.13), ("math.round(1234.5678, 0)", 1235.0), ("math.round(1234.5, -2)", 1200.0),
    ("math.round(-2.5, 0)", -3.0), ("math.round(0.5, 0)", 1.0), ("math.round(2.5)", 3.0),
])
def test_math_round_with_precision_next_to_cel_go_round(expression, expected):
    assert run(expression) == expected


def test_math_round_needs_a_double():
    with pytest.raises(CELCompileError):
        run("math.round(10, 2)")


# -- json / yaml ------------------------------------------------------------------------------------------
def test_json_unmarshal_gives_doubles_and_marshal_renders_like_go():
    assert run("json.unmarshal('{\"a\": 1, \"b\": [true, null, \"x\"]}')") == {"a": 1.0, "b": [True, None, "x"]}
    assert isinstance(run("json.unmarshal('3')"), float)
    assert run("json.marshal({'b': [1, 2.5, 'x<y'], 'a': true})") == '{"a":true,"b":[1,2.5,"x\\u003cy"]}'
    assert run("json.marshal(1.0)") == "1"
    assert run("json.marshal(json.unmarshal('{\"k\": [1, {\"z\": \"w\"}]}'))") == '{"k":[1,{"z":"w"}]}'


def test_json_unmarshal_errors_are_cel_errors():
    assert "unexpected end of JSON input" in fails("json.unmarshal('{\"a\": ')")
    assert "cannot unmarshal number 1e400" in fails("json.unmarshal('1e400')")
    assert "unsupported value: NaN" in fails("json.marshal(double('NaN'))")


def test_yaml_parse_reads_the_first_document_with_kubernetes_meaning():
    assert run("yaml.parse('a: 1\\nb: [x, yes]\\nc: 1:30\\n---\\nd: 2')") == {"a": 1.0, "b": ["x", True], "c": "1:30"}
    assert "yaml.parse" in fails("yaml.parse('a: [')")


# -- gzip -------------------------------------------------------------------------------------------------
def test_gzip_round_trip_and_deterministic_header():
    assert run("gzip.decompress(gzip.compress('hello, world'))") == "hello, world"
    raw = run("gzip.compress('hello')")
    assert isinstance(raw, bytes) and len(raw) > 10  # the whole stream, NUL bytes included
    assert raw[:4] == b"\x1f\x8b\x08\x00" and raw[4:8] == b"\x00\x00\x00\x00" and raw[9] == 0xFF
    assert gzip.decompress(raw) == b"hello"
    assert run("gzip.compress('hello') == gzip.compress('hello')") is True
    assert "gzip: invalid header" in fails("gzip.decompress(b'not gzip')")


# -- time -------------------------------------------------------------------------------------------------
def test_time_to_cron_truncate_and_now():
    # 2024-03-05 is a Tuesday (weekday 2, Sunday = 0); no zero padding
    assert run("time.toCron(timestamp('2024-03-05T07:08:09Z'))") == "8 7 5 3 2"
    assert run("time.toCron(timestamp('2023-12-31T00:05:00Z'))") == "5 0 31 12 0"
    assert run("time.truncate(timestamp('2024-03-05T07:08:09Z'), duration('1h'))") == \
        datetime.datetime(2024, 3, 5, 7, tzinfo=datetime.timezone.utc)
    assert run("time.truncate(timestamp('2024-03-05T07:08:09Z'), duration('24h'))") == \
        datetime.datetime(2024, 3, 5, tzinfo=datetime.timezone.utc)
    assert run("time.truncate(timestamp('2024-03-05T07:08:09Z'), duration('0s'))") == \
        datetime.datetime(2024, 3, 5, 7, 8, 9, tzinfo=datetime.timezone.utc)
    before = datetime.datetime.now(datetime.timezone.utc)
    assert before - datetime.timedelta(seconds=1) <= run("time.now()") <= before + datetime.timedelta(seconds=5)


# -- random -----------------------------------------------------------------------------------------------
def test_random_default_and_patterns():
    for expression in ("random()", "random.random()"):
        assert re.fullmatch(r"[0-9a-z]{8}", run(expression))
    assert re.fullmatch(r"ab-[0-9]{4}", run("random('ab-[0-9]{4}')"))
    assert re.fullmatch(r"[A-F]{2}", run("random.random('[A-F]{2}')"))
    assert "missing closing ]" in fails("random('[a-z')")


# -- transform, user --------------------------------------------------------------------------------------
def test_list_obj_to_map():
    keys = "[{'name': 'a'}, {'name': 'b'}]"
    values = "[{'v': 'x'}, {'v': 'y'}]"
    assert run(f"listObjToMap({keys}, {values}, 'name', 'v')") == {"a": "x", "b": "y"}
    assert run(f"transform.listObjToMap({keys}, {values}, 'name', 'v')") == {"a": "x", "b": "y"}
    assert "lists of equal length. list1: 2, list2: 1" in fails(f"listObjToMap({keys}, [{{'v': 1}}], 'name', 'v')")
    assert "cannot be handled as a string" in fails("listObjToMap([{'name': 1}], [{'v': 1}], 'name', 'v')")


def test_parse_service_account():
    assert run("parseServiceAccount('system:serviceaccount:kube-system:default')") == \
        {"Name": "default", "Namespace": "kube-system"}
    assert run("user.parseServiceAccount('system:serviceaccount:ns:sa').Namespace") == "ns"
    assert run("user.parseServiceAccount('alice')") == {"Name": "", "Namespace": ""}


def test_user_library_is_not_in_generating_policies():
    with pytest.raises(CELCompileError):
        run("parseServiceAccount('alice')", "GeneratingPolicy")


# -- image ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("ref, registry, repository, tag, digest, identifier", [
    ("nginx", "index.docker.io", "library/nginx", "latest", "", "latest"),
    ("nginx:1.25", "index.docker.io", "library/nginx", "1.25", "", "1.25"),
    ("docker.io/bitnami/redis:7", "index.docker.io", "bitnami/redis", "7", "", "7"),
    ("ghcr.io/org/app:v1.2.3", "ghcr.io", "org/app", "v1.2.3", "", "v1.2.3"),
    (f"repo:tag@{DIGEST}", "index.docker.io", "library/repo", "tag", DIGEST, f"tag@{DIGEST}"),
    (f"localhost:5000/app@{DIGEST}", "localhost:5000", "app", "", DIGEST, DIGEST),
])
def test_image_parsing_follows_go_containerregistry(ref, registry, repository, tag, digest, identifier):
    expression = "parseImageReference(object.ref)"
    inputs = {"object": {"ref": ref}}
    assert run(f"{expression}.registry()", **inputs) == registry
    assert run(f"{expression}.repository()", **inputs) == repository
    assert run(f"{expression}.tag()", **inputs) == tag
    assert run(f"{expression}.digest()", **inputs) == digest
    assert run(f"{expression}.identifier()", **inputs) == identifier
    assert run(f"{expression}.containsDigest()", **inputs) is bool(digest)
    assert run("image(object.ref).registry() == parseImageReference(object.ref).registry()", **inputs) is True
    assert run("isImage(object.ref)", **inputs) is True


@pytest.mark.parametrize("ref", ["Nginx", "a", "nginx@sha256:abc", "repo@sha512:" + "a" * 128, "https://x/y", ""])
def test_invalid_image_references(ref):
    assert run("isImage(object.ref)", object={"ref": ref}) is False
    assert fails("parseImageReference(object.ref)", object={"ref": ref})


def test_image_member_on_another_value_is_no_such_overload():
    assert "no such overload" in fails("'nginx'.registry()")


# -- x509 -------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def certificate_pem() -> str:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "verno-test-ca"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "verno")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(4242)
            .not_valid_before(datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc))
            .not_valid_after(datetime.datetime(2034, 1, 1, 12, 30, tzinfo=datetime.timezone.utc))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("ca.example.com")]), critical=False)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def test_x509_decode_certificate_with_go_field_names(certificate_pem):
    from cryptography import x509

    out = run("x509.decode(object.pem)", object={"pem": certificate_pem})
    cert = x509.load_pem_x509_certificate(certificate_pem.encode())
    assert out["Issuer"]["CommonName"] == "verno-test-ca" and out["Issuer"]["Organization"] == ["verno"]
    assert out["NotBefore"] == "2024-01-01T00:00:00Z" and out["NotAfter"] == "2034-01-01T12:30:00Z"
    assert out["DNSNames"] == ["ca.example.com"] and out["IsCA"] is True
    assert out["SerialNumber"] == 4242.0 and isinstance(out["SerialNumber"], float)
    assert out["PublicKey"]["E"] == 65537.0
    assert out["PublicKey"]["N"] == str(cert.public_key().public_numbers().n)
    assert base64.b64decode(out["RawSubject"]) == cert.subject.public_bytes()
    assert "Subject" not in out and out["PublicKeyAlgorithm"] == 1.0
    assert run("x509.decode(object.pem).Issuer.CommonName == 'verno-test-ca'", object={"pem": certificate_pem})


def test_x509_decode_errors():
    assert fails("x509.decode('nothing')") == "failed to decode PEM block"


def test_x509_is_not_in_image_validating_policies():
    with pytest.raises(CELCompileError):
        run("x509.decode('x')", "ImageValidatingPolicy")


def test_function_results_keep_bytes_whole_and_refuse_strings_the_runtime_would_cut():
    from dataclasses import replace

    from verno.core.cel import Library, LibraryRegistry
    from verno.core.cel.environment import KINDS, Environment

    lib = Library("t")
    lib.fn("raw", [], "bytes", lambda: b"a\x00b")
    lib.fn("text", [], "string", lambda: "a\x00b")
    registry = LibraryRegistry()
    registry.register(lib)
    env = Environment(replace(KINDS["ValidatingPolicy"], libraries=("t",)), registry)
    assert env.compile("size(raw())").evaluate(Activation({})) == 3
    with pytest.raises(CELEvaluationError, match="NUL character"):
        env.compile("text()").evaluate(Activation({}))
