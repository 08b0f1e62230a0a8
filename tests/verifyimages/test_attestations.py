"""``.att`` DSSE attestations: type filter, envelope verification, conditions over the predicate."""
from __future__ import annotations

from vi_cosign import attestation, push_attestations, push_signatures, signature, statement
from vi_pki import new_key, public_pem, sign
from vi_policy import evaluate, keys, pod, repo

from verno.core.engine import Engine
from verno.core.hookspecs import hookimpl
from verno.core.results import Status

SLSA = "https://slsa.dev/provenance/v1"
BUILDER = "https://github.com/org/repo/.github/workflows/build.yml@refs/heads/main"


def _image(registry, pusher, key, predicate_type=SLSA, builder=BUILDER, sign_image=True):
    r = repo()
    digest = pusher.image(r, "v1")
    name = f"{registry.host}/{r}"
    if sign_image:
        push_signatures(pusher, r, digest, [signature(key, name, digest)])
    if predicate_type:
        stmt = statement(name, digest, predicate_type, {"runDetails": {"builder": {"id": builder}}})
        push_attestations(pusher, r, digest, [attestation(key, stmt)])
    return f"{name}:v1"


def _spec(key, conditions=None, type_=SLSA):
    att = {"type": type_, "attestors": [{"entries": [keys(public_pem(key))]}]}
    if conditions is not None:
        att["conditions"] = conditions
    return {"attestors": [{"entries": [keys(public_pem(key))]}], "attestations": [att]}


COND = [{"all": [{"key": "{{ runDetails.builder.id }}", "operator": "Equals", "value": BUILDER}]}]


def _run(engine, sources, image, spec):
    rules, _ = evaluate(engine, sources, pod(image), spec)
    assert len(rules) == 1
    return rules[0]


def test_attestation_condition_passes(engine, sources, registry, pusher):
    key = new_key()
    assert _run(engine, sources, _image(registry, pusher, key), _spec(key, COND)).status == Status.PASS


def test_failing_condition_fails(engine, sources, registry, pusher):
    key = new_key()
    image = _image(registry, pusher, key, builder="https://evil.test/builder")
    rule = _run(engine, sources, image, _spec(key, COND))
    assert rule.status == Status.FAIL and "attestation checks failed" in rule.message and SLSA in rule.message


def test_missing_attestation_fails(engine, sources, registry, pusher):
    key = new_key()
    rule = _run(engine, sources, _image(registry, pusher, key, predicate_type=""), _spec(key, COND))
    assert rule.status == Status.FAIL and "no attestations found" in rule.message
    other = _image(registry, pusher, key, predicate_type="https://spdx.dev/Document")
    rule = _run(engine, sources, other, _spec(key, COND))
    assert rule.status == Status.FAIL and f"attestations not found for predicate type {SLSA}" in rule.message


def test_attestation_by_another_key_fails(engine, sources, registry, pusher):
    key = new_key()
    image = _image(registry, pusher, key)
    spec = _spec(key, COND)
    spec["attestations"][0]["attestors"] = [{"entries": [keys(public_pem(new_key()))]}]
    rule = _run(engine, sources, image, spec)
    assert rule.status == Status.FAIL and "invalid signature on the attestation envelope" in rule.message


def test_other_payload_type_is_rejected(engine, sources, registry, pusher):
    key = new_key()
    r = repo()
    digest = pusher.image(r, "v1")
    stmt = statement(f"{registry.host}/{r}", digest, SLSA, {})
    push_attestations(pusher, r, digest, [attestation(key, stmt, payload_type="text/plain")])
    spec = _spec(key)
    spec["attestors"] = []
    rule = _run(engine, sources, f"{registry.host}/{r}:v1", spec)
    assert rule.status == Status.FAIL and "unsupported DSSE payloadType" in rule.message
    assert sign  # the helper signs PAE bytes exactly as cosign does


class RejectingChecker:
    @hookimpl
    def verno_register_predicate_checkers(self, register):
        register("https://slsa.dev/*", lambda st, att, rc: (
            st["predicate"]["runDetails"]["builder"]["id"].startswith("https://github.com/org/"), "foreign builder"))


def test_predicate_checker_plugin(sources, registry, pusher):
    engine = Engine([RejectingChecker()])
    key = new_key()
    assert _run(engine, sources, _image(registry, pusher, key), _spec(key)).status == Status.PASS
    rule = _run(engine, sources, _image(registry, pusher, key, builder="https://x.test/b"), _spec(key))
    assert rule.status == Status.FAIL and "foreign builder" in rule.message
