"""verifyImages at admission: a real ``verno serve`` against the real registry fixture.

/mutate verifies and pins digests (JSON patch plus the ``kyverno.io/verify-images`` annotation) and
blocks failures under Enforce; /validate checks the recorded verdicts (``verifyDigest``, ``required``)
without reaching a registry.
"""
from __future__ import annotations

import base64
import copy
import json
import socket

import jsonpatch
import pytest
import yaml
from serverproc import VernoServer, admission_request
from vi_cosign import push_signatures, signature
from vi_pki import new_key, public_pem
from vi_policy import OFFLINE
from vi_regserver import free_port
from vi_sigstore import PrivateSigstore, push_bundle, statement

ANNOTATION = "kyverno.io/verify-images"


def _policy(name: str, refs: list[str], pem: str, *, action: str = "Enforce", failure: str = "Fail",
            **extra) -> dict:
    return {"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy", "metadata": {"name": name},
            "spec": {"validationFailureAction": action, "failurePolicy": failure, "emitWarning": True,
                     "webhookTimeoutSeconds": 10,
                     "rules": [{"name": "verify", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
                                "verifyImages": [{"imageReferences": refs, **extra, "attestors": [
                                    {"entries": [{"keys": {"publicKeys": pem, **OFFLINE}}]}]}]}]}}


def pod(*images: str, name: str = "web") -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
            "spec": {"containers": [{"name": f"c{i}", "image": im} for i, im in enumerate(images)]}}


