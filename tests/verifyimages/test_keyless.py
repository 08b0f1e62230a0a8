"""Keyless (Fulcio-like certificates from a private CA) and certificates attestors."""
from __future__ import annotations

import datetime as dt

import pytest

from vi_cosign import push_signatures, signature
from vi_pki import WORKFLOW_TRIGGER, CTLog, FulcioCA, Rekor, cert_pem, now
from vi_policy import OFFLINE, evaluate, pod, repo

from verno.core.results import Status

EMAIL = "ci@example.test"
ISSUER = "https://token.test"


@pytest.fixture(scope="module")
def ca() -> FulcioCA:
    return FulcioCA()


@pytest.fixture(scope="module")
def ctlog() -> CTLog:
    return CTLog()


def _push(registry, pusher, ca, *, rekor=None, **leaf):
    r = repo()
    digest = pusher.image(r, "v1")
    key, cert = ca.leaf(**leaf)
    sig = signature(key, f"{registry.host}/{r}", digest, cert=cert_pem(cert), chain=ca.chain_pem, rekor=rekor)
    push_signatures(pusher, r, digest, [sig])
    return f"{registry.host}/{r}:v1"


def _keyless(ca, **kw):
    return {"attestors": [{"entries": [{"keyless": {"roots": ca.roots_pem, "subject": EMAIL, "issuer": ISSUER,
                                                    **OFFLINE, **kw}}]}]}


def _run(engine, sources, image, spec):
    rules, _ = evaluate(engine, sources, pod(image), spec)
    assert len(rules) == 1
    return rules[0]


def test_keyless_signed_passes(engine, sources, registry, pusher, ca):
    image = _push(registry, pusher, ca, email=EMAIL)
    assert _run(engine, sources, image, _keyless(ca)).status == Status.PASS
    assert _run(engine, sources, image, _keyless(ca, subject="*@example.test")).status == Status.PASS
    spec = _keyless(ca, subject="", subjectRegExp=r"ci@.*\.test", issuer="", issuerRegExp=r"https://token\..*")
    assert _run(engine, sources, image, spec).status == Status.PASS


def test_wrong_subject_fails(engine, sources, registry, pusher, ca):
    image = _push(registry, pusher, ca, email="mallory@example.test")
    rule = _run(engine, sources, image, _keyless(ca))
    assert rule.status == Status.FAIL and "subject mismatch" in rule.message and "mallory@example.test" in rule.message


def test_wrong_issuer_fails(engine, sources, registry, pusher, ca):
    image = _push(registry, pusher, ca, email=EMAIL, issuer="https://evil.test")
    rule = _run(engine, sources, image, _keyless(ca))
    assert rule.status == Status.FAIL and "issuer mismatch" in rule.message and "https://evil.test" in rule.message


def test_untrusted_root_fails(engine, sources, registry, pusher, ca):
    image = _push(registry, pusher, FulcioCA(), email=EMAIL)
    rule = _run(engine, sources, image, _keyless(ca))
    assert rule.status == Status.FAIL and "certificate chain is not trusted" in rule.message


def test_expired_certificate_without_tlog_fails(engine, sources, registry, pusher, ca):
    image = _push(registry, pusher, ca, email=EMAIL, not_before=now() - dt.timedelta(hours=2))
    rule = _run(engine, sources, image, _keyless(ca))
    assert rule.status == Status.FAIL and "certificate expired at" in rule.message


def test_expired_certificate_with_tlog_entry_in_its_lifetime_passes(engine, sources, registry, pusher, ca):
    rekor = Rekor()
    start = now() - dt.timedelta(hours=2)

    class Clocked(Rekor):
        def bundle(self, sig, payload, pem, integrated_time=None):
            return rekor.bundle(sig, payload, pem, int((start + dt.timedelta(minutes=1)).timestamp()))

    image = _push(registry, pusher, ca, email=EMAIL, not_before=start, rekor=Clocked(rekor.key))
    spec = _keyless(ca, rekor={"pubkey": rekor.pubkey_pem})
    assert _run(engine, sources, image, spec).status == Status.PASS


def test_sct_verified_against_ctlog_pubkey(engine, sources, registry, pusher, ca, ctlog):
    image = _push(registry, pusher, ca, email=EMAIL, ctlog=ctlog)
    spec = _keyless(ca, ctlog={"pubkey": ctlog.pubkey_pem})
    assert _run(engine, sources, image, spec).status == Status.PASS
    rule = _run(engine, sources, image, _keyless(ca, ctlog={"pubkey": CTLog().pubkey_pem}))
    assert rule.status == Status.FAIL and "no embedded SCT from the CT log" in rule.message
    plain = _push(registry, pusher, ca, email=EMAIL)
    rule = _run(engine, sources, plain, spec)
    assert rule.status == Status.FAIL and "no embedded SCT" in rule.message


def test_missing_ctlog_key_is_a_clear_error(engine, sources, registry, pusher, ca):
    image = _push(registry, pusher, ca, email=EMAIL)
    rule = _run(engine, sources, image, _keyless(ca, ctlog={}))
    assert rule.status == Status.ERROR and "needs the public CT log key" in rule.message


def test_additional_extensions(engine, sources, registry, pusher, ca):
    image = _push(registry, pusher, ca, email=EMAIL, extra={WORKFLOW_TRIGGER: "push"})
    ok = _keyless(ca, additionalExtensions={"githubWorkflowTrigger": "push"})
    assert _run(engine, sources, image, ok).status == Status.PASS
    rule = _run(engine, sources, image, _keyless(ca, additionalExtensions={"githubWorkflowTrigger": "release"}))
    assert rule.status == Status.FAIL and "githubWorkflowTrigger" in rule.message


def test_certificates_attestor_with_chain(engine, sources, registry, pusher, ca):
    image = _push(registry, pusher, ca, email=EMAIL)
    spec = {"attestors": [{"entries": [{"certificates": {"certChain": ca.chain_pem, **OFFLINE}}]}]}
    assert _run(engine, sources, image, spec).status == Status.PASS
    other = FulcioCA()
    spec = {"attestors": [{"entries": [{"certificates": {"certChain": other.chain_pem, **OFFLINE}}]}]}
    rule = _run(engine, sources, image, spec)
    assert rule.status == Status.FAIL and "not trusted" in rule.message
