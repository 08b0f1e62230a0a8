"""verify_image / verify_referrer against the real local docker-registry (no referrers API there, so
every signature is found through the referrers tag schema)."""
from __future__ import annotations

import json
from datetime import timedelta
from itertools import count

import pytest
from cryptography import x509

from notary_signer import NOW, describe, pem, pki, push_artifact, push_signature
from verno.core.notary import NotaryError, verify_image, verify_referrer

_n = count()


@pytest.fixture(scope="module")
def signer():
    return pki("ec256")


def image(pusher, registry, name: str = "notary/app"):
    """A fresh image; its reference (by tag), descriptor and repository."""
    tag = f"v{next(_n)}"
    pusher.image(name, tag, seed=tag)
    return f"{registry.host}/{name}:{tag}", describe(pusher, name, tag), name


@pytest.mark.parametrize("kind", ["ec256", "ec384", "ec521", "rsa2048", "rsa3072"])
def test_valid_signature_verifies(registries, registry, pusher, kind):
    s = pki(kind, intermediate=kind == "rsa2048")
    ref, desc, repo = image(pusher, registry)
    push_signature(pusher, repo, desc, s.envelope(desc))
    result = verify_image(registries, ref, pem(s.root))
    assert result.verified == 1 and result.ok and result.message == ""
    ok = result.outcomes[0]
    assert ok.signer == "CN=signer,O=verno tests" and ok.signing_scheme == "notary.x509"
    assert ok.target["digest"] == desc["digest"] and result.digest == desc["digest"]


def test_verified_by_digest_reference_and_intermediate_trust(registries, registry, pusher):
    s = pki("ec256", intermediate=True)
    ref, desc, repo = image(pusher, registry)
    push_signature(pusher, repo, desc, s.envelope(desc))
    by_digest = f"{registry.host}/{repo}@{desc['digest']}"
    # notation trusts a chain that contains a trusted certificate: the intermediate will do
    assert verify_image(registries, by_digest, pem(s.chain[1])).verified == 1


def test_wrong_cert_fails(registries, registry, pusher, signer):
    ref, desc, repo = image(pusher, registry)
    push_signature(pusher, repo, desc, signer.envelope(desc))
    other = pki("ec256")
    result = verify_image(registries, ref, pem(other.root))
    assert result.verified == 0
    assert "signature is not produced by a trusted signer" in result.message
    assert "signature verification failed for all the signatures associated with" in result.message


def test_tampered_payload_fails(registries, registry, pusher, signer):
    ref, desc, repo = image(pusher, registry)
    env = json.loads(signer.envelope(desc))
    other = dict(desc, size=desc["size"] + 1)
    env["payload"] = json.loads(signer.envelope(other))["payload"]  # payload swapped, signature kept
    push_signature(pusher, repo, desc, json.dumps(env).encode())
    result = verify_image(registries, ref, pem(signer.root))
    assert result.verified == 0 and "signature is invalid" in result.outcomes[0].error


def test_digest_mismatch_fails(registries, registry, pusher, signer):
    ref, desc, repo = image(pusher, registry)
    _, other, _ = image(pusher, registry)
    # a valid signature of another image, attached to this one
    push_signature(pusher, repo, desc, signer.envelope(other))
    result = verify_image(registries, ref, pem(signer.root))
    assert result.verified == 0
    assert "content descriptor mismatch" in result.outcomes[0].error
    assert other["digest"] in result.outcomes[0].error


def test_expired_signature_fails(registries, registry, pusher, signer):
    ref, desc, repo = image(pusher, registry)
    push_signature(pusher, repo, desc, signer.envelope(desc, expiry=NOW - timedelta(minutes=5)))
    result = verify_image(registries, ref, pem(signer.root))
    assert result.verified == 0 and "digital signature has expired on" in result.outcomes[0].error
    # not yet expired: verifies
    assert verify_image(registries, ref, pem(signer.root), now=NOW - timedelta(hours=1)).verified == 1


def test_expired_certificate_fails(registries, registry, pusher):
    s = pki("ec256", not_before=NOW - timedelta(days=10), not_after=NOW - timedelta(days=1))
    ref, desc, repo = image(pusher, registry)
    push_signature(pusher, repo, desc, s.envelope(desc, signing_time=NOW - timedelta(days=2)))
    result = verify_image(registries, ref, pem(s.root))
    assert "verification time is after certificate 'CN=signer,O=verno tests' validity period" in result.message


