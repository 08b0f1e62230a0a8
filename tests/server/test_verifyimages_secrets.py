"""verifyImages in cluster mode: registry credentials and attestor keys from Kubernetes Secrets, read
through the kubernetes-client cluster client from the stand-in API server, against the real TLS +
htpasswd registry."""
from __future__ import annotations

import base64
import json
import ssl

import pytest
from fakeapi import FakeAPI
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from vi_cosign import Pusher, push_signatures, signature
from vi_fixtures import tls_registry  # noqa: F401  (TLS + htpasswd registry)
from vi_pki import new_key, public_pem
from vi_policy import OFFLINE, evaluate, keys, pod, repo

from verno.core.egress import EgressPolicy
from verno.core.engine import Engine
from verno.core.results import Status
from verno.core.sources import Sources
from verno.registry import Registries
from verno.server.cluster import KubeClusterClient


def _b64(data: str | bytes) -> str:
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


@pytest.fixture(scope="module")
def world(tls_registry, tmp_path_factory):  # noqa: F811
    api = FakeAPI()
    try:
        push = Pusher(tls_registry.base_url, auth=(tls_registry.user, tls_registry.password),
                      verify=ssl.create_default_context(cadata=tls_registry.ca_pem))
        key = new_key()
        r = repo()
        digest = push.image(r, "v1")
        push_signatures(push, r, digest, [signature(key, f"{tls_registry.host}/{r}", digest)])
        auth = _b64(f"{tls_registry.user}:{tls_registry.password}")
        config = json.dumps({"auths": {tls_registry.host: {"auth": auth}}})
        creds = {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
                 "data": {".dockerconfigjson": _b64(config)}}
        api.secrets[("verno", "regcred")] = {**creds, "metadata": {"name": "regcred", "namespace": "verno"}}
        api.secrets[("team", "pull")] = {**creds, "metadata": {"name": "pull", "namespace": "team"}}
        api.secrets[("keys", "signer")] = {"apiVersion": "v1", "kind": "Secret",
                                           "metadata": {"name": "signer", "namespace": "keys"},
                                           "data": {"cosign.pub": _b64(public_pem(key))}}
        cfg = k8s.Configuration()
        k8s_config.load_kube_config(config_file=str(api.kubeconfig(tmp_path_factory.mktemp("kube") / "config")),
                                    client_configuration=cfg)
        cluster = KubeClusterClient(k8s.ApiClient(cfg), 5.0, namespace="verno")
        registries = Registries(credentials={}, ca=tls_registry.ca_pem, egress=EgressPolicy.parse(["127.0.0.1"]))
        yield {"api": api, "cluster": cluster, "registries": registries, "image": f"{tls_registry.host}/{r}:v1",
               "digest": digest, "pem": public_pem(key)}
        registries.close()
    finally:
        api.close()


def _sources(world, cluster=True) -> Sources:
    return Sources(registry_access=True, registry_client=world["registries"],
                   cluster=world["cluster"] if cluster else None)


def test_anonymous_access_fails_on_the_authenticated_registry(world):
    rules, _ = evaluate(Engine(), _sources(world), pod(world["image"]), {"attestors": [{"entries": [keys(world["pem"])]}]})
    assert rules[0].status == Status.ERROR, rules[0].message


def test_dockerconfigjson_secret_credentials_let_verification_pass(world):
    for secret in ("regcred", "verno/regcred"):
        rules, _ = evaluate(Engine(), _sources(world), pod(world["image"]), {
            "imageRegistryCredentials": {"secrets": [secret]}, "attestors": [{"entries": [keys(world["pem"])]}]})
        assert rules[0].status == Status.PASS, rules[0].message
    assert "/api/v1/namespaces/verno/secrets/regcred" in world["api"].requests


def test_pod_image_pull_secrets_are_used(world):
    resource = pod(world["image"])
    resource["metadata"]["namespace"] = "team"
    resource["spec"]["imagePullSecrets"] = [{"name": "missing"}, {"name": "pull"}]
    rules, _ = evaluate(Engine(), _sources(world), resource, {"attestors": [{"entries": [keys(world["pem"])]}]})
    assert rules[0].status == Status.PASS, rules[0].message


@pytest.mark.parametrize("entry", [
    {"keys": {"publicKeys": "k8s://keys/signer", **OFFLINE}},
    {"keys": {"secret": {"name": "signer", "namespace": "keys"}, **OFFLINE}},
])
def test_k8s_key_verifies_a_signature(world, entry):
    rules, _ = evaluate(Engine(), _sources(world), pod(world["image"]), {
        "imageRegistryCredentials": {"secrets": ["regcred"]}, "attestors": [{"entries": [entry]}]})
    assert rules[0].status == Status.PASS, rules[0].message
    assert rules[0].message == f"verified image signatures for {world['image']}"


