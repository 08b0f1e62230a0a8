"""Key-based cosign signatures against a real registry: passes, each kind of failure, digest pinning."""
from __future__ import annotations

import json

from vi_cosign import Signature, push_signatures, sig_tag, signature
from vi_pki import Rekor, new_key, public_pem
from vi_policy import evaluate, keys, pod, repo
from vi_regserver import allow_loopback, free_port

from verno.core.results import Status
from verno.core.sources import Sources
from verno.registry import Registries


def _signed(registry, pusher, key=None, **kw):
    r = repo()
    digest = pusher.image(r, "v1")
    key = key or new_key()
    push_signatures(pusher, r, digest, [signature(key, f"{registry.host}/{r}", digest, **kw)])
    return f"{registry.host}/{r}", digest, key


def _one(rules):
    assert len(rules) == 1, rules
    return rules[0]


def test_signed_image_passes_and_is_pinned_to_its_digest(engine, sources, registry, pusher):
    image, digest, key = _signed(registry, pusher)
    rules, resp = evaluate(engine, sources, pod(f"{image}:v1"),
                           {"imageReferences": [f"{registry.host}/*"], "attestors": [{"entries": [keys(public_pem(key))]}]})
    r = _one(rules)
    assert r.status == Status.PASS and r.message == f"verified image signatures for {image}:v1"
    patched = resp.patched_resource
    assert patched["spec"]["containers"][0]["image"] == f"{image}:v1@{digest}"
    assert json.loads(patched["metadata"]["annotations"]["kyverno.io/verify-images"]) == {f"{image}:v1": "pass"}


def test_unsigned_image_fails(engine, sources, registry, pusher):
    r = repo()
    pusher.image(r, "v1")
    rule = _one(evaluate(engine, sources, pod(f"{registry.host}/{r}:v1"),
                         {"attestors": [{"entries": [keys(public_pem(new_key()))]}]})[0])
    assert rule.status == Status.FAIL and "no signatures found" in rule.message


def test_wrong_key_fails(engine, sources, registry, pusher):
    image, _, _ = _signed(registry, pusher)
    rule = _one(evaluate(engine, sources, pod(f"{image}:v1"),
                         {"attestors": [{"entries": [keys(public_pem(new_key()))]}]})[0])
    assert rule.status == Status.FAIL and "invalid signature" in rule.message


def test_tampered_payload_fails(engine, sources, registry, pusher):
    r = repo()
    digest = pusher.image(r, "v1")
    key = new_key()
    good = signature(key, f"{registry.host}/{r}", digest)
    tampered = Signature(good.payload.replace(b'"optional":null', b'"optional":{"evil":"1"}'), good.signature)
    push_signatures(pusher, r, digest, [tampered])
    rule = _one(evaluate(engine, sources, pod(f"{registry.host}/{r}:v1"),
                         {"attestors": [{"entries": [keys(public_pem(key))]}]})[0])
    assert rule.status == Status.FAIL and "invalid signature" in rule.message


def test_signature_copied_from_another_digest_fails(engine, sources, registry, pusher):
    r = repo()
    signed = pusher.image(r, "v1", seed="a")
    other = pusher.image(r, "v2", seed="b")
    key = new_key()
    push_signatures(pusher, r, other, [signature(key, f"{registry.host}/{r}", signed)])
    rule = _one(evaluate(engine, sources, pod(f"{registry.host}/{r}:v2"),
                         {"attestors": [{"entries": [keys(public_pem(key))]}]})[0])
    assert rule.status == Status.FAIL and f"signature is for digest {signed}" in rule.message


def test_required_annotations(engine, sources, registry, pusher):
    image, _, key = _signed(registry, pusher, optional={"env": "prod"})
    ok = {"attestors": [{"entries": [{**keys(public_pem(key)), "annotations": {"env": "prod"}}]}]}
    assert _one(evaluate(engine, sources, pod(f"{image}:v1"), ok)[0]).status == Status.PASS
    bad = {"attestors": [{"entries": [{**keys(public_pem(key)), "annotations": {"env": "dev"}}]}]}
    rule = _one(evaluate(engine, sources, pod(f"{image}:v1"), bad)[0])
    assert rule.status == Status.FAIL and "annotation env='dev' missing" in rule.message


def test_count_m_of_n(engine, sources, registry, pusher):
    image, _, key = _signed(registry, pusher)
    pems = public_pem(key) + public_pem(new_key())
    one = {"attestors": [{"count": 1, "entries": [keys(pems)]}]}
    assert _one(evaluate(engine, sources, pod(f"{image}:v1"), one)[0]).status == Status.PASS
    rule = _one(evaluate(engine, sources, pod(f"{image}:v1"), {"attestors": [{"count": 2, "entries": [keys(pems)]}]})[0])
    assert rule.status == Status.FAIL and "count not met: 1 of 2 attestors verified, 2 required" in rule.message
    rule = _one(evaluate(engine, sources, pod(f"{image}:v1"), {"attestors": [{"entries": [keys(pems)]}]})[0])
    assert rule.status == Status.FAIL and ".attestors[0].entries[0].keys[1]" in rule.message


def test_nested_attestor(engine, sources, registry, pusher):
    image, _, key = _signed(registry, pusher)
    nested = {"attestor": {"count": 1, "entries": [keys(public_pem(new_key())), keys(public_pem(key))]}}
    rule = _one(evaluate(engine, sources, pod(f"{image}:v1"), {"attestors": [{"entries": [nested]}]})[0])
    assert rule.status == Status.PASS