@pytest.fixture(scope="module")
def blackhole():
    """A TCP port that accepts connections and never answers (a hung registry)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    yield f"127.0.0.1:{sock.getsockname()[1]}"
    sock.close()


@pytest.fixture(scope="module")
def world(tmp_path_factory, registry, pusher, blackhole):
    key = new_key()
    host = registry.host
    images = {}
    for name in ("enforce/signed", "enforce/unsigned", "audit/unsigned", "optional/app", "bundle/signed",
                 "bundle/unsigned"):
        digest = pusher.image(name, "v1")
        images[name] = (f"{host}/{name}:v1", digest)
    digest = images["enforce/signed"][1]
    push_signatures(pusher, "enforce/signed", digest, [signature(key, f"{host}/enforce/signed", digest)])
    pem = public_pem(key)
    sigstore = PrivateSigstore()
    bundled = images["bundle/signed"][1]
    push_bundle(pusher, "bundle/signed", bundled, sigstore.bundle(statement(bundled, f"{host}/bundle/signed")))
    bundle_policy = _policy("bundle-images", [f"{host}/bundle/*"], pem)
    bundle_policy["spec"]["rules"][0]["verifyImages"][0].update({"type": "SigstoreBundle", "attestors": [{"entries": [{
        "keyless": {"roots": sigstore.fulcio.chain_pem, "subject": "ci@example.com", "issuer": "https://token.test",
                    "rekor": {"pubkey": sigstore.rekor.pubkey_pem}, "ctlog": {"pubkey": sigstore.ctlog.pubkey_pem}}}]}]})
    dead = f"127.0.0.1:{free_port()}"
    work = tmp_path_factory.mktemp("serve-vi")
    policies = work / "policies"
    policies.mkdir()
    docs = [
        _policy("enforce-images", [f"{host}/enforce/*"], pem),
        _policy("audit-images", [f"{host}/audit/*"], pem, action="Audit"),
        _policy("optional-images", [f"{host}/optional/*"], pem, action="Audit", required=False, verifyDigest=False,
                mutateDigest=False),
        _policy("down-fail", [f"{dead}/fail/*"], pem),
        _policy("down-ignore", [f"{dead}/ignore/*"], pem, failure="Ignore"),
        _policy("hung-registry", [f"{blackhole}/*"], pem),
        bundle_policy,
    ]
    (policies / "policies.yaml").write_text(yaml.safe_dump_all(docs))
    srv = VernoServer(work, ["--policies", str(policies), "--timeout", "4", "--allow-insecure-registry",
                             "--allow-egress", "127.0.0.1"])
    try:
        srv.wait_ready()
        yield srv, images, dead, blackhole
    finally:
        srv.stop()


def _patched(response: dict, obj: dict) -> dict:
    assert response["patchType"] == "JSONPatch"
    return jsonpatch.apply_patch(copy.deepcopy(obj), json.loads(base64.b64decode(response["patch"])))


def test_signed_image_is_pinned_at_mutate_and_admitted_at_validate(world):
    srv, images, _, _ = world
    image, digest = images["enforce/signed"]
    obj = pod(image)
    mutate = srv.review("/mutate", admission_request(obj))
    assert mutate["allowed"] is True
    mutated = _patched(mutate, obj)
    assert mutated["spec"]["containers"][0]["image"] == f"{image}@{digest}"
    assert json.loads(mutated["metadata"]["annotations"][ANNOTATION]) == {image: "pass"}
    validate = srv.review("/validate", admission_request(mutated))
    assert validate == {"uid": validate["uid"], "allowed": True}
    again = srv.review("/mutate/fail", admission_request(mutated))  # reinvocation: nothing left to change
    assert again["allowed"] is True and "patch" not in again


def test_unsigned_image_is_denied_under_enforce(world):
    srv, images, _, _ = world
    image, _ = images["enforce/unsigned"]
    response = srv.review("/mutate", admission_request(pod(image)))
    assert response["allowed"] is False and response["status"]["code"] == 400
    message = response["status"]["message"]
    assert "resource Pod/default/web was blocked due to the following policies" in message
    assert "enforce-images:" in message and f"failed to verify image {image}" in message
    assert "no signatures found" in message


def test_unsigned_image_under_audit_is_allowed_with_a_warning(world):
    srv, images, _, _ = world
    image, _ = images["audit/unsigned"]
    obj = pod(image)
    response = srv.review("/mutate", admission_request(obj))
    assert response["allowed"] is True
    assert any(w.startswith("policy audit-images.verify: failed to verify image") for w in response["warnings"])
    mutated = _patched(response, obj)  # the failure is recorded, the image is not pinned
    assert mutated["spec"] == obj["spec"]
    assert json.loads(mutated["metadata"]["annotations"][ANNOTATION]) == {image: "fail"}


def test_validate_denies_an_unpinned_image_and_a_forged_or_missing_verdict(world):
    srv, images, _, _ = world
    image, digest = images["enforce/signed"]
    unpinned = srv.review("/validate", admission_request(pod(image)))
    assert unpinned["allowed"] is False
    assert f"missing digest for {image}" in unpinned["status"]["message"]
    pinned = pod(f"{image}@{digest}")
    unverified = srv.review("/validate", admission_request(pinned))
    assert unverified["allowed"] is False
    assert f"unverified image {images['enforce/signed'][0].rsplit(':', 1)[0]}@{digest}" in \
        unverified["status"]["message"]
    assert "no verification recorded" in unverified["status"]["message"]
    failed = copy.deepcopy(pinned)
    failed["metadata"]["annotations"] = {ANNOTATION: json.dumps({image: "fail"})}
    response = srv.review("/validate", admission_request(failed))
    assert response["allowed"] is False and "verification recorded as fail" in response["status"]["message"]


def test_required_false_and_verify_digest_false_admit_at_validate(world):
    srv, images, _, _ = world
    image, _ = images["optional/app"]
    response = srv.review("/validate", admission_request(pod(image)))
    assert response == {"uid": response["uid"], "allowed": True}


def test_unreachable_registry_follows_failure_policy(world):
    srv, _, dead, _ = world
    fail = srv.review("/mutate", admission_request(pod(f"{dead}/fail/app:v1")))
    assert fail["allowed"] is False
    assert "verno could not evaluate this rule (failurePolicy Fail)" in fail["status"]["message"]
    assert f"registry {dead}" in fail["status"]["message"]
    ignore = srv.review("/mutate", admission_request(pod(f"{dead}/ignore/app:v1")))
    assert ignore["allowed"] is True
    assert any("allowed by failurePolicy Ignore" in w and dead in w for w in ignore["warnings"])


def test_a_hung_registry_is_answered_within_the_request_timeout(world):
    """Registry calls time out below --timeout (4 s here): the rule errors and failurePolicy Fail denies."""
    srv, _, _, blackhole = world
    response = srv.review("/mutate", admission_request(pod(f"{blackhole}/app:v1")))
    assert response["allowed"] is False
    assert f"could not reach registry {blackhole}" in response["status"]["message"]
    assert srv.client.get("/health/liveness").status_code == 200


def test_sigstore_bundle_at_admission(world):
    """type: SigstoreBundle through the webhook: a bundled image is pinned; one without a bundle is denied."""
    srv, images, _, _ = world
    image, digest = images["bundle/signed"]
    obj = pod(image)
    mutate = srv.review("/mutate", admission_request(obj))
    assert mutate["allowed"] is True, mutate
    mutated = _patched(mutate, obj)
    assert mutated["spec"]["containers"][0]["image"] == f"{image}@{digest}"
    assert srv.review("/validate", admission_request(mutated))["allowed"] is True
    unsigned, _ = images["bundle/unsigned"]
    denied = srv.review("/mutate", admission_request(pod(unsigned)))
    assert denied["allowed"] is False and "no Sigstore bundles found" in denied["status"]["message"]


def test_a_forged_pass_verdict_is_overwritten_when_verification_errs(world):
    """failurePolicy Ignore lets /mutate admit when the registry is down, but the verdict recorded is
    ``fail`` (not the requester's ``pass``), so /validate's ``required`` check still denies the image."""
    srv, _, dead, _ = world
    image = f"{dead}/ignore/app@sha256:{'c' * 64}"
    obj = pod(image)
    obj["metadata"]["annotations"] = {ANNOTATION: json.dumps({image: "pass"})}
    mutate = srv.review("/mutate", admission_request(obj))
    assert mutate["allowed"] is True and any("allowed by failurePolicy Ignore" in w for w in mutate["warnings"])
    mutated = _patched(mutate, obj)
    assert json.loads(mutated["metadata"]["annotations"][ANNOTATION]) == {image: "fail"}
    validate = srv.review("/validate", admission_request(mutated))
    assert validate["allowed"] is False
    assert f"unverified image {image} (verification recorded as fail" in validate["status"]["message"]
