"""ImageValidatingPolicy notary attestors against a real registry on loopback: notation signatures (JWS, found
through the referrers tag schema) trusted through the attestor's certs, counted by verifyImageSignatures;
signed referrer attestations counted by verifyAttestationSignatures and read with extractPayload."""
from __future__ import annotations

import json
import sys
from itertools import count
from pathlib import Path

import pytest

NOTARY_HELPERS = str(Path(__file__).resolve().parents[2] / "core" / "notary")
if NOTARY_HELPERS not in sys.path:
    sys.path.insert(0, NOTARY_HELPERS)

from ivpol_helpers import policy_doc, pod, run  # noqa: E402
from notary_signer import describe, pem, pki, push_artifact, push_signature  # noqa: E402
from vi_regserver import allow_loopback  # noqa: E402

from verno.core.engine import Engine  # noqa: E402
from verno.core.results import Status  # noqa: E402
from verno.core.sources import Sources  # noqa: E402
from verno.registry import Registries  # noqa: E402

SIGNED = "images.containers.all(i, verifyImageSignatures(i, [attestors.notary]) > 0)"
SBOM = "application/vnd.example.sbom.v1+json"
_n = count()


@pytest.fixture(scope="module")
def sources(registry) -> Sources:
    egress = allow_loopback()
    return Sources(registry_access=True, registry_client=Registries(credentials={}, allow_insecure=True, egress=egress),
                   egress=egress)


@pytest.fixture(scope="module")
def signer():
    return pki("ec256")


def notary(certs: str) -> dict:
    return {"name": "notary", "notary": {"certs": {"value": certs}}}


def image(registry, pusher):
    tag = f"n{next(_n)}"
    pusher.image("ivpol/notary", tag, seed=tag)
    desc = describe(pusher, "ivpol/notary", tag)
    return f"{registry.host}/ivpol/notary@{desc['digest']}", desc


def test_a_notary_signature_verifies_with_the_signers_root(registry, pusher, sources, signer):
    ref, desc = image(registry, pusher)
    push_signature(pusher, "ivpol/notary", desc, signer.envelope(desc))
    assert run(Engine(), sources, policy_doc([SIGNED], [notary(pem(signer.root))]), pod(ref)) == \
        (Status.PASS, "success")
    other = pki("ec256")
    assert run(Engine(), sources, policy_doc([SIGNED], [notary(pem(other.root))]), pod(ref)) == \
        (Status.FAIL, "check 0")


def test_an_unsigned_image_counts_zero_notary_attestors(registry, pusher, sources, signer):
    ref, _ = image(registry, pusher)
    doc = policy_doc(["verifyImageSignatures(images.containers[0], [attestors.notary]) == 0"],
                     [notary(pem(signer.root))], validationConfigurations={"required": False})
    assert run(Engine(), sources, doc, pod(ref)) == (Status.PASS, "success")
    del doc["spec"]["validationConfigurations"]  # required: the image was checked and failed
    assert run(Engine(), sources, doc, pod(ref)) == (Status.FAIL,
                                                      f"image {ref} failed signature or attestation verification")


def test_the_certs_may_be_a_cel_expression(registry, pusher, sources, signer):
    ref, desc = image(registry, pusher)
    push_signature(pusher, "ivpol/notary", desc, signer.envelope(desc))
    attestor = {"name": "notary", "notary": {"certs": {"expression": "variables.root"}}}
    doc = policy_doc([SIGNED], [attestor], variables=[{"name": "root", "expression": json.dumps(pem(signer.root))}])
    assert run(Engine(), sources, doc, pod(ref)) == (Status.PASS, "success")


def test_a_signed_referrer_attestation_is_counted_and_its_payload_read(registry, pusher, sources, signer):
    ref, desc = image(registry, pusher)
    sbom = {"bomFormat": "CycloneDX", "components": [{"name": "openssl"}]}
    att = push_artifact(pusher, "ivpol/notary", desc, SBOM, "application/json", json.dumps(sbom).encode())
    checks = ["images.containers.all(i, verifyAttestationSignatures(i, 'sbom', [attestors.notary]) > 0)",
              "images.containers.all(i, extractPayload(i, 'sbom').bomFormat == 'CycloneDX')"]
    doc = policy_doc(checks, [notary(pem(signer.root))], [{"name": "sbom", "referrer": {"type": SBOM}}])
    # the referrer is not signed yet: no attestor verifies it
    assert run(Engine(), sources, doc, pod(ref)) == (Status.FAIL, "check 0")
    push_signature(pusher, "ivpol/notary", att, signer.envelope(att))
    assert run(Engine(), sources, doc, pod(ref)) == (Status.PASS, "success")


def test_unreadable_certs_are_an_error_naming_the_field(registry, pusher, sources, signer):
    ref, desc = image(registry, pusher)
    push_signature(pusher, "ivpol/notary", desc, signer.envelope(desc))
    status, message = run(Engine(), sources, policy_doc([SIGNED], [notary("-----BEGIN CERTIFICATE-----")]),
                          pod(ref))
    assert status is Status.ERROR and "notary attestor notary: notary certs: not valid PEM" in message
