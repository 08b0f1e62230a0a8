"""The report layout's pieces (resource hash, policy labels, digests) and the bounded writer against the
stand-in: created, left alone when equal, written over a report changed elsewhere (409 -> re-read), deleted."""
from __future__ import annotations

import threading

from hypothesis import given, settings, strategies as st

from verno.controller.kube import Kube
from verno.controller.reports import (
    LABEL_NAME_MAX, ReportWriter, build_report, policy_label, resource_hash, results_digest,
)

POD = {"apiVersion": "v1", "kind": "Pod",
       "metadata": {"name": "web", "namespace": "apps", "uid": "u-1", "labels": {"a": "1"}, "resourceVersion": "5"},
       "spec": {"containers": [{"name": "c", "image": "nginx"}]}, "status": {"phase": "Running"}}
RESULT = {"source": "kyverno", "policy": "p", "rule": "r", "result": "fail", "scored": True,
          "timestamp": {"seconds": 1, "nanos": 0}, "message": "m", "properties": {"process": "background scan"}}


def test_resource_hash_follows_labels_annotations_and_spec_not_status_or_bookkeeping():
    base = resource_hash(POD)
    assert resource_hash({**POD, "status": {"phase": "Failed"}}) == base
    assert resource_hash({**POD, "metadata": {**POD["metadata"], "resourceVersion": "9"}}) == base
    assert resource_hash({**POD, "metadata": {**POD["metadata"], "labels": {"a": "2"}}}) != base
    assert resource_hash({**POD, "metadata": {**POD["metadata"], "annotations": {"x": "y"}}}) != base
    assert resource_hash({**POD, "spec": {"containers": []}}) != base


@settings(max_examples=50, deadline=None)
@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=253))
def test_policy_labels_are_valid_label_keys_and_distinct(name):
    key = policy_label("ClusterPolicy", name)
    prefix, _, rest = key.partition("/")
    assert prefix == "cpol.kyverno.io" and 0 < len(rest) <= LABEL_NAME_MAX
    assert key != policy_label("ClusterPolicy", name + "x")
    assert policy_label("Policy", name).startswith("pol.kyverno.io/")


def test_digest_ignores_timestamps_and_order():
    other = {**RESULT, "rule": "s"}
    assert results_digest([RESULT, other]) == results_digest([other, {**RESULT, "timestamp": {"seconds": 9,
                                                                                                 "nanos": 0}}])
    assert results_digest([RESULT]) != results_digest([{**RESULT, "result": "pass"}])


def test_writer_creates_overwrites_a_changed_report_and_deletes(cluster, api_client):
    kube = Kube(api_client)
    cluster.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "apps"}})
    pod = cluster.create({k: v for k, v in POD.items() if k != "status"} | {
        "metadata": {"name": "web", "namespace": "apps"}})
    stop = threading.Event()
    actions: list[str] = []
    writer = ReportWriter(kube, False, stop, writers=1, on_write=actions.append).start()
    try:
        uid = pod["metadata"]["uid"]
        first = build_report(pod, True, [RESULT], {"cpol.kyverno.io/p": "a"}, 1_800_000_000, False)
        writer.put(uid, first, "apps", True)
        _wait(lambda: writer.known(uid) is not None)
        stored = cluster.get("wgpolicyk8s.io/v1alpha2", "PolicyReport", uid, "apps")
        assert stored["metadata"]["annotations"]["audit.kyverno.io/last-scan-time"] == "2027-01-15T08:00:00Z"
        assert writer.known(uid).labels == {"cpol.kyverno.io/p": "a"}

        # someone else changes the report: the writer's resourceVersion is stale, its PUT meets a 409
        stored["metadata"]["labels"]["extra"] = "x"
        kube.replace(writer.namespaced_res, "apps", stored)
        second = build_report(pod, True, [{**RESULT, "result": "pass"}], {"cpol.kyverno.io/p": "b"},
                              1_800_000_100, False)
        writer.put(uid, second, "apps", True)
        _wait(lambda: "updated" in actions)
        assert actions == ["created", "conflict", "updated"]
        stored = cluster.get("wgpolicyk8s.io/v1alpha2", "PolicyReport", uid, "apps")
        assert stored["summary"]["pass"] == 1 and stored["metadata"]["labels"]["cpol.kyverno.io/p"] == "b"

        writer.put(uid, None, "apps", True)
        _wait(lambda: writer.known(uid) is None)
        assert cluster.get("wgpolicyk8s.io/v1alpha2", "PolicyReport", uid, "apps") is None
        assert actions[-1] == "deleted" and writer.writes == 3
    finally:
        stop.set()
        writer.close()


def _wait(check, timeout: float = 10.0) -> None:
    from controller.harness import wait_for

    wait_for(check, timeout)
