"""verifyImages rules as ImageValidatingPolicies: the migrated policy decides like the original on images in
the real local docker-registry (signed by the key, signed by another key, unsigned, not selected), and what
has no ImageValidatingPolicy form is left with its reason."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

HELPERS = Path(__file__).resolve().parents[2] / "verifyimages"
if str(HELPERS) not in sys.path:
    sys.path.insert(0, str(HELPERS))

from vi_cosign import push_signatures, signature  # noqa: E402
from vi_fixtures import pusher, registry  # noqa: E402,F401  (the real docker-registry, shared)
from vi_pki import new_key, public_pem  # noqa: E402
from vi_regserver import allow_loopback  # noqa: E402

from verno.core.engine import Engine  # noqa: E402
from verno.core.loading import Document  # noqa: E402
from verno.core.migration import migrate_policy  # noqa: E402
from verno.core.models.policy import Policy  # noqa: E402
from verno.core.policykinds import KindInputs  # noqa: E402
from verno.core.request import Request  # noqa: E402
from verno.core.sources import Sources  # noqa: E402
from verno.registry import Registries  # noqa: E402

OFFLINE = {"rekor": {"ignoreTlog": True}, "ctlog": {"ignoreSCT": True}}


@pytest.fixture(scope="module")
def world(registry, pusher):  # noqa: F811
    key, other = new_key(), new_key()
    host = registry.host
    images = {}
    for name, signer in (("signed", key), ("other", other), ("unsigned", None)):
        digest = pusher.image(f"mig/{name}", "v1")
        if signer is not None:
            push_signatures(pusher, f"mig/{name}", digest, [signature(signer, f"{host}/mig/{name}", digest)])
        images[name] = f"{host}/mig/{name}@{digest}"
    egress = allow_loopback()
    sources = Sources(registry_access=True, egress=egress,
                      registry_client=Registries(credentials={}, allow_insecure=True, egress=egress))
    return {"host": host, "pem": public_pem(key), "images": images, "sources": sources}


def cluster_policy(entry: dict) -> dict:
    return {"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy", "metadata": {"name": "signed-images"},
            "spec": {"validationFailureAction": "Enforce", "rules": [{
                "name": "verify", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]}, "verifyImages": [entry]}]}}


def pod(*images: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "default"},
            "spec": {"containers": [{"name": f"c{i}", "image": im} for i, im in enumerate(images)]}}


def verdicts(world, doc: dict, resource: dict) -> tuple[list[str], list[str]]:
    """(the original's rule statuses, the migrated policy's) on ``resource``."""
    engine = Engine()
    policy = Policy.model_validate(doc)
    original = engine.evaluate([engine.prepare(policy)], Request(resource), sources=world["sources"])[0]
    migration = migrate_policy(engine, policy)
    assert migration.whole, migration.untranslated
    [migrated_doc] = migration.documents
    kind = engine.policy_kinds.kind_of("policies.kyverno.io", migrated_doc["kind"])
    migrated = kind.load(Document("migrated", 0, migrated_doc), engine)
    out = engine.evaluate_kinds([migrated], Request(resource, None, "CREATE"),
                                KindInputs(world["sources"], {}, engine=engine))
    # a rule that does not apply is Kyverno's skip and no response of the migrated policy (as --check counts)
    return ([r.status.value for r in original.rules if r.status.value != "skip"],
            [r.status.value for resp in out for r in resp.rules])


@pytest.mark.parametrize("case, expected", [
    ("signed", "pass"), ("other", "fail"), ("unsigned", "fail"),
])
def test_a_key_attestor_decides_as_the_original(world, case, expected):
    entry = {"imageReferences": [f"{world['host']}/mig/*"],
             "attestors": [{"entries": [{"keys": {"publicKeys": world["pem"], **OFFLINE}}]}]}
    original, migrated = verdicts(world, cluster_policy(entry), pod(world["images"][case]))
    assert original == [expected] and migrated == [expected]


def test_an_image_the_rule_does_not_select_gives_no_result_in_either(world):
    entry = {"imageReferences": [f"{world['host']}/mig/*"],
             "skipImageReferences": [f"{world['host']}/mig/unsigned*"],
             "attestors": [{"entries": [{"keys": {"publicKeys": world["pem"], **OFFLINE}}]}]}
    assert verdicts(world, cluster_policy(entry), pod("docker.io/library/nginx:1.27")) == ([], [])
    assert verdicts(world, cluster_policy(entry), pod(world["images"]["unsigned"])) == ([], [])
    assert verdicts(world, cluster_policy(entry), pod(world["images"]["signed"])) == (["pass"], ["pass"])


def test_count_of_an_attestor_set(world):
    other_pem = public_pem(new_key())
    entry = {"imageReferences": [f"{world['host']}/mig/*"],
             "attestors": [{"count": 1, "entries": [{"keys": {"publicKeys": world["pem"], **OFFLINE}},
                                                    {"keys": {"publicKeys": other_pem, **OFFLINE}}]}]}
    assert verdicts(world, cluster_policy(entry), pod(world["images"]["signed"])) == (["pass"], ["pass"])
    del entry["attestors"][0]["count"]  # all entries must verify
    assert verdicts(world, cluster_policy(entry), pod(world["images"]["signed"])) == (["fail"], ["fail"])


@pytest.mark.parametrize("entry, reason", [
    ({"imageReferences": ["*"], "attestations": [{"type": "https://slsa.dev/provenance/v0.2"}],
      "attestors": [{"entries": [{"keys": {"publicKeys": "k"}}]}]}, "attestations"),
    ({"imageReferences": ["*"], "attestors": [{"entries": [{"keys": {"publicKeys": "k8s://ns/key"}}]}]}, "Secret"),
    ({"imageReferences": ["*"], "type": "Notary", "attestors": [{"entries": [{"certificates": {"cert": "c"}}]}]},
     "Notary"),
    ({"imageReferences": ["*"], "verifyDigest": True}, "without attestors"),
])
def test_what_has_no_image_validating_policy_form_is_left_with_its_reason(entry, reason):
    migration = migrate_policy(Engine(), Policy.model_validate(cluster_policy(entry)))
    [(rule, why)] = migration.untranslated
    assert rule == "verify" and reason in why
