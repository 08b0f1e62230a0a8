from __future__ import annotations

from verno.core.results import Status
from verno.core.sources import Sources


def _cm(name: str = "trigger", namespace: str = "staging") -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace},
            "data": {"team": "blue"}}


def _secret(name: str, namespace: str, labels: dict | None = None) -> dict:
    return {"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": name, "namespace": namespace, "labels": labels or {}}}


def test_targets_are_patched_with_target_variable(run) -> None:
    sources = Sources(cluster_resources=[_secret("s-1", "staging", {"a": "1"}), _secret("s-2", "prod"),
                                         _secret("other", "staging"), _cm("x", "staging")])
    mutate = {
        "targets": [{"apiVersion": "v1", "kind": "Secret", "name": "s-*",
                     "namespace": "{{request.object.metadata.namespace}}"}],
        "patchStrategicMerge": {"metadata": {"labels": {
            "team": "{{request.object.data.team}}", "was": "{{target.metadata.name}}", "a": "{{@}}x"}}},
    }
    out = run(mutate, _cm(), sources=sources, kinds=("ConfigMap",))
    assert len(out.rules) == 1
    rr = out.rules[0]
    assert (rr.status, rr.message) == (Status.PASS, "mutated Secret/s-1 in namespace staging")
    assert rr.patched_resource["metadata"]["labels"] == {"a": "1x", "team": "blue", "was": "s-1"}


def test_target_preconditions_and_selector(run) -> None:
    sources = Sources(cluster_resources=[_secret("s-1", "staging", {"keep": "yes"}),
                                         _secret("s-2", "staging", {"keep": "no"}),
                                         _secret("s-3", "staging")])
    mutate = {
        "targets": [{"apiVersion": "v1", "kind": "Secret", "namespace": "staging",
                     "selector": {"matchExpressions": [{"key": "keep", "operator": "Exists"}]},
                     "preconditions": {"all": [{"key": "{{target.metadata.labels.keep}}", "operator": "Equals",
                                                "value": "yes"}]}}],
        "patchesJson6902": "- {op: add, path: /metadata/labels/done, value: 'true'}",
    }
    out = run(mutate, _cm(), sources=sources, kinds=("ConfigMap",))
    assert [(r.status, (r.patched_resource or {}).get("metadata", {}).get("name")) for r in out.rules] == [
        (Status.PASS, "s-1"), (Status.SKIP, None)]


def test_no_target_no_response(run) -> None:
    mutate = {"targets": [{"apiVersion": "v1", "kind": "Secret", "name": "none"}],
              "patchStrategicMerge": {"metadata": {"labels": {"a": "b"}}}}
    assert run(mutate, _cm(), sources=Sources(), kinds=("ConfigMap",)).rules == []
