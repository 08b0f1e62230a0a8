"""The registry client against a real registry on loopback (plain, and TLS with htpasswd)."""
from __future__ import annotations

import json

import pytest

from vi_cosign import Pusher
from vi_regserver import allow_loopback, free_port

from verno.registry import (AuthError, Credentials, NotFound, Registries, RegistryClient, RegistryUnreachable,
                            load_docker_config, sha256_digest)

LOOPBACK = allow_loopback()


def test_tag_resolves_to_digest_by_head(registry, pusher):
    digest = pusher.image("demo/app", "v1")
    client = RegistryClient(registry.host, egress=LOOPBACK, insecure=True)
    desc = client.resolve("demo/app", "v1")
    assert desc.digest == digest
    assert desc.media_type == "application/vnd.oci.image.manifest.v1+json"
    m = client.manifest("demo/app", digest)
    assert sha256_digest(m.raw) == digest and m.json["schemaVersion"] == 2
    config = json.loads(client.blob("demo/app", m.json["config"]["digest"]))
    assert config["os"] == "linux"


def test_missing_tag_is_not_found_naming_image_and_registry(registry):
    client = RegistryClient(registry.host, egress=LOOPBACK, insecure=True)
    with pytest.raises(NotFound) as err:
        client.resolve("demo/app", "nope")
    assert registry.host in str(err.value) and "demo/app:nope" in str(err.value)


def test_plain_http_refused_unless_insecure_allowed(registry):
    client = RegistryClient(registry.host, egress=LOOPBACK)
    with pytest.raises(RegistryUnreachable) as err:
        client.resolve("demo/app", "v1")
    assert "allowInsecureRegistry" in str(err.value) and registry.host in str(err.value)


def test_registry_down_errors_fast_and_names_it():
    host = f"127.0.0.1:{free_port()}"
    client = RegistryClient(host, egress=LOOPBACK, insecure=True, timeout=2)
    with pytest.raises(RegistryUnreachable) as err:
        client.resolve("demo/app", "v1")
    assert host in str(err.value) and "demo/app:v1" in str(err.value)


def test_referrers_tag_schema_fallback(registry, pusher):
    digest = pusher.image("demo/ref", "v1")
    empty = pusher.blob("demo/ref", b"{}")
    layer = pusher.blob("demo/ref", b'{"bundle": true}')
    art_type = "application/vnd.dev.sigstore.bundle.v0.3+json"
    art = pusher.manifest("demo/ref", "bundle1", {
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "artifactType": art_type,
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", **empty},
        "layers": [{"mediaType": art_type, **layer}],
        "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest, "size": 1}})
    client = RegistryClient(registry.host, egress=LOOPBACK, insecure=True)
    assert client.referrers("demo/ref", digest) == []
    pusher.manifest("demo/ref", digest.replace(":", "-"), {
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": art, "size": 10,
                       "artifactType": art_type}]}, "application/vnd.oci.image.index.v1+json")
    found = client.referrers("demo/ref", digest, art_type)
    assert [e["digest"] for e in found] == [art]
    assert client.referrers("demo/ref", digest, "application/other") == []


def test_tls_with_custom_ca_and_basic_auth(tls_registry):
    pusher = Pusher(tls_registry.base_url, auth=("ci", "s3cret"), verify=_ctx(tls_registry.ca_pem))
    digest = pusher.image("private/app", "v1")
    regs = Registries(credentials={tls_registry.host: Credentials("ci", "s3cret")}, ca=tls_registry.ca_pem,
                      egress=LOOPBACK)
    assert regs.client(tls_registry.host).resolve("private/app", "v1").digest == digest
    assert regs.client(tls_registry.host) is regs.client(tls_registry.host)  # one pooled client
    data = regs.image_data(f"{tls_registry.host}/private/app:v1")
    assert data["resolvedImage"] == f"{tls_registry.host}/private/app@{digest}"
    assert data["configData"]["architecture"] == "amd64"
    regs.close()


def test_tls_wrong_password_and_anonymous_are_auth_errors(tls_registry):
    wrong = RegistryClient(tls_registry.host, egress=LOOPBACK, credentials=Credentials("ci", "bad"),
                           ca=tls_registry.ca_pem)
    with pytest.raises(AuthError, match="401"):
        wrong.resolve("private/app", "v1")
    anon = RegistryClient(tls_registry.host, egress=LOOPBACK, ca=tls_registry.ca_pem)
    with pytest.raises(AuthError, match="no credentials"):
        anon.resolve("private/app", "v1")