def test_k8s_key_of_another_signer_fails(world):
    other = base64.b64encode(public_pem(new_key()).encode()).decode()
    world["api"].secrets[("keys", "other")] = {"metadata": {"name": "other", "namespace": "keys"},
                                               "data": {"cosign.pub": other}}
    rules, _ = evaluate(Engine(), _sources(world), pod(world["image"]), {
        "imageRegistryCredentials": {"secrets": ["regcred"]},
        "attestors": [{"entries": [{"keys": {"publicKeys": "k8s://keys/other", **OFFLINE}}]}]})
    assert rules[0].status == Status.FAIL, rules[0].message


def test_missing_secrets_are_clear_errors(world):
    rules, _ = evaluate(Engine(), _sources(world), pod(world["image"]), {
        "imageRegistryCredentials": {"secrets": ["nope"]}, "attestors": [{"entries": [keys(world["pem"])]}]})
    assert rules[0].status == Status.ERROR
    assert "imageRegistryCredentials.secrets: Secret verno/nope not found" in rules[0].message
    rules, _ = evaluate(Engine(), _sources(world), pod(world["image"]), {
        "imageRegistryCredentials": {"secrets": ["regcred"]},
        "attestors": [{"entries": [{"keys": {"publicKeys": "k8s://keys/absent", **OFFLINE}}]}]})
    assert rules[0].status == Status.ERROR
    assert ".attestors[0].entries[0].keys: Secret keys/absent not found" in rules[0].message


def test_offline_secret_entries_need_cluster_access(world):
    rules, _ = evaluate(Engine(), _sources(world, cluster=False), pod(world["image"]), {
        "imageRegistryCredentials": {"secrets": ["regcred"]}, "attestors": [{"entries": [keys(world["pem"])]}]})
    assert rules[0].status == Status.ERROR
    assert "Secret regcred needs cluster access" in rules[0].message
    rules, _ = evaluate(Engine(), _sources(world, cluster=False), pod(world["image"]), {
        "attestors": [{"entries": [{"keys": {"publicKeys": "k8s://keys/signer", **OFFLINE}}]}]})
    assert rules[0].status == Status.ERROR
    assert "Secret keys/signer needs cluster access" in rules[0].message


def _ivpol(world, **spec):
    """An ImageValidatingPolicy over the TLS registry's images, verified with the world's key."""
    import sys
    from pathlib import Path

    helpers = str(Path(__file__).resolve().parents[1] / "plugins" / "imagevalidatingpolicy")
    if helpers not in sys.path:
        sys.path.insert(0, helpers)
    from ivpol_helpers import key_attestor, load, policy_doc

    host = world["image"].split("/")[0]
    doc = policy_doc(["images.containers.all(i, verifyImageSignatures(i, [attestors.key]) > 0)"],
                     [key_attestor("key", world["pem"], **spec.pop("cosign", {}))],
                     validationConfigurations={"verifyDigest": False}, **spec)
    doc["spec"]["matchImageReferences"] = [{"glob": f"{host}/*"}]
    engine = Engine()
    return engine, load(engine, doc)


def _ivpol_status(world, engine, policy):
    from verno.core.policykinds import KindInputs
    from verno.core.request import Request

    [response] = engine.evaluate_kinds([policy], Request(pod(world["image"]), None, "CREATE"),
                                       KindInputs(_sources(world), {}, engine=engine))
    return response.rules[0].status, response.rules[0].message


def test_image_validating_policy_credentials_and_pull_secrets_from_secrets(world):
    """An ImageValidatingPolicy reads registry credentials from `credentials.secrets` and from a cosign
    attestor's `source.PullSecrets` (Secrets in verno's namespace); without them the registry refuses."""
    assert _ivpol_status(world, *_ivpol(world))[0] is Status.ERROR
    assert _ivpol_status(world, *_ivpol(world, credentials={"secrets": ["regcred"]})) == (Status.PASS, "success")
    status = _ivpol_status(world, *_ivpol(world, cosign={"source": {"PullSecrets": [{"name": "regcred"}]}}))
    assert status == (Status.PASS, "success")
    status, message = _ivpol_status(world, *_ivpol(world, cosign={"source": {"PullSecrets": [{"name": "nope"}]}}))
    assert status is Status.ERROR and "attestor key: cosign.source.PullSecrets: Secret verno/nope not found" in message