def test_signing_authority_checks_the_authentic_signing_time(registries, registry, pusher):
    s = pki("ec256", not_before=NOW - timedelta(days=10), not_after=NOW - timedelta(days=1))
    ref, desc, repo = image(pusher, registry)
    # signed while the certificate was valid, by a signing authority: still verifies after it expired
    push_signature(pusher, repo, desc, s.envelope(desc, scheme="notary.x509.signingAuthority",
                                                  signing_time=NOW - timedelta(days=2)))
    result = verify_image(registries, ref, pem(s.root))
    assert result.verified == 1 and result.outcomes[0].signing_scheme == "notary.x509.signingAuthority"
    ref2, desc2, _ = image(pusher, registry)
    push_signature(pusher, repo, desc2, s.envelope(desc2, scheme="notary.x509.signingAuthority"))
    result = verify_image(registries, ref2, pem(s.root))
    assert "was not valid" not in result.message and "the authentic signing time" in result.message


def test_unsupported_critical_header_fails(registries, registry, pusher, signer):
    ref, desc, repo = image(pusher, registry)
    crit = ["io.cncf.notary.signingScheme", "com.example.mustUnderstand"]
    push_signature(pusher, repo, desc, signer.envelope(desc, protected={"com.example.mustUnderstand": "x"},
                                                       crit=crit))
    result = verify_image(registries, ref, pem(signer.root))
    assert result.verified == 0
    assert "critical header 'com.example.mustUnderstand' is not understood" in result.outcomes[0].error


def test_plugin_critical_header_fails(registries, registry, pusher, signer):
    ref, desc, repo = image(pusher, registry)
    crit = ["io.cncf.notary.signingScheme", "io.cncf.notary.verificationPlugin"]
    push_signature(pusher, repo, desc, signer.envelope(
        desc, protected={"io.cncf.notary.verificationPlugin": "com.example.plugin"}, crit=crit))
    result = verify_image(registries, ref, pem(signer.root))
    assert "requires the verification plugin 'com.example.plugin'" in result.outcomes[0].error


def test_expiry_not_marked_critical_fails(registries, registry, pusher, signer):
    ref, desc, repo = image(pusher, registry)
    push_signature(pusher, repo, desc, signer.envelope(desc, expiry=NOW + timedelta(days=1),
                                                       crit=["io.cncf.notary.signingScheme"]))
    result = verify_image(registries, ref, pem(signer.root))
    assert "not marked as critical: ['io.cncf.notary.expiry']" in result.outcomes[0].error


@pytest.mark.parametrize("media_type, expected", [
    ("application/cose", "'application/cose' is not supported by verno"),
    ("application/x-unknown", "media type 'application/x-unknown' is not supported"),
])
def test_unknown_envelope_media_type_fails(registries, registry, pusher, signer, media_type, expected):
    ref, desc, repo = image(pusher, registry)
    push_signature(pusher, repo, desc, signer.envelope(desc), media_type=media_type)
    result = verify_image(registries, ref, pem(signer.root))
    assert result.verified == 0 and expected in result.outcomes[0].error


def test_no_signature(registries, registry, pusher, signer):
    ref, desc, repo = image(pusher, registry)
    result = verify_image(registries, ref, pem(signer.root))
    assert result.verified == 0 and result.outcomes == ()
    assert result.message == (f"no signature is associated with '{ref}@{desc['digest']}', make sure the "
                              f"artifact was signed successfully")


def test_signature_not_listed_in_the_referrers_tag_is_not_found(registries, registry, pusher, signer):
    ref, desc, repo = image(pusher, registry)
    push_signature(pusher, repo, desc, signer.envelope(desc), index=False)
    assert verify_image(registries, ref, pem(signer.root)).outcomes == ()


def test_first_good_signature_wins_after_bad_ones(registries, registry, pusher, signer):
    ref, desc, repo = image(pusher, registry)
    push_signature(pusher, repo, desc, pki("ec256").envelope(desc))  # untrusted signer
    push_signature(pusher, repo, desc, signer.envelope(desc))
    result = verify_image(registries, ref, pem(signer.root))
    assert result.verified == 1 and [o.verified for o in result.outcomes] == [False, True]


def test_signature_attempts_are_bounded(registries, registry, pusher, signer):
    ref, desc, repo = image(pusher, registry)
    untrusted = pki("ec256")
    for _ in range(11):
        push_signature(pusher, repo, desc, untrusted.envelope(desc))
    push_signature(pusher, repo, desc, signer.envelope(desc))  # the 12th: never examined
    result = verify_image(registries, ref, pem(signer.root))
    assert result.verified == 0 and len(result.outcomes) == 10 and result.truncated
    assert "the limit of 10 signatures" in result.message


def test_leaf_without_code_signing_eku_fails(registries, registry, pusher):
    s = pki("ec256", eku=[x509.oid.ExtendedKeyUsageOID.SERVER_AUTH])
    ref, desc, repo = image(pusher, registry)
    push_signature(pusher, repo, desc, s.envelope(desc))
    result = verify_image(registries, ref, pem(s.root))
    assert "the extended key usage must not contain serverAuth" in result.message


