"""apiCall ``service.url``: called only when ``--allow-egress`` names the service, through the egress fence,
with bounded size and time; a namespaced Policy reads only its namespace and calls no service."""
from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest
import yaml
from egress_server import FakeDNS, serve, silent_port
from vi_pki import server_tls

from verno.core.egress import EgressPolicy
from verno.core.engine import Engine
from verno.core.loaders.offline_cluster import OfflineCluster
from verno.core.models.policy import Policy
from verno.core.request import Request
from verno.core.results import Status
from verno.core.sources import Sources

SECRET = "SECRET-instance-credentials-42"
POD_MATCH = {"any": [{"resources": {"kinds": ["Pod"]}}]}


def pod(team: str, namespace: str = "shop") -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": namespace,
                                                            "labels": {"team": team}},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]}}


def policy(call: dict, *, kind: str = "ClusterPolicy", namespace: str = "", owner: str = "owners") -> Policy:
    """Deny a Pod whose team label differs from the entry's value."""
    meta = {"name": "owner", **({"namespace": namespace} if namespace else {})}
    rule = {"name": "team", "match": POD_MATCH, "context": [{"name": "owners", "apiCall": call}],
            "validate": {"message": "team must be {{ " + owner + " }}", "deny": {"conditions": {"any": [
                {"key": "{{ request.object.metadata.labels.team }}", "operator": "NotEquals",
                 "value": "{{ " + owner + " }}"}]}}}}
    return Policy.model_validate({"apiVersion": "kyverno.io/v1", "kind": kind, "metadata": meta,
                                  "spec": {"rules": [rule]}})


def verdict(p: Policy, resource: dict, **sources) -> tuple[Status, str]:
    engine = Engine()
    (rule,) = engine.evaluate([engine.prepare(p)], Request(resource), sources=Sources(**sources))[0].rules
    return rule.status, rule.message


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    cert, key, ca = server_tls(tmp_path_factory.mktemp("svc-tls"), names=("owners.test",))
    return (cert, key), ca


def answer(status: int, body: bytes, **headers: str):
    return lambda method, path, h: (status, {"Content-Type": "application/json", **headers}, body)


OWNER_BLUE = answer(200, b'{"owner": "blue"}')


def call(srv, ca: str, path: str = "/owner", **extra) -> dict:
    return {"service": {"url": srv.url() + path, "caBundle": ca, **extra.pop("service", {})}, "jmesPath": "owner",
            **extra}


def test_without_an_entry_naming_it_no_call_is_made(tls):
    with serve(OWNER_BLUE, tls[0]) as srv:
        for egress in (EgressPolicy(), EgressPolicy.parse(["other.test", "192.168.0.0/16"])):
            status, message = verdict(policy(call(srv, tls[1])), pod("blue"), egress=egress)
            assert status == Status.ERROR and "verno calls a service only when --allow-egress names its host" in message
            assert "--allow-egress 127.0.0.1" in message
        assert srv.hits == []


def test_an_allowed_service_is_called_over_https_with_its_ca_bundle(tls):
    with serve(OWNER_BLUE, tls[0]) as srv:
        egress = EgressPolicy.parse(["127.0.0.1"])
        extra = {"service": {"headers": [{"key": "X-Team", "value": "{{ request.object.metadata.namespace }}"}]}}
        assert verdict(policy(call(srv, tls[1], **extra)), pod("blue"), egress=egress)[0] == Status.PASS
        assert verdict(policy(call(srv, tls[1], **extra)), pod("red"), egress=egress) == \
            (Status.FAIL, "team must be blue")
        assert srv.hits[0] == f"GET /owner host=127.0.0.1:{srv.port} auth="  # no credentials of verno's own
        # without the caBundle the private CA is not trusted: the call fails and the rule errors
        no_ca = {"service": {"url": srv.url() + "/owner"}, "jmesPath": "owner"}
        status, message = verdict(policy(no_ca), pod("blue"), egress=egress)
        assert (status, message) == (Status.ERROR, "failed to load context: failed to fetch data for APICall: "
                                                   "could not reach service 127.0.0.1")


