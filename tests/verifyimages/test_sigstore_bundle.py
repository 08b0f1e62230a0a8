"""``type: SigstoreBundle``: cosign v3 bundles as referrers, verified offline with sigstore-python against a
private trust root (Fulcio-like CA, CT log and Rekor keys made at test time), on the real registry."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
from vi_policy import evaluate, pod, repo
from vi_sigstore import PrivateSigstore, push_bundle, statement

from verno.core.results import Status

SLSA = "https://slsa.dev/provenance/v1"


@pytest.fixture(scope="module")
def sigstore() -> PrivateSigstore:
    return PrivateSigstore()


def keyless(s: PrivateSigstore, *, subject: str = "ci@example.com", **over) -> dict:
    # v0.3 bundles carry the leaf only: roots is the CA chain (intermediate, then root), as in a trusted root
    entry = {"roots": s.fulcio.chain_pem, "subject": subject, "issuer": "https://token.test",
             "rekor": {"pubkey": s.rekor.pubkey_pem}, "ctlog": {"pubkey": s.ctlog.pubkey_pem}}
    entry.update(over)
    return {"keyless": entry}


def rule(s: PrivateSigstore, registry, **extra) -> dict:
    return {"type": "SigstoreBundle", "imageReferences": [f"{registry.host}/*"],
            "attestors": [{"entries": [keyless(s)]}], **extra}


def _image(pusher, registry, bundle_for=None, signer: PrivateSigstore | None = None, **kw):
    r = repo()
    digest = pusher.image(r, "v1")
    if signer is not None:
        subject_digest = bundle_for or digest
        push_bundle(pusher, r, digest, signer.bundle(statement(subject_digest, f"{registry.host}/{r}"), **kw))
    return f"{registry.host}/{r}:v1", digest, r


def _one(rules):
    assert len(rules) == 1, rules
    return rules[0]


def test_signed_bundle_passes_and_pins_the_digest(engine, sources, registry, pusher, sigstore):
    image, digest, _ = _image(pusher, registry, signer=sigstore)
    rules, resp = evaluate(engine, sources, pod(image), rule(sigstore, registry))
    r = _one(rules)
    assert r.status == Status.PASS and r.message == f"verified image signatures for {image}", r.message
    assert resp.patched_resource["spec"]["containers"][0]["image"] == f"{image}@{digest}"
    assert json.loads(resp.patched_resource["metadata"]["annotations"]["kyverno.io/verify-images"]) == {image: "pass"}


def test_no_bundle_fails(engine, sources, registry, pusher, sigstore):
    image, _, _ = _image(pusher, registry)
    r = _one(evaluate(engine, sources, pod(image), rule(sigstore, registry))[0])
    assert r.status == Status.FAIL and "no Sigstore bundles found" in r.message


def test_wrong_subject_fails(engine, sources, registry, pusher, sigstore):
    image, _, _ = _image(pusher, registry, signer=sigstore, email="mallory@example.com")
    r = _one(evaluate(engine, sources, pod(image), rule(sigstore, registry))[0])
    assert r.status == Status.FAIL and "subject mismatch" in r.message


def test_untrusted_root_fails(engine, sources, registry, pusher, sigstore):
    other = PrivateSigstore()
    image, _, _ = _image(pusher, registry, signer=other)
    r = _one(evaluate(engine, sources, pod(image), rule(sigstore, registry))[0])
    assert r.status == Status.FAIL and "certificate chain" in r.message


def test_tampered_payload_fails(engine, sources, registry, pusher, sigstore):
    image, _, _ = _image(pusher, registry, signer=sigstore, tamper=True)
    r = _one(evaluate(engine, sources, pod(image), rule(sigstore, registry))[0])
    assert r.status == Status.FAIL and "bundle verification failed" in r.message


def test_bundle_for_another_digest_fails(engine, sources, registry, pusher, sigstore):
    image, _, _ = _image(pusher, registry, signer=sigstore, bundle_for="sha256:" + "b" * 64)
    r = _one(evaluate(engine, sources, pod(image), rule(sigstore, registry))[0])
    assert r.status == Status.FAIL and "not about the image digest" in r.message


def test_wrong_rekor_key_fails(engine, sources, registry, pusher, sigstore):
    image, _, _ = _image(pusher, registry, signer=sigstore)
    bad = {"type": "SigstoreBundle", "attestors": [{"entries": [
        keyless(sigstore, rekor={"pubkey": PrivateSigstore().rekor.pubkey_pem})]}]}
    r = _one(evaluate(engine, sources, pod(image), bad)[0])
    assert r.status == Status.FAIL and "invalid log entry" in r.message


@pytest.mark.parametrize("over, why", [
    ({"rekor": {"ignoreTlog": True}}, "needs rekor.pubkey"),
    ({"ctlog": {"ignoreSCT": True}}, "needs ctlog.pubkey"),
    ({"roots": ""}, "needs keyless.roots"),
])
def test_what_cannot_be_verified_offline_is_an_error(engine, sources, registry, pusher, sigstore, over, why):
    image, _, _ = _image(pusher, registry, signer=sigstore)
    r = _one(evaluate(engine, sources, pod(image), {"type": "SigstoreBundle",
                                                    "attestors": [{"entries": [keyless(sigstore, **over)]}]})[0])
    assert r.status == Status.ERROR and why in r.message


def test_bundle_attestation_conditions(engine, sources, registry, pusher, sigstore):
    image, digest, r = _image(pusher, registry, signer=sigstore)
    predicate = {"buildDefinition": {"externalParameters": {"workflow": {"repository": "https://git.test/app"}}}}
    push_bundle(pusher, r, digest, sigstore.bundle(statement(digest, image, SLSA, predicate)), SLSA)

    def attested(want: str) -> dict:
        return rule(sigstore, registry, attestations=[{"type": SLSA, "attestors": [{"entries": [keyless(sigstore)]}],
                                                        "conditions": [{"all": [{
                                                            "key": "{{ buildDefinition.externalParameters.workflow.repository }}",
                                                            "operator": "Equals", "value": want}]}]}])

    ok = _one(evaluate(engine, sources, pod(image), attested("https://git.test/app"))[0])
    assert ok.status == Status.PASS, ok.message
    engine2 = type(engine)()
    bad = _one(evaluate(engine2, sources, pod(image), attested("https://git.test/other"))[0])
    assert bad.status == Status.FAIL and "attestation checks failed" in bad.message
    missing = _one(evaluate(type(engine)(), sources, pod(image), rule(
        sigstore, registry, attestations=[{"type": "https://example.test/none",
                                           "attestors": [{"entries": [keyless(sigstore)]}]}]))[0])
    assert missing.status == Status.FAIL and "attestations not found for predicate type" in missing.message


def test_sigstore_is_imported_lazily():
    code = ("import sys, verno.plugins.verifyimages, verno.plugins.verifyimages.rule; "
            "assert 'sigstore' not in sys.modules, 'sigstore imported eagerly'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
