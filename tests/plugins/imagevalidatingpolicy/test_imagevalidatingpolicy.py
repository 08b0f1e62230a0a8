"""ImageValidatingPolicy: the images a resource names, their selection and digests, validations over them, and
verification functions that never pass what they did not verify."""
from __future__ import annotations

from importlib.metadata import entry_points

import pytest
import yaml

import verno.plugins.imagevalidatingpolicy as ivpol
from verno.core.engine import Engine
from verno.core.errors import LoadError
from verno.core.loading import Document
from verno.core.policykinds import KindInputs
from verno.core.request import Request
from verno.core.results import Status
from verno.core.sources import Sources
from verno.plugins.imagevalidatingpolicy.policy import default_images


@pytest.fixture(scope="module")
def engine() -> Engine:
    if any(ep.name == "imagevalidatingpolicy" for ep in entry_points(group="verno")):
        return Engine()
    return Engine([("imagevalidatingpolicy", ivpol)])


def policy_doc(*validations, verify_digest=None, references=({"glob": "ghcr.io/*"},), required=False, **spec):
    """A policy over Pods; ``required`` off unless asked for (these tests check validations, not verification)."""
    body = {"matchConstraints": {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"],
                                                    "resources": ["pods"], "operations": ["CREATE"]}]},
            "matchImageReferences": list(references),
            "attestors": [{"name": "key", "cosign": {"key": {"data": "-----BEGIN PUBLIC KEY-----"}}}],
            "attestations": [{"name": "sbom", "referrer": {"type": "sbom/cyclone-dx"}}],
            "validations": [{"expression": e, "message": f"check {i}"} for i, e in enumerate(validations)], **spec}
    body["validationConfigurations"] = {"required": required}
    if verify_digest is not None:
        body["validationConfigurations"]["verifyDigest"] = verify_digest
    return {"apiVersion": "policies.kyverno.io/v1", "kind": "ImageValidatingPolicy", "metadata": {"name": "images"},
            "spec": body}


def load(engine, doc):
    return ivpol.load(Document("policy.yaml", 0, doc), engine)


def pod(*images, init=(), name="p"):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
            "spec": {"containers": [{"name": f"c{i}", "image": im} for i, im in enumerate(images)],
                     "initContainers": [{"name": f"i{i}", "image": im} for i, im in enumerate(init)]}}


def run(engine, policy, obj, exceptions=()):
    companions = {"policies.kyverno.io/PolicyException": [yaml.safe_load(e) for e in exceptions]} if exceptions else {}
    out = engine.evaluate_kinds([policy], Request(obj, None, "CREATE"), KindInputs(Sources(), companions, engine=engine))
    if not out:
        return None
    [rule] = out[0].rules
    return rule.status, rule.message


DIGEST = "@sha256:" + "a" * 64


