"""ImageValidatingPolicy signature checks against a real registry on loopback: cosign keys, keyless identities,
in-toto attestations read with extractPayload, referrer payloads, errors and the verification cache."""
from __future__ import annotations

import json

import pytest
from ivpol_helpers import IGNORE_LOGS, key_attestor, pod, policy_doc, run
from vi_cosign import attestation, push_attestations, push_signatures, sig_tag, signature, statement
from vi_pki import FulcioCA, cert_pem, new_key, public_pem
from vi_policy import repo
from vi_regserver import allow_loopback, free_port

from verno.core.engine import Engine
from verno.core.results import Status
from verno.core.sources import Sources
from verno.registry import Registries

SIGNED = "images.containers.all(i, verifyImageSignatures(i, [attestors.key]) > 0)"
COUNT = "images.containers.all(i, verifyImageSignatures(i, [attestors.key]) == {n})"


@pytest.fixture
def engine() -> Engine:
    """A fresh engine per test: its verification cache starts empty."""
    return Engine()


@pytest.fixture(scope="module")
def sources(registry) -> Sources:
    egress = allow_loopback()
    return Sources(registry_access=True, registry_client=Registries(credentials={}, allow_insecure=True, egress=egress),
                   egress=egress)


@pytest.fixture(scope="module")
def key():
    return new_key()


def signed_image(registry, pusher, key, tag="v1"):
    r = repo()
    digest = pusher.image(r, tag)
    push_signatures(pusher, r, digest, [signature(key, f"{registry.host}/{r}", digest)])
    return r, digest, f"{registry.host}/{r}@{digest}"


def test_a_key_attestor_counts_a_signature_it_verifies(engine, sources, registry, pusher, key):
    _, _, image = signed_image(registry, pusher, key)
    assert run(engine, sources, policy_doc([SIGNED], [key_attestor("key", public_pem(key))]), pod(image)) == \
        (Status.PASS, "success")
    other = public_pem(new_key())
    assert run(engine, sources, policy_doc([SIGNED], [key_attestor("key", other)]), pod(image)) == \
        (Status.FAIL, "check 0")
    # the count is the number of attestors that verified
    two = policy_doc(["verifyImageSignatures(images.containers[0], [attestors.a, attestors.b]) == 1"],
                     [key_attestor("a", public_pem(key)), key_attestor("b", other)])
    assert run(engine, sources, two, pod(image))[0] is Status.PASS


def test_an_unsigned_image_verifies_with_zero_attestors(engine, sources, registry, pusher, key):
    r = repo()
    digest = pusher.image(r, "v1")
    image = f"{registry.host}/{r}@{digest}"
    doc = policy_doc([COUNT.format(n=0)], [key_attestor("key", public_pem(key))],
                     validationConfigurations={"required": False})
    assert run(engine, sources, doc, pod(image))[0] is Status.PASS
    # with `required` (the default) the validation passing does not make an unverified image pass
    del doc["spec"]["validationConfigurations"]
    assert run(engine, sources, doc, pod(image)) == (
        Status.FAIL, f"image {image} failed signature or attestation verification")


def test_the_key_may_be_a_cel_expression(engine, sources, registry, pusher, key):
    _, _, image = signed_image(registry, pusher, key)
    attestor = {"name": "key", "cosign": {"key": {"expression": "variables.pem"}, "ctlog": IGNORE_LOGS}}
    doc = policy_doc([SIGNED], [attestor], variables=[{"name": "pem", "expression": json.dumps(public_pem(key))}])
    assert run(engine, sources, doc, pod(image)) == (Status.PASS, "success")
    doc["spec"]["variables"][0]["expression"] = json.dumps(public_pem(new_key()))
    assert run(engine, sources, doc, pod(image))[0] is Status.FAIL