def test_a_cidr_entry_covers_a_name_resolving_inside_it(tls, monkeypatch):
    dns = FakeDNS(socket.getaddrinfo, {"owners.test": [["127.0.0.1"]]})
    monkeypatch.setattr(socket, "getaddrinfo", dns)
    with serve(OWNER_BLUE, tls[0]) as srv:
        svc = {"service": {"url": f"https://owners.test:{srv.port}/owner", "caBundle": tls[1]}, "jmesPath": "owner"}
        assert verdict(policy(svc), pod("blue"), egress=EgressPolicy.parse(["127.0.0.0/8"]))[0] == Status.PASS
        assert verdict(policy(svc), pod("blue"), egress=EgressPolicy.parse(["10.0.0.0/8"]))[0] == Status.ERROR


def test_post_sends_the_data_as_json(tls):
    with serve(OWNER_BLUE, tls[0]) as srv:
        c = call(srv, tls[1], method="POST", data=[{"key": "namespace", "value": "{{ request.namespace }}"},
                                                  {"key": "n", "value": 3}])
        assert verdict(policy(c), pod("blue"), egress=EgressPolicy.parse(["127.0.0.1"]))[0] == Status.PASS
        assert json.loads(srv.bodies[0]) == {"namespace": "shop", "n": 3}
        assert srv.hits[0].startswith("POST /owner")


def test_plain_http_needs_an_http_entry():
    with serve(OWNER_BLUE) as srv:
        c = {"service": {"url": srv.url() + "/owner"}, "jmesPath": "owner"}
        status, message = verdict(policy(c), pod("blue"), egress=EgressPolicy.parse(["127.0.0.1"]))
        assert status == Status.ERROR and "plain HTTP to 127.0.0.1 is not allowed; use https" in message
        assert srv.hits == []
        plain = EgressPolicy.parse([f"http://127.0.0.1:{srv.port}"])
        assert verdict(policy(c), pod("blue"), egress=plain)[0] == Status.PASS


@pytest.mark.parametrize("status, body", [(404, json.dumps({"message": SECRET}).encode()),
                                          (500, SECRET.encode()), (200, f"<html>{SECRET}</html>".encode())])
def test_what_a_service_answers_never_appears_in_a_message(tls, status, body):
    with serve(answer(status, body, **{"X-Reason": SECRET}), tls[0]) as srv:
        got, message = verdict(policy(call(srv, tls[1])), pod("blue"), egress=EgressPolicy.parse(["127.0.0.1"]))
    assert got == Status.ERROR and SECRET not in message
    assert ("HTTP 404 Not Found" if status == 404 else "HTTP 500 Internal Server Error" if status == 500
            else "the answer of service 127.0.0.1 is not JSON") in message


def test_a_redirect_to_the_metadata_address_is_refused(tls, monkeypatch):
    monkeypatch.setattr(socket, "getaddrinfo", FakeDNS(socket.getaddrinfo, {"meta.test": [["169.254.169.254"]]}))
    with serve(lambda m, p, h: (302, {"Location": "https://meta.test/latest/meta-data/"}, b""), tls[0]) as srv:
        status, message = verdict(policy(call(srv, tls[1])), pod("blue"),
                                  egress=EgressPolicy.parse(["127.0.0.1", "meta.test"]))
    assert status == Status.ERROR and "it is a link-local address" in message


def test_the_response_size_is_bounded(tls):
    big = json.dumps({"owner": "blue", "pad": "x" * 2_000_000}).encode()
    with serve(answer(200, big), tls[0]) as srv:
        status, message = verdict(policy(call(srv, tls[1])), pod("blue"), egress=EgressPolicy.parse(["127.0.0.1"]))
    assert status == Status.ERROR
    assert "response length must be less than max allowed response length of 2000000" in message


def test_a_silent_service_times_out_like_a_closed_one_and_default_applies():
    egress = EgressPolicy.parse(["127.0.0.1"])
    with silent_port() as port:
        c = {"service": {"url": f"https://127.0.0.1:{port}/owner"}, "jmesPath": "owner"}
        status, message = verdict(policy(c), pod("blue"), egress=egress, egress_timeout=0.5)
        assert message.endswith("failed to fetch data for APICall: could not reach service 127.0.0.1")
        assert verdict(policy({**c, "default": "blue"}), pod("blue"), egress=egress, egress_timeout=0.5)[0] == \
            Status.PASS