def test_default_images_by_kind():
    deployment = {"spec": {"template": {"spec": {"containers": [{"image": "a"}], "initContainers": [{"image": "b"}]}}}}
    assert default_images("deployments", deployment) == {"containers": ["a"], "initContainers": ["b"],
                                                         "ephemeralContainers": []}
    cronjob = {"spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"image": "c"}]}}}}}}
    assert default_images("cronjobs", cronjob)["containers"] == ["c"]
    assert default_images("configmaps", {}) == {}


def test_validations_see_the_selected_images(engine):
    policy = load(engine, policy_doc("images.containers.all(i, i.startsWith('ghcr.io/org/'))",
                                     "size(images.initContainers) == 0", verify_digest=False))
    assert run(engine, policy, pod("ghcr.io/org/app:1", "docker.io/nginx:1")) == (Status.PASS, "success")
    assert run(engine, policy, pod("ghcr.io/other/app:1")) == (Status.FAIL, "check 0")
    assert run(engine, policy, pod("ghcr.io/org/app:1", init=["ghcr.io/org/init:1"])) == (Status.FAIL, "check 1")
    assert run(engine, policy, pod("ghcr.io/org/app:1", init=["busybox"]))[0] is Status.PASS  # not selected


def test_verify_digest_is_on_by_default(engine):
    policy = load(engine, policy_doc("true"))
    assert run(engine, policy, pod("ghcr.io/org/app:1")) == (Status.FAIL, "image ghcr.io/org/app:1 does not have a digest")
    assert run(engine, policy, pod("ghcr.io/org/app" + DIGEST))[0] is Status.PASS
    assert run(engine, policy, pod("docker.io/nginx:1"))[0] is Status.PASS  # outside matchImageReferences


def test_reference_expressions(engine):
    policy = load(engine, policy_doc("size(images.containers) == 1", verify_digest=False,
                                     references=[{"expression": "ref.endsWith(':signed')"}]))
    assert run(engine, policy, pod("x:signed", "y:other"))[0] is Status.PASS


def test_verification_never_passes_what_it_did_not_verify(engine):
    check = "images.containers.map(i, verifyImageSignatures(i, [attestors.key])).all(n, n > 0)"
    policy = load(engine, policy_doc(check, verify_digest=False))
    status, message = run(engine, policy, pod("ghcr.io/org/app:1"))
    # without registry access, a selected image is an error (never a pass, never 0)
    assert status is Status.ERROR and "needs registry access" in message
    # an image outside matchImageReferences verifies with 0 attestors (and is not in `images`)
    zero = load(engine, policy_doc("verifyImageSignatures('docker.io/nginx:1', [attestors.key]) == 0",
                                   verify_digest=False))
    assert run(engine, zero, pod("ghcr.io/org/app:1"))[0] is Status.PASS
    unknown = load(engine, policy_doc("verifyAttestationSignatures('ghcr.io/x:1', 'nope', [attestors.key]) > 0",
                                      verify_digest=False))
    assert "unknown attestation 'nope'" in run(engine, unknown, pod("ghcr.io/org/app:1"))[1]


EXCEPTION = """
apiVersion: policies.kyverno.io/v1
kind: PolicyException
metadata: {name: skip-p}
spec:
  policyRefs: [{name: images, kind: ImageValidatingPolicy}]
  matchConditions: [{name: p, expression: "object.metadata.name == 'skipped'"}]
"""


def test_an_exception_skips(engine):
    policy = load(engine, policy_doc("false", verify_digest=False))
    assert run(engine, policy, pod("ghcr.io/a:1", name="skipped"), [EXCEPTION])[0] is Status.SKIP
    assert run(engine, policy, pod("ghcr.io/a:1"), [EXCEPTION])[0] is Status.FAIL


def test_match_conditions_and_unselected_resources_give_no_response(engine):
    policy = load(engine, policy_doc("false", matchConditions=[{"name": "prod", "expression": "object.metadata.name == 'prod'"}]))
    assert run(engine, policy, pod("ghcr.io/a:1")) is None
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "default"}}
    assert run(engine, policy, config) is None


@pytest.mark.parametrize("change, field", [
    ({"attestors": []}, "spec.attestors"),
    ({"matchImageReferences": [{"glob": "a", "expression": "true"}]}, "spec.matchImageReferences"),
    ({"matchImageReferences": [{"expression": "ref +"}]}, "spec.matchImageReferences[0].expression"),
    ({"images": [{"name": "x", "expression": "object.spec +"}]}, "spec.images[0].expression"),
    ({"attestors": [{"name": "a"}]}, "spec.attestors"),
])
def test_load_errors_name_the_field(engine, change, field):
    doc = policy_doc("true")
    doc["spec"].update(change)
    with pytest.raises(LoadError, match=field.replace("[", r"\[").replace("]", r"\]")):
        load(engine, doc)


def test_required_fails_a_passing_policy_for_an_image_no_policy_checked(engine):
    """``required`` (on by default): a policy whose validations pass without any signature check still fails
    for each selected image nobody verified; an image outside matchImageReferences is not concerned."""
    doc = policy_doc("true", verify_digest=False)
    del doc["spec"]["validationConfigurations"]["required"]
    policy = load(engine, doc)
    assert run(engine, policy, pod("ghcr.io/org/app:1")) == (
        Status.FAIL, "image ghcr.io/org/app:1 is not verified: no policy performed a signature or attestation check on it")
    assert run(engine, policy, pod("docker.io/nginx:1")) == (Status.PASS, "success")
    doc["spec"]["validationConfigurations"]["required"] = False
    assert run(engine, load(engine, doc), pod("ghcr.io/org/app:1")) == (Status.PASS, "success")