def test_annotations_must_be_in_the_signed_payload(engine, sources, registry, pusher, key):
    r = repo()
    digest = pusher.image(r, "v1")
    push_signatures(pusher, r, digest, [signature(key, f"{registry.host}/{r}", digest, optional={"team": "a"})])
    image = f"{registry.host}/{r}@{digest}"
    good = key_attestor("key", public_pem(key), annotations={"team": "a"})
    assert run(engine, sources, policy_doc([SIGNED], [good]), pod(image))[0] is Status.PASS
    bad = key_attestor("key", public_pem(key), annotations={"team": "b"})
    assert run(engine, sources, policy_doc([SIGNED], [bad]), pod(image))[0] is Status.FAIL


def test_signatures_in_another_repository_with_a_tag_prefix(engine, sources, registry, pusher, key):
    r, store = repo(), repo()
    digest = pusher.image(r, "v1")
    pusher.artifact(store, "pre-" + sig_tag(digest), [signature(key, f"{registry.host}/{r}", digest).layer()])
    image = f"{registry.host}/{r}@{digest}"
    source = {"repository": f"{registry.host}/{store}", "tagPrefix": "pre-"}
    doc = policy_doc([SIGNED], [key_attestor("key", public_pem(key), source=source)])
    assert run(engine, sources, doc, pod(image))[0] is Status.PASS
    doc = policy_doc([SIGNED], [key_attestor("key", public_pem(key), source={"repository": source["repository"]})])
    assert run(engine, sources, doc, pod(image))[0] is Status.FAIL


@pytest.fixture(scope="module")
def ca() -> FulcioCA:
    return FulcioCA()


def keyless_image(registry, pusher, ca, email):
    r = repo()
    digest = pusher.image(r, "v1")
    leaf_key, cert = ca.leaf(email=email, issuer="https://token.test")
    push_signatures(pusher, r, digest, [signature(leaf_key, f"{registry.host}/{r}", digest, cert=cert_pem(cert),
                                                  chain=ca.chain_pem)])
    return f"{registry.host}/{r}@{digest}"


def keyless(ca, *identities):
    return {"name": "key", "cosign": {"keyless": {"identities": list(identities), "roots": ca.roots_pem},
                                      "ctlog": IGNORE_LOGS}}


def test_keyless_identities(engine, sources, registry, pusher, ca):
    image = keyless_image(registry, pusher, ca, "ci@example.test")
    match = {"subject": "ci@example.test", "issuer": "https://token.test"}
    regexp = {"subjectRegExp": r".*@example\.test", "issuerRegExp": r"https://token\..*"}
    mismatch = {"subject": "mallory@example.test", "issuer": "https://token.test"}
    assert run(engine, sources, policy_doc([SIGNED], [keyless(ca, match)]), pod(image))[0] is Status.PASS
    assert run(engine, sources, policy_doc([SIGNED], [keyless(ca, regexp)]), pod(image))[0] is Status.PASS
    assert run(engine, sources, policy_doc([SIGNED], [keyless(ca, mismatch)]), pod(image))[0] is Status.FAIL
    # one identity of the list is enough
    assert run(engine, sources, policy_doc([SIGNED], [keyless(ca, mismatch, match)]), pod(image))[0] is Status.PASS
    # a certificate from another CA does not verify
    assert run(engine, sources, policy_doc([SIGNED], [keyless(FulcioCA(), match)]), pod(image))[0] is Status.FAIL


PROVENANCE = "https://slsa.dev/provenance/v1"


def attested_image(registry, pusher, key, predicate):
    r = repo()
    digest = pusher.image(r, "v1")
    stmt = statement(f"{registry.host}/{r}", digest, PROVENANCE, predicate)
    push_attestations(pusher, r, digest, [attestation(key, stmt)])
    return f"{registry.host}/{r}@{digest}"


