"""``verno test`` end to end: a kyverno-test.yaml with isImageValidatingPolicy rows against the real registry
fixture (a signed image passes, an unsigned one fails, an in-toto predicate is checked); offline (no
``--registry``) the verifying rows error, never pass."""
from __future__ import annotations

from pathlib import Path

import yaml
from click.testing import CliRunner
from vi_cosign import attestation, push_attestations, push_signatures, signature, statement
from vi_pki import new_key, public_pem
from vi_policy import repo

from verno.cli.main import cli

PROVENANCE = "https://slsa.dev/provenance/v1"


def _run(*args: object) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_a_test_suite_of_image_validating_policies(tmp_path: Path, registry, pusher):
    key = new_key()
    host = registry.host
    signed, unsigned, built = repo(), repo(), repo()
    digests = {r: pusher.image(r, "v1") for r in (signed, unsigned, built)}
    push_signatures(pusher, signed, digests[signed], [signature(key, f"{host}/{signed}", digests[signed])])
    push_attestations(pusher, built, digests[built], [attestation(key, statement(
        f"{host}/{built}", digests[built], PROVENANCE, {"builder": {"id": "https://ci.example/trusted"}}))])
    attestor = {"name": "key", "cosign": {"key": {"data": public_pem(key)},
                                          "ctlog": {"insecureIgnoreTlog": True, "insecureIgnoreSCT": True}}}
    pods = {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"],
                               "operations": ["CREATE"]}]}
    signatures = {"apiVersion": "policies.kyverno.io/v1", "kind": "ImageValidatingPolicy",
                  "metadata": {"name": "signed-images"},
                  "spec": {"matchConstraints": pods, "matchImageReferences": [{"glob": f"{host}/*"}],
                           "attestors": [attestor], "matchConditions": [{"name": "not-built", "expression":
                                                                         "object.metadata.name != 'built'"}],
                           "validations": [{"expression": "images.containers.all(i, verifyImageSignatures(i, "
                                                          "[attestors.key]) > 0)", "message": "unsigned"}]}}
    provenance = {"apiVersion": "policies.kyverno.io/v1", "kind": "ImageValidatingPolicy",
                  "metadata": {"name": "trusted-builder"},
                  "spec": {"matchConstraints": pods, "matchImageReferences": [{"glob": f"{host}/*"}],
                           "matchConditions": [{"name": "built", "expression": "object.metadata.name == 'built'"}],
                           "attestors": [attestor], "attestations": [{"name": "slsa", "intoto": {"type": PROVENANCE}}],
                           "validations": [{"expression": (
                               "images.containers.all(i, verifyAttestationSignatures(i, attestations.slsa, "
                               "[attestors.key]) > 0 && extractPayload(i, attestations.slsa).builder.id == "
                               "'https://ci.example/trusted')"), "message": "untrusted builder"}]}}
    (tmp_path / "policies.yaml").write_text(yaml.safe_dump_all([signatures, provenance]))

    def pod(name: str, r: str) -> dict:
        return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
                "spec": {"containers": [{"name": "app", "image": f"{host}/{r}@{digests[r]}"}]}}

    (tmp_path / "pods.yaml").write_text(yaml.safe_dump_all([pod("good", signed), pod("bad", unsigned),
                                                           pod("built", built)]))
    results = [{"policy": "signed-images", "resources": ["good"], "result": "pass"},
               {"policy": "signed-images", "resources": ["bad"], "result": "fail"},
               {"policy": "trusted-builder", "resources": ["built"], "result": "pass"}]
    (tmp_path / "kyverno-test.yaml").write_text(yaml.safe_dump({
        "apiVersion": "cli.kyverno.io/v1alpha1", "kind": "Test", "metadata": {"name": "ivpol"},
        "policies": ["policies.yaml"], "resources": ["pods.yaml"],
        "results": [{"isImageValidatingPolicy": True, "kind": "Pod", **r} for r in results]}))
    code, out, err = _run("test", tmp_path, "--registry", "--allow-insecure-registry", "--allow-egress", "127.0.0.1")
    assert code == 0, out + err
    assert "3 tests passed and 0 tests failed" in out
    # an expectation that does not hold fails the suite
    test = yaml.safe_load((tmp_path / "kyverno-test.yaml").read_text())
    test["results"][1]["result"] = "pass"
    (tmp_path / "kyverno-test.yaml").write_text(yaml.safe_dump(test))
    code, out, err = _run("test", tmp_path, "--registry", "--allow-insecure-registry", "--allow-egress", "127.0.0.1")
    assert code == 1 and "1 tests failed" in out + err
    # offline, nothing is verified: the verifying rows error instead of passing
    test["results"][1]["result"] = "fail"
    (tmp_path / "kyverno-test.yaml").write_text(yaml.safe_dump(test))
    code, out, err = _run("test", tmp_path)
    assert code == 1 and "3 tests failed" in out + err and "got error" in out + err and "got pass" not in out + err
