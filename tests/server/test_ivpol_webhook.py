"""ImageValidatingPolicy at admission: a real ``verno serve`` against the real registry fixture.

/mutate verifies and, when the policy passes, pins each selected tag to its digest
(``validationConfigurations.mutateDigest``, default true; Pod controllers through autogen); /validate then
checks the pinned object (``verifyDigest``) and denies what does not verify.
"""
from __future__ import annotations

import base64
import copy
import json

import jsonpatch
import pytest
import yaml
from serverproc import VernoServer, admission_request
from vi_cosign import push_signatures, signature
from vi_pki import new_key, public_pem

PODS = {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"],
                           "operations": ["CREATE", "UPDATE"]}]}


def _policy(name: str, glob: str, pem: str, **config) -> dict:
    return {"apiVersion": "policies.kyverno.io/v1", "kind": "ImageValidatingPolicy", "metadata": {"name": name},
            "spec": {"matchConstraints": PODS, "validationActions": ["Deny"],
                     "matchImageReferences": [{"glob": glob}],
                     "attestors": [{"name": "key", "cosign": {"key": {"data": pem}, "ctlog": {
                         "insecureIgnoreTlog": True, "insecureIgnoreSCT": True}}}],
                     **({"validationConfigurations": config} if config else {}),
                     "validations": [{"expression": "images.containers.all(i, verifyImageSignatures(i, "
                                                    "[attestors.key]) > 0)", "message": "unsigned image"}]}}


def pod(image: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "default"},
            "spec": {"containers": [{"name": "app", "image": image}]}}


def deployment(image: str) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"},
            "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {
                "metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "app", "image": image}]}}}}


@pytest.fixture(scope="module")
def world(tmp_path_factory, registry, pusher):
    key = new_key()
    host = registry.host
    images = {}
    for name in ("pin/signed", "pin/unsigned", "keep/signed"):
        digest = pusher.image(name, "v1")
        images[name] = (f"{host}/{name}:v1", digest)
    for name in ("pin/signed", "keep/signed"):
        digest = images[name][1]
        push_signatures(pusher, name, digest, [signature(key, f"{host}/{name}", digest)])
    pem = public_pem(key)
    work = tmp_path_factory.mktemp("serve-ivpol")
    policies = work / "policies"
    policies.mkdir()
    docs = [_policy("pin-images", f"{host}/pin/*", pem), _policy("keep-tags", f"{host}/keep/*", pem, mutateDigest=False)]
    (policies / "policies.yaml").write_text(yaml.safe_dump_all(docs))
    srv = VernoServer(work, ["--policies", str(policies), "--timeout", "8", "--allow-insecure-registry",
                             "--allow-egress", "127.0.0.1"])
    try:
        srv.wait_ready()
        yield srv, images
    finally:
        srv.stop()


def _patched(response: dict, obj: dict) -> dict:
    assert response["patchType"] == "JSONPatch"
    return jsonpatch.apply_patch(copy.deepcopy(obj), json.loads(base64.b64decode(response["patch"])))


def test_a_verified_tag_is_pinned_at_mutate_and_admitted_at_validate(world):
    srv, images = world
    image, digest = images["pin/signed"]
    obj = pod(image)
    mutate = srv.review("/mutate", admission_request(obj))
    assert mutate["allowed"] is True
    mutated = _patched(mutate, obj)
    assert mutated["spec"]["containers"][0]["image"] == f"{image}@{digest}"
    assert mutated["metadata"] == obj["metadata"]
    assert srv.review("/validate", admission_request(mutated))["allowed"] is True
    # the unpinned tag is denied at /validate (verifyDigest)
    denied = srv.review("/validate", admission_request(obj))
    assert denied["allowed"] is False and f"image {image} does not have a digest" in denied["status"]["message"]


def test_a_controller_template_is_pinned(world):
    srv, images = world
    image, digest = images["pin/signed"]
    obj = deployment(image)
    mutated = _patched(srv.review("/mutate", admission_request(obj)), obj)
    assert mutated["spec"]["template"]["spec"]["containers"][0]["image"] == f"{image}@{digest}"


def test_an_image_that_does_not_verify_is_not_pinned_and_denied_at_validate(world):
    srv, images = world
    image, digest = images["pin/unsigned"]
    obj = pod(image)
    mutate = srv.review("/mutate", admission_request(obj))
    assert mutate["allowed"] is True and "patch" not in mutate
    pinned = pod(f"{image}@{digest}")
    denied = srv.review("/validate", admission_request(pinned))
    assert denied["allowed"] is False and "unsigned image" in denied["status"]["message"]


def test_mutate_digest_false_leaves_the_tag(world):
    srv, images = world
    image, _ = images["keep/signed"]
    mutate = srv.review("/mutate", admission_request(pod(image)))
    assert mutate["allowed"] is True and "patch" not in mutate