def test_an_intoto_predicate_is_read_with_extract_payload(engine, sources, registry, pusher, key):
    image = attested_image(registry, pusher, key, {"builder": {"id": "https://ci.example/trusted"}})
    attestations = [{"name": "slsa", "intoto": {"type": PROVENANCE}}]
    check = ("images.containers.all(i, verifyAttestationSignatures(i, attestations.slsa, [attestors.key]) > 0 && "
             "extractPayload(i, attestations.slsa).builder.id == '{id}')")
    ok = policy_doc([check.format(id="https://ci.example/trusted")], [key_attestor("key", public_pem(key))],
                    attestations)
    assert run(engine, sources, ok, pod(image)) == (Status.PASS, "success")
    wrong = policy_doc([check.format(id="https://elsewhere")], [key_attestor("key", public_pem(key))], attestations)
    assert run(engine, sources, wrong, pod(image)) == (Status.FAIL, "check 0")
    # another predicate type is not found: 0 attestors
    other = policy_doc(["verifyAttestationSignatures(images.containers[0], attestations.sbom, [attestors.key]) == 0"],
                       [key_attestor("key", public_pem(key))], [{"name": "sbom", "intoto": {"type": "cyclonedx"}}],
                       validationConfigurations={"required": False})
    assert run(engine, sources, other, pod(image))[0] is Status.PASS


def test_extract_payload_needs_a_verified_attestation(engine, sources, registry, pusher, key):
    image = attested_image(registry, pusher, key, {"builder": {"id": "x"}})
    doc = policy_doc(["extractPayload(images.containers[0], attestations.slsa).builder.id == 'x'"],
                     [key_attestor("key", public_pem(key))], [{"name": "slsa", "intoto": {"type": PROVENANCE}}])
    status, message = run(engine, sources, doc, pod(image))
    assert status is Status.ERROR and "cannot be fetched before verifying" in message
    # a signer that did not verify leaves no payload either
    doc["spec"]["validations"][0]["expression"] = (
        "verifyAttestationSignatures(images.containers[0], attestations.slsa, [attestors.other]) == 0 && "
        "extractPayload(images.containers[0], attestations.slsa).builder.id == 'x'")
    doc["spec"]["attestors"].append(key_attestor("other", public_pem(new_key())))
    assert run(engine, sources, doc, pod(image))[0] is Status.ERROR


def test_a_referrer_payload(engine, sources, registry, pusher, key):
    from vi_sigstore import OCI_EMPTY, OCI_INDEX, OCI_MANIFEST
    from vi_cosign import sha

    r = repo()
    digest = pusher.image(r, "v1")
    size = int(pusher.http.head(f"/v2/{r}/manifests/{digest}", headers={"Accept": OCI_MANIFEST}).headers["content-length"])
    sbom = pusher.blob(r, json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.5"}).encode())
    empty = pusher.blob(r, b"{}")
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": "application/vnd.cyclonedx+json",
                "config": {"mediaType": OCI_EMPTY, **empty},
                "layers": [{"mediaType": "application/vnd.cyclonedx+json", **sbom}],
                "subject": {"mediaType": OCI_MANIFEST, "digest": digest, "size": size}}
    raw = json.dumps(manifest, separators=(",", ":")).encode()
    ref = pusher.manifest(r, sha(raw), manifest)
    pusher.manifest(r, digest.replace(":", "-", 1), {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": ref, "size": len(raw),
         "artifactType": "application/vnd.cyclonedx+json"}]}, OCI_INDEX)
    attestations = [{"name": "sbom", "referrer": {"type": "application/vnd.cyclonedx+json"}},
                    {"name": "spdx", "referrer": {"type": "application/spdx+json"}}]
    doc = policy_doc(["extractPayload(images.containers[0], attestations.sbom).bomFormat == 'CycloneDX'",
                      # a cosign attestor verifies intoto attestations only
                      "verifyAttestationSignatures(images.containers[0], attestations.sbom, [attestors.key]) == 0"],
                     [key_attestor("key", public_pem(key))], attestations, validationConfigurations={"required": False})
    image = f"{registry.host}/{r}@{digest}"
    assert run(engine, sources, doc, pod(image)) == (Status.PASS, "success")
    doc["spec"]["validations"] = [{"expression": "extractPayload(images.containers[0], attestations.spdx) != null"}]
    status, message = run(engine, sources, doc, pod(image))
    assert status is Status.ERROR and "artifact of type application/spdx+json not found" in message


