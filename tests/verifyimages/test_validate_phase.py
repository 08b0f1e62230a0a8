"""The validate-phase check (``Sources.webhook = "validate"``, as /validate uses): verifyDigest and ``required``
from the ``kyverno.io/verify-images`` annotation, with no registry access at all."""
from __future__ import annotations

import json

import pytest
from vi_policy import keys, pod, policy

from verno.core.request import Request
from verno.core.results import Status
from verno.core.sources import Sources
from verno.plugins.verifyimages.verdicts import recorded_verdicts

KEY = """-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE8nXRh950IZbRj8Ra/N9sbqOPZrfM
5/KAQN0/KjHcorm/J5yQtWIIhTE3jaKmtMqrYlavXkhVvqavrhrfkbkd+Q==
-----END PUBLIC KEY-----"""
DIGEST = "sha256:" + "a" * 64
IMAGE = "registry.example/team/app:v1"


def _annotated(resource: dict, verdicts: dict[str, str]) -> dict:
    resource["metadata"]["annotations"] = {"kyverno.io/verify-images": json.dumps(verdicts)}
    return resource


def _run(engine, resource, **entry):
    sources = Sources(webhook="validate")  # no registry: any network use would error
    verify = {"imageReferences": ["registry.example/*"], "attestors": [{"entries": [keys(KEY)]}], **entry}
    out = engine.evaluate([engine.prepare(policy(verify))], Request(resource), sources=sources,
                          phases=("verifyImages",))[0]
    return [(r.status, r.message) for r in out.rules]


def test_pinned_and_recorded_pass(engine):
    resource = _annotated(pod(f"{IMAGE}@{DIGEST}"), {IMAGE: "pass"})
    assert _run(engine, resource) == [(Status.PASS, f"image registry.example/team/app@{DIGEST} verified")]


def test_skip_verdict_counts_as_verified(engine):
    resource = _annotated(pod(f"{IMAGE}@{DIGEST}"), {IMAGE: "skip"})
    assert _run(engine, resource)[0][0] == Status.PASS


def test_missing_digest_fails_first(engine):
    resource = _annotated(pod(IMAGE), {IMAGE: "pass"})
    assert _run(engine, resource) == [(Status.FAIL, f"missing digest for {IMAGE}")]


@pytest.mark.parametrize("verdicts, why", [
    ({}, "no verification recorded"),
    ({IMAGE: "fail"}, "verification recorded as fail"),
    ({"registry.example/team/other:v1": "pass"}, "no verification recorded"),
])
def test_required_needs_a_pass_or_skip_for_each_image(engine, verdicts, why):
    resource = _annotated(pod(f"{IMAGE}@{DIGEST}"), verdicts)
    [(status, message)] = _run(engine, resource)
    assert status == Status.FAIL and message.startswith("unverified image registry.example/team/app@") and why in message


def test_required_false_and_verify_digest_false(engine):
    assert _run(engine, pod(IMAGE), required=False, verifyDigest=False) == [
        (Status.PASS, f"image {IMAGE} verified")]


def test_images_out_of_scope_and_skipped(engine):
    assert _run(engine, pod("other.example/app:v1"))[0][0] == Status.SKIP
    rules = _run(engine, pod(IMAGE), skipImageReferences=["registry.example/team/*"])
    assert rules == [(Status.SKIP, f"image {IMAGE} skipped (skipImageReferences)")]


def test_recorded_verdicts_tolerates_bad_annotations():
    assert recorded_verdicts({"metadata": {}}) is None
    assert recorded_verdicts({"metadata": {"annotations": {"kyverno.io/verify-images": "not json"}}}) is None
    assert recorded_verdicts({"metadata": {"annotations": {"kyverno.io/verify-images": "[1]"}}}) is None