def test_tls_untrusted_certificate_is_unreachable_with_the_cause_in_the_debug_log(tls_registry, caplog, monkeypatch):
    import logging

    # the webhook's JSON logging (set up by earlier tests in this process) stops "verno" records at its logger
    monkeypatch.setattr(logging.getLogger("verno"), "propagate", True)
    client = RegistryClient(tls_registry.host, egress=LOOPBACK, credentials=Credentials("ci", "s3cret"))
    with caplog.at_level("DEBUG", logger="verno.egress"), pytest.raises(RegistryUnreachable) as err:
        client.resolve("private/app", "v1")
    assert str(err.value) == (f"{tls_registry.host}/private/app:v1: could not reach registry {tls_registry.host} "
                              "(a plain-HTTP registry needs allowInsecureRegistry)")
    assert "CERTIFICATE_VERIFY_FAILED" in caplog.text


def test_docker_config_credentials(tmp_path):
    import base64

    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({"auths": {
        "127.0.0.1:5000": {"auth": base64.b64encode(b"ci:s3cret").decode()},
        "https://index.docker.io/v1/": {"username": "u", "password": "p"},
        "ghcr.io": {"registrytoken": "tok"}}}))
    creds = load_docker_config(cfg)
    assert creds["127.0.0.1:5000"] == Credentials("ci", "s3cret")
    assert creds["docker.io"] == Credentials("u", "p")
    assert creds["ghcr.io"].token == "tok"


def _ctx(ca_pem: str):
    import ssl

    ctx = ssl.create_default_context()
    ctx.load_verify_locations(cadata=ca_pem)
    return ctx


def test_bearer_token_challenge_is_answered_and_cached():
    import httpx

    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(f"{request.method} {request.url.path}")
        if request.url.path == "/token":
            assert request.url.params["scope"] == "repository:team/app:pull"
            assert request.url.params["service"] == "reg.test"
            assert request.headers["authorization"].startswith("Basic ")
            return httpx.Response(200, json={"token": "T1"})
        if request.headers.get("authorization") != "Bearer T1":
            return httpx.Response(401, headers={"WWW-Authenticate":
                                                'Bearer realm="https://reg.test/token",service="reg.test"'})
        return httpx.Response(200, headers={"Docker-Content-Digest": "sha256:" + "a" * 64,
                                            "Content-Type": "application/vnd.oci.image.manifest.v1+json"})

    client = RegistryClient("reg.test", credentials=Credentials("u", "p"), transport=httpx.MockTransport(handler))
    assert client.resolve("team/app", "v1").digest == "sha256:" + "a" * 64
    assert client.resolve("team/app", "v2").digest == "sha256:" + "a" * 64
    assert calls == ["HEAD /v2/team/app/manifests/v1", "GET /token", "HEAD /v2/team/app/manifests/v1",
                     "HEAD /v2/team/app/manifests/v2"]


def _referrers_client(index, media_type: str = "application/vnd.oci.image.index.v1+json"):
    import httpx

    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(f"{request.url.path}?{request.url.query.decode()}")
        return httpx.Response(200, content=json.dumps(index).encode(), headers={"Content-Type": media_type})

    return RegistryClient("reg.test", transport=httpx.MockTransport(handler)), calls


def test_referrers_api_answer_is_used_and_filtered():
    digest = "sha256:" + "b" * 64
    sig = {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" + "c" * 64, "size": 9,
           "artifactType": "application/vnd.cncf.notary.signature"}
    other = dict(sig, artifactType="application/other")
    client, calls = _referrers_client({"schemaVersion": 2, "manifests": [sig, other, "junk", 3]})
    assert client.referrers("team/app", digest, "application/vnd.cncf.notary.signature") == [sig]
    assert calls == [f"/v2/team/app/referrers/{digest}?artifactType=application/vnd.cncf.notary.signature"]
    assert client.referrers("team/app", digest) == [sig, other]


def test_referrers_index_without_a_manifests_list_is_an_error():
    from verno.registry import RegistryError

    client, _ = _referrers_client({"schemaVersion": 2, "manifests": "not a list"})
    with pytest.raises(RegistryError, match="the referrers index's manifests is not a list"):
        client.referrers("team/app", "sha256:" + "b" * 64, "application/x")


def test_concurrent_first_requests_to_an_insecure_registry_all_fall_back_to_http(registry, pusher):
    """Several threads start on a fresh insecure client at once: each HTTPS attempt fails, and every one of
    them goes on over plain HTTP, including those whose fallback another thread made first."""
    import threading

    pusher.image("race/app", "v1")
    for _ in range(3):
        client = RegistryClient(registry.host, egress=LOOPBACK, insecure=True)
        barrier = threading.Barrier(8)
        outcomes: list[object] = []

        def resolve() -> None:
            barrier.wait()
            try:
                outcomes.append(client.resolve("race/app", "v1").digest)
            except Exception as exc:  # recorded: the assertion below names it
                outcomes.append(exc)

        threads = [threading.Thread(target=resolve) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        client.close()
        assert all(isinstance(o, str) and o.startswith("sha256:") for o in outcomes), outcomes
