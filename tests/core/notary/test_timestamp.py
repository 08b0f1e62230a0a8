"""``notary.x509`` signatures with ``tsaCerts``: the RFC 3161 countersignature decides when the chain must
have been valid (notation's authentic timestamp check)."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest

from notary_signer import NOW, describe, pem, pki, push_signature
from notary_tsa import TSA
from verno.core.notary import SignatureInvalid, verify_envelope, verify_image
from verno.core.notary.verify import load_certs

DESC = {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" + "cd" * 32, "size": 700}


@pytest.fixture(scope="module")
def tsa():
    return TSA()


def stamped(signer, tsa, when, *, stamp_at=None, message=None):
    """An envelope signed at ``when``, countersigned by ``tsa`` at ``stamp_at`` (default: ``when``)."""
    unstamped = json.loads(signer.envelope(DESC, signing_time=when))
    import base64

    sig = base64.urlsafe_b64decode(unstamped["signature"] + "==")
    token = tsa.token(message if message is not None else sig, stamp_at or when)
    unstamped["header"]["io.cncf.notary.timestampSignature"] = base64.b64encode(token).decode()
    return json.dumps(unstamped).encode()


def run(blob, signer, tsa_certs):
    return verify_envelope(blob, DESC, load_certs(pem(signer.root), "certs"), tsa_certs, NOW)


def test_timestamp_within_validity_verifies_after_the_certificate_expired(tsa):
    s = pki("ec256", not_before=NOW - timedelta(days=10), not_after=NOW - timedelta(days=1))
    blob = stamped(s, tsa, NOW - timedelta(days=2))
    assert run(blob, s, [tsa.root]).verified
    # without tsaCerts the chain must be valid now, and it is not
    with pytest.raises(SignatureInvalid, match="verification time is after certificate"):
        run(blob, s, [])


def test_tsa_certs_require_a_timestamp(tsa):
    s = pki("ec256")
    with pytest.raises(SignatureInvalid, match="no timestamp countersignature was found"):
        run(s.envelope(DESC), s, [tsa.root])


def test_untrusted_tsa_fails(tsa):
    s = pki("ec256")
    with pytest.raises(SignatureInvalid, match="chaining to the notary attestor's tsaCerts"):
        run(stamped(s, tsa, NOW), s, [TSA().root])


def test_timestamp_of_other_data_fails(tsa):
    s = pki("ec256")
    with pytest.raises(SignatureInvalid, match="stamps other data than this signature"):
        run(stamped(s, tsa, NOW, message=b"something else"), s, [tsa.root])


def test_timestamp_outside_the_certificate_validity_fails(tsa):
    s = pki("ec256", not_before=NOW - timedelta(days=10), not_after=NOW - timedelta(days=5))
    blob = stamped(s, tsa, NOW - timedelta(days=6), stamp_at=NOW - timedelta(days=1))
    with pytest.raises(SignatureInvalid, match="the timestamp .* is after certificate 'CN=signer"):
        run(blob, s, [tsa.root])


def test_timestamp_before_the_claimed_signing_time_fails(tsa):
    s = pki("ec256")
    blob = stamped(s, tsa, NOW, stamp_at=NOW - timedelta(hours=1))
    with pytest.raises(SignatureInvalid, match="is not bounded after the signing time"):
        run(blob, s, [tsa.root])


def test_garbage_timestamp_fails(tsa):
    s = pki("ec256")
    with pytest.raises(SignatureInvalid, match="failed to parse timestamp countersignature"):
        run(s.envelope(DESC, timestamp=b"\x30\x03\x02\x01\x00"), s, [tsa.root])


def test_timestamped_signature_through_the_registry(registries, registry, pusher, tsa):
    s = pki("rsa2048", not_before=NOW - timedelta(days=10), not_after=NOW - timedelta(days=1))
    pusher.image("notary/tsa", "v1", seed="tsa")
    desc = describe(pusher, "notary/tsa", "v1")
    global DESC
    saved, DESC = DESC, desc
    try:
        push_signature(pusher, "notary/tsa", desc, stamped(s, tsa, NOW - timedelta(days=2)))
    finally:
        DESC = saved
    ref = f"{registry.host}/notary/tsa:v1"
    assert verify_image(registries, ref, pem(s.root), pem(tsa.root)).verified == 1
    assert "verification time is after" in verify_image(registries, ref, pem(s.root)).message