def test_headers_that_would_redirect_the_request_are_errors(tls):
    with serve(OWNER_BLUE, tls[0]) as srv:
        egress = EgressPolicy.parse(["127.0.0.1"])
        for name in ("Host", "Transfer-Encoding"):
            c = call(srv, tls[1], service={"headers": [{"key": name, "value": "x"}]})
            assert f"header {name} cannot be set by a policy" in verdict(policy(c), pod("blue"), egress=egress)[1]
        assert srv.hits == []


# -- namespaced Policies ---------------------------------------------------------------------------------------
TEAM = {"apiVersion": "example.com/v1", "kind": "Team", "metadata": {"name": "t", "namespace": "shop"},
        "spec": {"owner": "blue"}}


@pytest.mark.parametrize("path, says", [
    ("/apis/example.com/v1/namespaces/other/teams/t",
     "path /apis/example.com/v1/namespaces/other/teams/t refers to namespace other, which is different from the "
     "policy namespace shop"),
    ("/apis/example.com/v1/namespaces/shop/../other/teams/t",
     "path /apis/example.com/v1/namespaces/other/teams/t refers to namespace other"),
    ("/api/v1/nodes", "path /api/v1/nodes does not contain a namespace segment, which is required for namespaced "
                      "policies"),
])
def test_a_namespaced_policy_reads_only_its_namespace(path, says):
    c = {"urlPath": path, "jmesPath": "spec.owner"}
    status, message = verdict(policy(c, kind="Policy", namespace="shop"), pod("blue"),
                              offline_cluster=OfflineCluster([TEAM]))
    assert status == Status.ERROR and says in message
    own = {"urlPath": "/apis/example.com/v1/namespaces/shop/teams/t", "jmesPath": "spec.owner"}
    assert verdict(policy(own, kind="Policy", namespace="shop"), pod("blue"),
                   offline_cluster=OfflineCluster([TEAM]))[0] == Status.PASS


def test_a_namespaced_policy_calls_no_service_but_its_mock_stands(tls):
    with serve(OWNER_BLUE, tls[0]) as srv:
        c = call(srv, tls[1])
        status, message = verdict(policy(c, kind="Policy", namespace="shop"), pod("blue"),
                                  egress=EgressPolicy.parse(["127.0.0.1"]))
        assert status == Status.ERROR and "only a ClusterPolicy may call services" in message
        assert srv.hits == []
        mocks = {("GET", c["service"]["url"]): {"statusCode": 200, "body": {"owner": "blue"}}}
        assert verdict(policy(c, kind="Policy", namespace="shop"), pod("blue"), api_call_responses=mocks)[0] == \
            Status.PASS


# -- the CLI ---------------------------------------------------------------------------------------------------
def _apply(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "verno", "apply", *args], capture_output=True, text=True,
                          timeout=120, check=False)


def test_verno_apply_calls_a_service_only_with_allow_egress(tls, tmp_path):
    with serve(OWNER_BLUE, tls[0]) as srv:
        (tmp_path / "policy.yaml").write_text(yaml.safe_dump(
            json.loads(policy(call(srv, tls[1])).model_dump_json(by_alias=True, exclude_none=True))))
        (tmp_path / "pod.yaml").write_text(yaml.safe_dump(pod("blue")))
        args = [str(tmp_path / "policy.yaml"), "-r", str(tmp_path / "pod.yaml")]
        offline = _apply(*args, "-t", "--detailed-results")
        assert offline.returncode == 1 and "verno calls a service only when --allow-egress" in offline.stdout
        assert srv.hits == []
        allowed = _apply(*args, "--allow-egress", "127.0.0.1")
        assert allowed.returncode == 0, allowed.stdout + allowed.stderr
        assert "pass: 1, fail: 0, warn: 0, error: 0, skip: 0" in allowed.stdout and len(srv.hits) == 1
    bad = _apply(*args, "--allow-egress", "10.0.0.1/8")
    assert bad.returncode == 2 and "Invalid value for --allow-egress: '10.0.0.1/8': 10.0.0.1/8 has host bits set" \
        in bad.stderr