def test_public_rekor_needed_is_a_fast_clear_error(engine, sources, registry, pusher):
    image, _, key = _signed(registry, pusher)
    rule = _one(evaluate(engine, sources, pod(f"{image}:v1"),
                         {"attestors": [{"entries": [{"keys": {"publicKeys": public_pem(key)}}]}]})[0])
    assert rule.status == Status.ERROR and "needs the public Rekor (https://rekor.sigstore.dev)" in rule.message


def test_rekor_bundle_verified_against_rekor_pubkey(engine, sources, registry, pusher):
    rekor = Rekor()
    key = new_key()
    image, _, _ = _signed(registry, pusher, key=key, rekor=rekor, verifier_pem=public_pem(key))
    entry = {"keys": {"publicKeys": public_pem(key), "rekor": {"pubkey": rekor.pubkey_pem}}}
    assert _one(evaluate(engine, sources, pod(f"{image}:v1"), {"attestors": [{"entries": [entry]}]})[0]).status \
        == Status.PASS
    entry = {"keys": {"publicKeys": public_pem(key), "rekor": {"pubkey": Rekor().pubkey_pem}}}
    rule = _one(evaluate(engine, sources, pod(f"{image}:v1"), {"attestors": [{"entries": [entry]}]})[0])
    assert rule.status == Status.FAIL and "SET does not verify against rekor.pubkey" in rule.message


def test_tlog_required_but_no_bundle(engine, sources, registry, pusher):
    image, _, key = _signed(registry, pusher)
    entry = {"keys": {"publicKeys": public_pem(key), "rekor": {"pubkey": Rekor().pubkey_pem}}}
    rule = _one(evaluate(engine, sources, pod(f"{image}:v1"), {"attestors": [{"entries": [entry]}]})[0])
    assert rule.status == Status.FAIL and "no transparency log bundle" in rule.message


def test_registry_down_is_an_error_naming_image_and_registry(engine):
    host = f"127.0.0.1:{free_port()}"
    src = Sources(registry_access=True, registry_client=Registries(credentials={}, allow_insecure=True, timeout=2,
                                                                   egress=allow_loopback()))
    rule = _one(evaluate(engine, src, pod(f"{host}/demo/app:v1"),
                         {"attestors": [{"entries": [keys(public_pem(new_key()))]}]})[0])
    assert rule.status == Status.ERROR
    assert f"failed to verify image {host}/demo/app:v1" in rule.message and f"registry {host}" in rule.message


def test_without_registry_access_the_error_says_how_to_enable_it(engine, registry):
    rule = _one(evaluate(engine, Sources(), pod(f"{registry.host}/demo/app:v1"),
                         {"attestors": [{"entries": [keys(public_pem(new_key()))]}]})[0])
    assert rule.status == Status.ERROR and "needs registry access" in rule.message


def test_verify_digest_without_mutate_digest(engine, sources, registry, pusher):
    image, digest, key = _signed(registry, pusher)
    spec = {"mutateDigest": False, "attestors": [{"entries": [keys(public_pem(key))]}]}
    rule = _one(evaluate(engine, sources, pod(f"{image}:v1"), spec)[0])
    assert rule.status == Status.FAIL and rule.message == f"missing digest for {image}:v1"
    rules, resp = evaluate(engine, sources, pod(f"{image}@{digest}"), spec)
    assert _one(rules).status == Status.PASS
    assert resp.patched_resource["spec"]["containers"][0]["image"] == f"{image}@{digest}"


def test_image_references_and_skip(engine, sources, registry, pusher):
    image, _, key = _signed(registry, pusher)
    spec = {"imageReferences": ["ghcr.io/*"], "attestors": [{"entries": [keys(public_pem(key))]}]}
    rule = _one(evaluate(engine, sources, pod(f"{image}:v1"), spec)[0])
    assert rule.status == Status.SKIP and "not found in imageRefs 'ghcr.io/*'" in rule.message
    spec = {"imageReferences": ["*"], "skipImageReferences": [f"{image}:*"],
            "attestors": [{"entries": [keys(public_pem(new_key()))]}]}
    rule = _one(evaluate(engine, sources, pod(f"{image}:v1"), spec)[0])
    assert rule.status == Status.SKIP and "skipImageReferences" in rule.message


def test_every_container_kind_is_verified(engine, sources, registry, pusher):
    image, digest, key = _signed(registry, pusher)
    r = repo()
    pusher.image(r, "v1")
    rules, _ = evaluate(engine, sources, pod(f"{image}:v1", init=(f"{registry.host}/{r}:v1",)),
                        {"attestors": [{"entries": [keys(public_pem(key))]}]})
    assert sorted(x.status.value for x in rules) == ["fail", "pass"]
    assert any(f"{registry.host}/{r}:v1" in x.message and "no signatures found" in x.message for x in rules)


def test_cache_serves_passes_and_failures_and_use_cache_false_rechecks(engine, sources, registry, pusher):
    image, digest, key = _signed(registry, pusher)
    r = image.split("/", 1)[1]
    spec = {"attestors": [{"entries": [keys(public_pem(key))]}]}
    assert _one(evaluate(engine, sources, pod(f"{image}:v1"), spec)[0]).status == Status.PASS
    push_signatures(pusher, r, digest, [signature(new_key(), image, digest)])  # now signed by another key
    assert _one(evaluate(engine, sources, pod(f"{image}:v1"), spec)[0]).status == Status.PASS  # cached
    rule = _one(evaluate(engine, sources, pod(f"{image}:v1"), {**spec, "useCache": False})[0])
    assert rule.status == Status.FAIL and "invalid signature" in rule.message
    assert sig_tag(digest).endswith(".sig")
