"""Registry access through Sources flags."""
from __future__ import annotations

from vi_cosign import push_signatures, signature
from vi_pki import new_key, public_pem
from vi_policy import evaluate, keys, pod, repo
from vi_regserver import allow_loopback

from verno.core.results import Status
from verno.core.sources import Sources


def test_registry_access_flag_with_allow_insecure_builds_a_pool(engine, registry, pusher):
    r = repo()
    digest = pusher.image(r, "v1")
    key = new_key()
    push_signatures(pusher, r, digest, [signature(key, f"{registry.host}/{r}", digest)])
    spec = {"attestors": [{"entries": [keys(public_pem(key))]}]}
    ok = Sources(registry_access=True, allow_insecure_registry=True, egress=allow_loopback())
    rules, _ = evaluate(engine, ok, pod(f"{registry.host}/{r}:v1"), spec)
    assert [x.status for x in rules] == [Status.PASS]
    rules, _ = evaluate(engine, Sources(registry_access=True, egress=allow_loopback()), pod(f"{registry.host}/{r}:v1"),
                        spec)
    assert rules[0].status == Status.ERROR and "allowInsecureRegistry" in rules[0].message
    policy_allows = {**spec, "imageRegistryCredentials": {"allowInsecureRegistry": True}}
    rules, _ = evaluate(engine, Sources(registry_access=True, egress=allow_loopback()), pod(f"{registry.host}/{r}:v1"),
                        policy_allows)
    assert rules[0].status == Status.PASS
