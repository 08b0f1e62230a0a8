"""The egress fence in the registry client: addresses checked after resolution and pinned, redirects
followed by hand to HTTPS only, one message for every way a registry cannot be reached, no body text in
any message. Servers run on 127.0.0.1; names are answered by a fake resolver."""
from __future__ import annotations

import gzip
import json
import socket

import pytest
from egress_server import FakeDNS, resetting_port, serve, silent_port
from vi_pki import new_key, public_pem, server_tls
from vi_policy import evaluate, keys, pod
from vi_regserver import free_port

from verno.core.egress import EgressPolicy
from verno.core.engine import Engine
from verno.core.results import Status
from verno.core.sources import Sources
from verno.registry import (AuthError, Credentials, Registries, RegistryClient, RegistryError, RegistryRefused,
                            RegistryUnreachable, sha256_digest)

OCI = "application/vnd.oci.image.manifest.v1+json"
MANIFEST = json.dumps({"schemaVersion": 2, "mediaType": OCI, "layers": [],
                       "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                  "digest": "sha256:" + "0" * 64, "size": 2}}).encode()
OK = (200, {"Content-Type": OCI, "Docker-Content-Digest": sha256_digest(MANIFEST)}, MANIFEST)
SECRET = "SECRET-metadata-token-0123"
LOOPBACK = EgressPolicy.parse(["127.0.0.1"])


def ok(method, path, headers):
    return OK


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    """A serving certificate for 127.0.0.1 and the names registry.test, meta.test, rebind.test."""
    cert, key, ca = server_tls(tmp_path_factory.mktemp("egress-tls"),
                               names=("registry.test", "meta.test", "rebind.test", "evil.test"))
    return (cert, key), ca


@pytest.fixture
def dns(monkeypatch):
    fake = FakeDNS(socket.getaddrinfo, {})
    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return fake


# -- addresses ----------------------------------------------------------------------------------------------
def test_loopback_registry_is_refused_without_an_allowance_and_never_contacted(tls):
    with serve(ok, tls[0]) as srv:
        client = RegistryClient(srv.host(), ca=tls[1])
        with pytest.raises(RegistryRefused) as err:
            client.manifest("demo/app", "v1")
        assert srv.hits == []
        assert "it is a loopback address; allow it with --allow-egress 127.0.0.1" in str(err.value)
        allowed = RegistryClient(srv.host(), ca=tls[1], egress=LOOPBACK)
        assert allowed.manifest("demo/app", "v1").raw == MANIFEST


@pytest.mark.parametrize("answer, kind", [
    (["127.0.0.1"], "loopback"), (["169.254.169.254"], "link-local"), (["::ffff:169.254.169.254"], "link-local"),
    (["10.1.2.3"], "private"), (["0.0.0.0"], "unspecified"), (["93.184.216.34", "127.0.0.1"], "loopback"),
])
def test_a_name_is_checked_on_every_address_it_resolves_to(dns, tls, answer, kind):
    dns.answers["evil.test"] = [answer]
    with serve(ok, tls[0]) as srv:
        client = RegistryClient(srv.host("evil.test"), ca=tls[1])
        with pytest.raises(RegistryRefused) as err:
            client.manifest("demo/app", "v1")
        assert f"it is a {kind} address" in str(err.value) and "evil.test" in str(err.value)
        assert srv.hits == []


def test_a_named_host_opens_loopback_but_never_link_local(dns, tls):
    dns.answers["evil.test"] = [["127.0.0.1"]]
    dns.answers["meta.test"] = [["169.254.169.254"]]
    with serve(ok, tls[0]) as srv:
        named = EgressPolicy.parse(["evil.test", "meta.test"])
        assert RegistryClient(srv.host("evil.test"), ca=tls[1], egress=named).manifest("demo/app", "v1").raw == MANIFEST
        with pytest.raises(RegistryRefused, match="link-local"):
            RegistryClient(srv.host("meta.test"), ca=tls[1], egress=named).manifest("demo/app", "v1")


def test_an_allowed_cidr_is_accepted(registry, pusher):
    digest = pusher.image("egress/cidr", "v1")
    regs = Registries(credentials={}, allow_insecure=True, egress=EgressPolicy.parse(["127.0.0.0/8"]))
    assert regs.client(registry.host).resolve("egress/cidr", "v1").digest == digest
    regs.close()


def test_the_checked_address_is_the_one_connected_to(dns, tls):
    """DNS rebinding: the name answers 127.0.0.1 once, then the metadata address; one lookup is made and
    the connection goes to the address that was checked."""
    dns.answers["rebind.test"] = [["127.0.0.1"], ["169.254.169.254"]]
    with serve(ok, tls[0]) as srv:
        client = RegistryClient(srv.host("rebind.test"), ca=tls[1], egress=EgressPolicy.parse(["127.0.0.1"]))
        assert client.manifest("demo/app", "v1").raw == MANIFEST
        assert dns.calls["rebind.test"] == 1
        assert srv.hits[0].split()[2] == f"host=rebind.test:{srv.port}"  # the Host header keeps the name


def test_tls_is_verified_against_the_host_name_not_the_address(dns, tls, caplog):
    """The certificate names 127.0.0.1 and registry.test: reached as other.test (resolving to 127.0.0.1) the
    handshake fails, so the name, not the connected address, is what TLS checks."""
    dns.answers["registry.test"] = [["127.0.0.1"]]
    dns.answers["other.test"] = [["127.0.0.1"]]
    with serve(ok, tls[0]) as srv:
        policy = EgressPolicy.parse(["127.0.0.1"])
        good = RegistryClient(srv.host("registry.test"), ca=tls[1], egress=policy)
        assert good.manifest("demo/app", "v1").raw == MANIFEST
        bad = RegistryClient(srv.host("other.test"), ca=tls[1], egress=policy)
        with caplog.at_level("DEBUG", logger="verno.egress"), pytest.raises(RegistryUnreachable):
            bad.manifest("demo/app", "v1")
        assert "other.test" in caplog.text and "CERTIFICATE_VERIFY_FAILED" in caplog.text


def test_environment_proxies_are_not_used(tls, monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("ALL_PROXY", f"http://127.0.0.1:{free_port()}")
    with serve(ok, tls[0]) as srv:
        assert RegistryClient(srv.host(), ca=tls[1], egress=LOOPBACK).manifest("demo/app", "v1").raw == MANIFEST


# -- redirects -----------------------------------------------------------------------------------------------
def _redirecting(location):
    def route(method, path, headers):
        return 307, {"Location": location(path)}, b""
    return route


def test_a_redirect_to_another_loopback_port_is_followed_over_https_without_credentials(tls):
    with serve(ok, tls[0]) as target, serve(_redirecting(lambda p: target.url() + p), tls[0]) as first:
        client = RegistryClient(first.host(), ca=tls[1], egress=LOOPBACK, credentials=Credentials(token="T0KEN"))
        assert client.manifest("demo/app", "v1").raw == MANIFEST
        assert "auth=Bearer T0KEN" in first.hits[0]
        assert target.hits == [f"GET /v2/demo/app/manifests/v1 host=127.0.0.1:{target.port} auth="]


@pytest.mark.parametrize("insecure", [False, True])
def test_a_redirect_to_plain_http_is_refused_even_for_an_insecure_registry(tls, insecure):
    with serve(ok) as plain, serve(_redirecting(lambda p: plain.url() + p), tls[0]) as first:
        client = RegistryClient(first.host(), ca=tls[1], egress=LOOPBACK, insecure=insecure)
        with pytest.raises(RegistryRefused, match="redirects are followed to https only"):
            client.manifest("demo/app", "v1")
        assert len(first.hits) == 1 and plain.hits == []


def test_a_redirect_is_checked_like_the_first_request(dns, tls):
    dns.answers["meta.test"] = [["169.254.169.254"]]
    with serve(ok, tls[0]) as target:
        cases = {f"https://meta.test:{target.port}": "link-local", f"https://127.0.0.2:{target.port}": "loopback"}
        for base, kind in cases.items():
            with serve(_redirecting(lambda p, base=base: base + p), tls[0]) as first:
                client = RegistryClient(first.host(), ca=tls[1], egress=EgressPolicy.parse(["127.0.0.1/32"]))
                with pytest.raises(RegistryRefused, match=f"it is a {kind} address"):
                    client.manifest("demo/app", "v1")
        assert target.hits == []


def test_redirects_stop_after_the_hop_limit(tls):
    with serve(_redirecting(lambda p: p + "x"), tls[0]) as loop:
        client = RegistryClient(loop.host(), ca=tls[1], egress=LOOPBACK)
        with pytest.raises(RegistryRefused, match="more than 5 redirects"):
            client.manifest("demo/app", "v1")
        assert len(loop.hits) == 6


def test_a_token_realm_is_fenced_too(dns, tls):
    dns.answers["meta.test"] = [["169.254.169.254"]]
    for realm, why in (("https://meta.test/token", "link-local"), ("http://127.0.0.1:1/token", "plain HTTP")):
        def route(method, path, headers, realm=realm):
            return 401, {"WWW-Authenticate": f'Bearer realm="{realm}",service="x"'}, b""
        with serve(route, tls[0]) as srv:
            with pytest.raises(RegistryRefused, match=why):
                RegistryClient(srv.host(), ca=tls[1], egress=LOOPBACK).manifest("demo/app", "v1")


# -- what errors say -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("insecure", [False, True])
def test_closed_reset_and_silent_ports_read_the_same(insecure, caplog):
    messages, causes = [], []
    with resetting_port() as reset, silent_port() as silent:
        for port in (free_port(), reset, silent):
            client = RegistryClient(f"127.0.0.1:{port}", egress=LOOPBACK, insecure=insecure, timeout=1)
            caplog.clear()
            with caplog.at_level("DEBUG", logger="verno.egress"), pytest.raises(RegistryUnreachable) as err:
                client.resolve("demo/app", "v1")
            messages.append(str(err.value).replace(str(port), "PORT"))
            causes.append(caplog.text)
    assert len(set(messages)) == 1, messages
    assert messages[0].startswith("127.0.0.1:PORT/demo/app:v1: could not reach registry 127.0.0.1:PORT")
    assert all(causes) and len(set(causes)) == 3  # the causes differ, in the debug log only


def _secret_answers(status):
    body = json.dumps({"errors": [{"code": "DENIED", "message": SECRET, "detail": SECRET}]}).encode()
    headers = {"Content-Type": "application/json", "X-Reason": SECRET}
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="r"'
    return lambda method, path, h: (status, dict(headers), body)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 500])
def test_an_error_answer_is_reported_by_status_and_spec_code_never_by_its_text(tls, status):
    with serve(_secret_answers(status), tls[0]) as srv:
        client = RegistryClient(srv.host(), ca=tls[1], egress=LOOPBACK, credentials=Credentials("u", "p"))
        with pytest.raises(RegistryError) as err:
            client.manifest("demo/app", "v1")
    assert SECRET not in str(err.value)
    if status not in (401, 404):
        assert f"{status}" in str(err.value) and "(DENIED)" in str(err.value)
    if status in (401, 403):
        assert isinstance(err.value, AuthError)


def test_a_denial_message_never_carries_a_fetched_body(tls):
    """A verifyImages rule against a registry whose answers carry secret text: the rule's message (what a
    webhook denial shows) has none of it."""
    with serve(_secret_answers(500), tls[0]) as srv:
        pool = Registries(credentials={}, ca=tls[1], egress=LOOPBACK)
        sources = Sources(registry_access=True, registry_client=pool, egress=LOOPBACK)
        rules, _ = evaluate(Engine(), sources, pod(f"{srv.host()}/demo/app:v1"),
                            {"attestors": [{"entries": [keys(public_pem(new_key()))]}]})
    assert rules[0].status == Status.ERROR and srv.host() in rules[0].message
    assert SECRET not in rules[0].message


def test_bodies_are_bounded_including_compressed_ones(tls):
    big = b"x" * (4 * 1024 * 1024 + 1)
    answers = {
        "/v2/demo/large/manifests/v1": (200, {"Content-Type": OCI}, big),
        "/v2/demo/bomb/manifests/v1": (200, {"Content-Type": OCI, "Content-Encoding": "gzip"}, gzip.compress(big)),
    }
    with serve(lambda m, p, h: answers[p], tls[0]) as srv:
        client = RegistryClient(srv.host(), ca=tls[1], egress=LOOPBACK)
        for repo in ("demo/large", "demo/bomb"):
            with pytest.raises(RegistryError, match="larger than 4194304 bytes"):
                client.manifest(repo, "v1")