def test_an_unreachable_registry_is_an_error_naming_the_image(engine, key):
    egress = allow_loopback()
    offline = Sources(registry_access=True, registry_client=Registries(credentials={}, allow_insecure=True,
                                                                      egress=egress, timeout=2), egress=egress)
    image = f"127.0.0.1:{free_port()}/t/app:v1"
    status, message = run(engine, offline, policy_doc([SIGNED], [key_attestor("key", public_pem(key))],
                                                      validationConfigurations={"verifyDigest": False}), pod(image))
    assert status is Status.ERROR and "failed to get imagedata" in message and "t/app" in message


def test_attestors_verno_cannot_use_are_errors_naming_them(engine, sources, registry, pusher, key):
    _, _, image = signed_image(registry, pusher, key)
    kms = {"name": "key", "cosign": {"key": {"kms": "awskms:///alias/x"}, "ctlog": IGNORE_LOGS}}
    status, message = run(engine, sources, policy_doc([SIGNED], [kms]), pod(image))
    assert status is Status.ERROR and "attestor key: cosign.key.kms" in message
    online = {"name": "key", "cosign": {"key": {"data": public_pem(key)}}}
    status, message = run(engine, sources, policy_doc([SIGNED], [online]), pod(image))
    assert status is Status.ERROR and "public Rekor" in message
    notary = {"name": "key", "notary": {"certs": {"value": "-----BEGIN CERTIFICATE-----"}}}
    status, message = run(engine, sources, policy_doc([SIGNED], [notary]), pod(image))
    assert status is Status.ERROR and "notary attestor key:" in message
    status, message = run(engine, sources, policy_doc(["verifyImageSignatures(images.containers[0], ['nope']) > 0"],
                                                      [key_attestor("key", public_pem(key))]), pod(image))
    assert status is Status.ERROR and "attestor not found in policy: nope" in message


def test_outcomes_are_cached_across_requests(engine, sources, registry, pusher, key):
    r, digest, image = signed_image(registry, pusher, key)
    doc = policy_doc([SIGNED], [key_attestor("key", public_pem(key))])
    assert run(engine, sources, doc, pod(image))[0] is Status.PASS
    # the signature is deleted: the engine's cache still holds the outcome, a new engine does not
    sig = pusher.http.head(f"/v2/{r}/manifests/{sig_tag(digest)}",
                           headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
    assert pusher.http.delete(f"/v2/{r}/manifests/{sig.headers['docker-content-digest']}").status_code == 202
    assert run(engine, sources, doc, pod(image))[0] is Status.PASS
    assert run(Engine(), sources, doc, pod(image))[0] is Status.FAIL


def test_credentials_secrets_need_a_cluster(engine, sources, registry, pusher, key):
    _, _, image = signed_image(registry, pusher, key)
    doc = policy_doc([SIGNED], [key_attestor("key", public_pem(key))], credentials={"secrets": ["regcred"]})
    status, message = run(engine, sources, doc, pod(image))
    assert status is Status.ERROR and "credentials.secrets: Secret regcred needs cluster access" in message


def test_required_takes_evidence_from_any_policy_of_the_request(engine, sources, registry, pusher, key):
    """Kyverno's catch-all model: a policy that checks no signature passes `required` when another policy of
    the same request verified the image, whichever runs first; alone, it fails."""
    from ivpol_helpers import load
    from verno.core.policykinds import KindInputs
    from verno.core.request import Request

    _, _, image = signed_image(registry, pusher, key)
    catch_all = policy_doc(["true"], [key_attestor("key", public_pem(key))])
    catch_all["metadata"]["name"] = "a-catch-all"
    verifier = policy_doc([SIGNED], [key_attestor("key", public_pem(key))])
    policies = [load(engine, catch_all), load(engine, verifier)]

    def results(chosen):
        out = engine.evaluate_kinds(chosen, Request(pod(image), None, "CREATE"), KindInputs(sources, {}, engine=engine))
        return [(r.policy.name, r.rules[0].status, r.rules[0].message) for r in out]

    assert results(policies) == [("a-catch-all", Status.PASS, "success"), ("signed", Status.PASS, "success")]
    assert results(policies[:1]) == [("a-catch-all", Status.FAIL, f"image {image} is not verified: no policy "
                                                                   "performed a signature or attestation check on it")]
