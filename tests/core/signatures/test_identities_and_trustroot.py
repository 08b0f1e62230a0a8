"""core/signatures: a keyless certificate matches one of several identities; a Sigstore TrustedRoot document
gives the roots and log keys the verifiers take, or an error naming what is wrong."""
from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "verifyimages"))

from vi_pki import FulcioCA, cert_pem  # noqa: E402
from vi_sigstore import PrivateSigstore  # noqa: E402

from verno.core.errors import VernoError  # noqa: E402
from verno.core.signatures.attestor import Identity  # noqa: E402
from verno.core.signatures.crypto import VerifyFailure, load_certs  # noqa: E402
from verno.core.signatures.keyless import check_identities  # noqa: E402
from verno.core.signatures.trustroot import trust_material  # noqa: E402


@pytest.fixture(scope="module")
def leaf():
    _, cert = FulcioCA().leaf(email="ci@example.test", issuer="https://token.test")
    return cert


def test_one_matching_identity_is_enough(leaf):
    good = Identity(subject="ci@example.test", issuer="https://token.test")
    bad = Identity(subject="mallory@example.test")
    check_identities(leaf, (bad, good), {})
    check_identities(leaf, (Identity(subject_regexp=r"ci@.*", issuer_regexp=r"https://token\..*"),), {})
    with pytest.raises(VerifyFailure, match="subject mismatch"):
        check_identities(leaf, (bad,), {})
    with pytest.raises(VerifyFailure, match="no identity matches"):
        check_identities(leaf, (bad, Identity(issuer="https://other")), {})


def test_a_trusted_root_gives_roots_and_log_keys():
    sigstore = PrivateSigstore()
    material = trust_material(json.dumps(sigstore.trusted_root()))
    assert [c.subject for c in load_certs(material.roots)] == [sigstore.fulcio.intermediate.subject,
                                                               sigstore.fulcio.root.subject]
    assert material.rekor_pubkey.strip() == sigstore.rekor.pubkey_pem.strip()
    assert material.ctlog_pubkey.strip() == sigstore.ctlog.pubkey_pem.strip()
    assert cert_pem(sigstore.fulcio.root) in material.roots


@pytest.mark.parametrize("document, message", [
    ("{", "not JSON"),
    ("[]", "must be a JSON object"),
    (json.dumps({"tlogs": [{"publicKey": {"rawBytes": "%%"}}]}), "tlogs (Rekor) publicKey has no base64 rawBytes"),
    (json.dumps({"ctlogs": [{"publicKey": {"rawBytes": base64.b64encode(b"junk").decode()}}]}),
     "invalid ctlogs public key"),
])
def test_a_broken_trusted_root_is_an_error_naming_the_part(document, message):
    with pytest.raises(VernoError, match=message.replace("(", r"\(").replace(")", r"\)")):
        trust_material(document)
