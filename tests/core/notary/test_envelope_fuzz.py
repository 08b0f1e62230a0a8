"""The envelope parser and verifier never raise anything but SignatureInvalid, whatever the blob."""
from __future__ import annotations

import base64
import json
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from notary_signer import NOW, b64url, pem, pki
from verno.core.notary import SignatureInvalid, verify_envelope
from verno.core.notary.verify import load_certs

SIGNER = pki("ec256")
TRUSTED = load_certs(pem(SIGNER.root), "certs")
DESC = {"mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": "sha256:" + "ab" * 32, "size": 512}
VALID = json.loads(SIGNER.envelope(DESC, expiry=NOW + timedelta(days=1)))
PROTECTED = json.loads(base64.urlsafe_b64decode(VALID["protected"] + "=="))

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12)


def check(blob: bytes) -> None:
    try:
        outcome = verify_envelope(blob, DESC, TRUSTED, [], NOW)
    except SignatureInvalid as exc:
        assert str(exc)
    else:
        assert outcome.verified


def test_the_valid_envelope_verifies():
    assert verify_envelope(json.dumps(VALID).encode(), DESC, TRUSTED, [], NOW).verified


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_arbitrary_bytes(blob):
    check(blob)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["payload", "protected", "header", "signature"]), json_values)
def test_a_top_level_member_replaced(member, value):
    check(json.dumps({**VALID, member: value}).encode())


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(PROTECTED) + ["io.cncf.notary.authenticSigningTime", "x-extra"]), json_values)
def test_a_protected_header_replaced(name, value):
    headers = {**PROTECTED, name: value}
    check(json.dumps({**VALID, "protected": b64url(json.dumps(headers).encode())}).encode())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_values, st.lists(st.text(max_size=40) | st.binary(max_size=60).map(
    lambda b: base64.b64encode(b).decode()), max_size=3))
def test_payload_and_chain_replaced(payload, x5c):
    blob = {**VALID, "payload": b64url(json.dumps(payload).encode()), "header": {"x5c": x5c}}
    check(json.dumps(blob).encode())


def test_deep_nesting_is_a_failure_not_a_recursion_error():
    deep = b"[" * 100000 + b"]" * 100000
    check(deep)
    headers = b64url(b"[" * 100000 + b"]" * 100000)
    check(json.dumps({**VALID, "protected": headers}).encode())
