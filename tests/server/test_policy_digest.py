"""Evaluation processes decide only with the server's policy set (Snapshot.digest)."""
from __future__ import annotations

from types import SimpleNamespace

import yaml

from verno.core.engine import Engine
from verno.core.policyset import load_policy_set
from verno.server import evalworker
from verno.server.policies import Snapshot

POLICY = """apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: NAME}
spec:
  validationFailureAction: Enforce
  rules:
  - name: r
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate: {message: m, pattern: {metadata: {labels: {LABEL: "?*"}}}}
"""


def _snapshot(tmp_path, *pairs):
    path = tmp_path / f"p{len(list(tmp_path.iterdir()))}.yaml"
    path.write_text("---\n".join(POLICY.replace("NAME", n).replace("LABEL", l) for n, l in pairs))
    ps = load_policy_set(Engine(), [str(path)])
    return Snapshot.build(ps.policies, ps.exceptions, 1)


def test_equal_sets_have_equal_digests_across_loads(tmp_path):
    a = _snapshot(tmp_path, ("one", "app"), ("two", "team"))
    b = _snapshot(tmp_path, ("one", "app"), ("two", "team"))
    assert a.digest and a.digest == b.digest
    assert _snapshot(tmp_path, ("one", "app")).digest != a.digest
    assert _snapshot(tmp_path, ("one", "app"), ("two", "tier")).digest != a.digest


def test_a_process_holding_another_set_answers_stale_after_looking_again(tmp_path):
    held = _snapshot(tmp_path, ("one", "app"))
    servers = _snapshot(tmp_path, ("one", "app"), ("deny-gold", "tier"))
    checks = []
    store = SimpleNamespace(snapshot=held, check=lambda: checks.append(1))
    evaluator = SimpleNamespace(store=store)
    answer = evalworker._answer(evaluator, "validate", "validate", b"not even read", servers.digest)
    assert answer == {"stale": held.digest} and checks == [1]


def test_a_process_that_catches_up_on_looking_again_decides(tmp_path):
    held = _snapshot(tmp_path, ("one", "app"))
    servers = _snapshot(tmp_path, ("one", "app"), ("deny-gold", "tier"))
    store = SimpleNamespace(snapshot=held)
    store.check = lambda: setattr(store, "snapshot", servers)
    store.namespace_labels = lambda ns: None
    decided = []

    def evaluate(endpoint, snapshot, policies, request, kinds=()):
        decided.append(snapshot.digest)
        from verno.server.decide import Decision
        return Decision()

    review = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": "u", "kind": {"group": "", "version": "v1", "kind": "Pod"}, "operation": "CREATE",
        "object": yaml.safe_load("apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: default}\n")}}
    import json

    answer = evalworker._answer(SimpleNamespace(store=store, evaluate=evaluate), "validate", "validate",
                                json.dumps(review).encode(), servers.digest)
    assert "decision" in answer and decided == [servers.digest]