def test_leaf_with_cert_sign_usage_fails(registries, registry, pusher):
    s = pki("ec256", key_usage={"key_cert_sign": True})
    ref, desc, repo = image(pusher, registry)
    push_signature(pusher, repo, desc, s.envelope(desc))
    assert '"KeyCertSign" or "CRLSign"' in verify_image(registries, ref, pem(s.root)).message


def test_algorithm_substitution_fails(registries, registry, pusher):
    s = pki("rsa2048")
    ref, desc, repo = image(pusher, registry)
    push_signature(pusher, repo, desc, s.envelope(desc, alg="PS384"))
    assert "does not match the signing key, which calls for 'PS256'" in verify_image(
        registries, ref, pem(s.root)).message


def test_crl_endpoint_is_refused_as_unknown_revocation(registries, registry, pusher):
    crl = x509.CRLDistributionPoints([x509.DistributionPoint(
        [x509.UniformResourceIdentifier("http://crl.example/ca.crl")], None, None, None)])
    s = pki("ec256", extensions=[(crl, False)])
    ref, desc, repo = image(pusher, registry)
    push_signature(pusher, repo, desc, s.envelope(desc))
    assert "revocation checking is not supported by verno" in verify_image(registries, ref, pem(s.root)).message


def test_invalid_certs_pem_is_an_error(registries, registry, pusher):
    ref, _, _ = image(pusher, registry)
    with pytest.raises(NotaryError, match="notary certs: not valid PEM certificates"):
        verify_image(registries, ref, "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")


def test_empty_certs_verify_nothing(registries, registry, pusher, signer):
    ref, desc, repo = image(pusher, registry)
    push_signature(pusher, repo, desc, signer.envelope(desc))
    result = verify_image(registries, ref, "")
    assert result.verified == 0 and "no trusted certificates are found" in result.message


def test_referrer_attestation_returns_its_payload(registries, registry, pusher, signer):
    ref, desc, repo = image(pusher, registry)
    sbom_type = "application/vnd.example.sbom.v1+json"
    sbom = {"bomFormat": "CycloneDX", "components": [{"name": "openssl"}]}
    att = push_artifact(pusher, repo, desc, sbom_type, "application/json", json.dumps(sbom).encode())
    att_desc = {k: att[k] for k in ("mediaType", "digest", "size")}
    push_signature(pusher, repo, att_desc, signer.envelope(att_desc))
    # an unsigned referrer of the same type is not returned
    push_artifact(pusher, repo, desc, sbom_type, "application/json", b'{"unsigned": true}')
    result = verify_referrer(registries, ref, sbom_type, pem(signer.root))
    assert result.payloads == [sbom] and result.message == ""
    assert [v.digest for v in result.verified] == [att["digest"]]
    assert len(result.failures) == 1 and "no signature is associated" in result.failures[0][1]
    # the image's own notary signatures are not the attestation's
    assert verify_image(registries, ref, pem(signer.root)).verified == 0


def test_referrer_attestation_not_found_or_untrusted(registries, registry, pusher, signer):
    ref, desc, repo = image(pusher, registry)
    none = verify_referrer(registries, ref, "application/vnd.example.sbom.v1+json", pem(signer.root))
    assert none.payloads == [] and none.message == ("attestation verification failed, no attestations found "
                                                    "for type: application/vnd.example.sbom.v1+json")
    att = push_artifact(pusher, repo, desc, "application/vnd.example.vuln", "application/json", b"{}")
    att_desc = {k: att[k] for k in ("mediaType", "digest", "size")}
    push_signature(pusher, repo, att_desc, pki("ec256").envelope(att_desc))
    bad = verify_referrer(registries, ref, "application/vnd.example.vuln", pem(signer.root))
    assert bad.payloads == [] and "signature is not produced by a trusted signer" in bad.message


def test_referrer_payload_that_is_not_json_fails(registries, registry, pusher, signer):
    ref, desc, repo = image(pusher, registry)
    att = push_artifact(pusher, repo, desc, "application/vnd.example.text", "text/plain", b"not json")
    att_desc = {k: att[k] for k in ("mediaType", "digest", "size")}
    push_signature(pusher, repo, att_desc, signer.envelope(att_desc))
    result = verify_referrer(registries, ref, "application/vnd.example.text", pem(signer.root))
    assert result.payloads == []
    assert "failed to unmarshal json for attestation application/vnd.example.text" in result.message


def test_too_many_referrers_is_an_error(registries, registry, pusher, signer):
    ref, desc, repo = image(pusher, registry)
    tag = desc["digest"].replace(":", "-", 1)
    entries = [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": desc["digest"], "size": 1,
                "artifactType": "application/x-other"}] * 51
    pusher.manifest(repo, tag, {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                                "manifests": entries}, "application/vnd.oci.image.index.v1+json")
    with pytest.raises(NotaryError, match="too many referrers found \\(51\\), max limit is 50"):
        verify_image(registries, ref, pem(signer.root))
