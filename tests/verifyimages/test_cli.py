"""``verno apply`` / ``verno test`` with ``--registry`` against the real registry fixture, end to end."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from vi_cosign import push_signatures, signature
from vi_pki import new_key, public_pem
from vi_policy import OFFLINE, repo

from verno.cli.main import cli


def _run(*args: object) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def suite(tmp_path: Path, registry, pusher):
    """A policy trusting one key; a Pod with a signed image and a Pod with an unsigned one."""
    key = new_key()
    signed, unsigned = repo(), repo()
    digest = pusher.image(signed, "v1")
    push_signatures(pusher, signed, digest, [signature(key, f"{registry.host}/{signed}", digest)])
    pusher.image(unsigned, "v1")
    policy = {
        "apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy", "metadata": {"name": "check-images"},
        "spec": {"validationFailureAction": "Enforce", "rules": [{
            "name": "verify", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
            "verifyImages": [{"imageReferences": [f"{registry.host}/*"],
                              "attestors": [{"entries": [{"keys": {"publicKeys": public_pem(key), **OFFLINE}}]}]}]}]}}
    (tmp_path / "policy.yaml").write_text(yaml.safe_dump(policy))

    def pod(name: str, image: str) -> dict:
        return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
                "spec": {"containers": [{"name": "app", "image": image}]}}

    (tmp_path / "signed.yaml").write_text(yaml.safe_dump(pod("signed", f"{registry.host}/{signed}:v1")))
    (tmp_path / "unsigned.yaml").write_text(yaml.safe_dump(pod("unsigned", f"{registry.host}/{unsigned}:v1")))
    return tmp_path, f"{registry.host}/{signed}:v1", digest


def test_apply_signed_image_passes_and_prints_the_pinned_resource(suite):
    d, image, digest = suite
    code, out, err = _run("apply", d / "policy.yaml", "-r", d / "signed.yaml", "--registry",
                          "--allow-insecure-registry", "--allow-egress", "127.0.0.1")
    assert code == 0, out + err
    assert "policy check-images applied to default/Pod/signed:" in out
    printed = yaml.safe_load(out.split("applied to default/Pod/signed:", 1)[1].split("\n---\n", 1)[0])
    assert printed["spec"]["containers"][0]["image"] == f"{image}@{digest}"
    annotation = printed["metadata"]["annotations"]["kyverno.io/verify-images"]
    assert json.loads(annotation) == {image: "pass"}
    assert "pass: 1, fail: 0, warn: 0, error: 0, skip: 0" in out


def test_apply_unsigned_image_fails(suite):
    d, _, _ = suite
    code, out, _ = _run("apply", d / "policy.yaml", "-r", d / "unsigned.yaml", "--registry",
                          "--allow-insecure-registry", "--allow-egress", "127.0.0.1")
    assert code == 1
    assert "failed to verify image" in out and "no signatures found" in out
    assert "pass: 0, fail: 1" in out


def test_apply_without_registry_flag_is_a_clear_error(suite):
    d, _, _ = suite
    code, out, err = _run("apply", d / "policy.yaml", "-r", d / "signed.yaml")
    assert code == 1 and "error: 1" in out
    assert "notice: policies check-images have verifyImages rules: pass --registry" in err
    code, out, _ = _run("apply", d / "policy.yaml", "-r", d / "signed.yaml", "-t", "--detailed-results")
    assert code == 1
    assert "verifyImages needs registry access: pass --registry to verno apply or verno test" in out


def test_plain_http_registry_needs_allow_insecure(suite):
    d, image, _ = suite
    code, out, _ = _run("apply", d / "policy.yaml", "-r", d / "signed.yaml", "--registry", "-t",
                        "--detailed-results", "--allow-egress", "127.0.0.1")
    assert code == 1
    assert "error" in out and f"registry {image.split('/')[0]}" in out


def test_a_loopback_registry_needs_allow_egress(suite):
    d, image, _ = suite
    code, out, _ = _run("apply", d / "policy.yaml", "-r", d / "signed.yaml", "--registry", "--allow-insecure-registry",
                        "-t", "--detailed-results")
    assert code == 1
    assert "it is a loopback address; allow it with --allow-egress 127.0.0.1" in out.replace("\n", " ")


@pytest.mark.parametrize("command", ["apply", "serve"])
def test_a_malformed_allow_egress_entry_is_a_usage_error(command, tmp_path):
    (tmp_path / "f.pem").write_text("x")
    (tmp_path / "p.yaml").write_text("")
    args = (["apply", tmp_path / "p.yaml", "-r", tmp_path / "p.yaml"] if command == "apply" else
            ["serve", "--policies", tmp_path / "p.yaml", "--tls-cert", tmp_path / "f.pem",
             "--tls-key", tmp_path / "f.pem"])
    code, _, err = _run(*args, "--allow-egress", "169.254.169.254:80")
    assert code == 2
    assert "Invalid value for --allow-egress: '169.254.169.254:80': an address entry takes no port" in err


def test_insecure_without_registry_is_a_usage_error(suite):
    d, _, _ = suite
    code, _, err = _run("apply", d / "policy.yaml", "-r", d / "signed.yaml", "--allow-insecure-registry")
    assert code == 2 and "--allow-insecure-registry needs --registry" in err


def test_help_says_why_registry_is_opt_in():
    code, out, _ = _run("apply", "--help")
    assert code == 0
    assert "--registry" in out and "never reach the" in out.replace("\n", " ").replace("  ", " ")


def test_verno_test_with_registry(suite):
    d, _, _ = suite
    (d / "kyverno-test.yaml").write_text(yaml.safe_dump({
        "apiVersion": "cli.kyverno.io/v1alpha1", "kind": "Test", "metadata": {"name": "images"},
        "policies": ["policy.yaml"], "resources": ["signed.yaml", "unsigned.yaml"],
        "results": [
            {"policy": "check-images", "rule": "verify", "resources": ["signed"], "kind": "Pod", "result": "pass"},
            {"policy": "check-images", "rule": "verify", "resources": ["unsigned"], "kind": "Pod", "result": "fail"},
        ]}))
    code, out, err = _run("test", d, "--registry", "--allow-insecure-registry", "--allow-egress", "127.0.0.1")
    assert code == 0, out + err
    assert "Test Summary: 2 tests passed and 0 tests failed" in out
    code, out, err = _run("test", d)
    assert code == 1
    assert "2 tests failed" in err


def test_installed_cli_with_docker_config_credentials(tls_registry, tmp_path):
    """The real executable: TLS registry with basic auth, credentials from --docker-config, CA from --registry-ca."""
    from vi_cosign import Pusher

    push = Pusher(tls_registry.base_url, auth=(tls_registry.user, tls_registry.password),
                  verify=__import__("ssl").create_default_context(cadata=tls_registry.ca_pem))
    key = new_key()
    r = repo()
    digest = push.image(r, "v1")
    push_signatures(push, r, digest, [signature(key, f"{tls_registry.host}/{r}", digest)])
    import base64

    auth = base64.b64encode(f"{tls_registry.user}:{tls_registry.password}".encode()).decode()
    (tmp_path / "config.json").write_text(json.dumps({"auths": {tls_registry.host: {"auth": auth}}}))
    (tmp_path / "ca.pem").write_text(tls_registry.ca_pem)
    (tmp_path / "policy.yaml").write_text(yaml.safe_dump({
        "apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy", "metadata": {"name": "p"},
        "spec": {"rules": [{"name": "verify", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
                            "verifyImages": [{"attestors": [{"entries": [
                                {"keys": {"publicKeys": public_pem(key), **OFFLINE}}]}]}]}]}}))
    (tmp_path / "pod.yaml").write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "default"},
        "spec": {"containers": [{"name": "app", "image": f"{tls_registry.host}/{r}:v1"}]}}))
    base = [sys.executable, "-m", "verno", "apply", str(tmp_path / "policy.yaml"), "-r", str(tmp_path / "pod.yaml")]
    base += ["--allow-egress", "127.0.0.1"]
    ok = subprocess.run(base + ["--registry", "--registry-ca", str(tmp_path / "ca.pem"),
                                "--docker-config", str(tmp_path / "config.json")],
                        capture_output=True, text=True, timeout=120, check=False)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert f"@{digest}" in ok.stdout
    no_ca = subprocess.run(base + ["--registry", "--docker-config", str(tmp_path / "config.json")],
                           capture_output=True, text=True, timeout=120, check=False)
    assert no_ca.returncode == 1 and "error: 1" in no_ca.stdout
