"""List and watch: from a resourceVersion, selector transitions, 410 Expired after compaction, timeouts,
bookmarks, as the Python client's Watch sees them."""
from __future__ import annotations

import json
import threading
import time
import urllib.request

import pytest
from kubernetes import client, watch


def cm(name: str, **labels: str) -> dict:
    return {"metadata": {"name": name, "labels": labels}}


def events(v1: client.CoreV1Api, **kw) -> list[tuple[str, str, str]]:
    out = []
    for ev in watch.Watch().stream(v1.list_namespaced_config_map, "default", timeout_seconds=1, **kw):
        out.append((ev["type"], ev["object"].metadata.name, ev["object"].metadata.resource_version))
    return out


def test_watch_from_a_resource_version_replays_later_events(api_client):
    v1 = client.CoreV1Api(api_client)
    a = v1.create_namespaced_config_map("default", cm("a"))
    listed = v1.list_namespaced_config_map("default")
    assert listed.metadata.resource_version == a.metadata.resource_version
    v1.create_namespaced_config_map("default", cm("b"))
    v1.patch_namespaced_config_map("a", "default", {"data": {"x": "1"}})
    v1.delete_namespaced_config_map("b", "default")
    seen = events(v1, resource_version=listed.metadata.resource_version)
    assert [(t, n) for t, n, _ in seen] == [("ADDED", "b"), ("MODIFIED", "a"), ("DELETED", "b")]
    rvs = [int(rv) for _, _, rv in seen]
    assert rvs == sorted(rvs) and rvs[0] > int(listed.metadata.resource_version)
    assert [(t, n) for t, n, _ in events(v1)] == [("ADDED", "a")]  # no resourceVersion: current state


def test_watch_selectors_turn_transitions_into_added_and_deleted(api_client):
    v1 = client.CoreV1Api(api_client)
    start = v1.create_namespaced_config_map("default", cm("x")).metadata.resource_version
    v1.patch_namespaced_config_map("x", "default", {"metadata": {"labels": {"team": "a"}}})
    v1.patch_namespaced_config_map("x", "default", {"data": {"k": "v"}})
    v1.patch_namespaced_config_map("x", "default", {"metadata": {"labels": {"team": "b"}}})
    seen = events(v1, resource_version=start, label_selector="team=a")
    assert [t for t, _, _ in seen] == ["ADDED", "MODIFIED", "DELETED"]


def test_live_events_reach_an_open_watch(api_client):
    v1 = client.CoreV1Api(api_client)
    w = watch.Watch()
    got: list[str] = []

    def consume() -> None:
        for ev in w.stream(v1.list_namespaced_config_map, "default", timeout_seconds=5):
            got.append(f"{ev['type']} {ev['object'].metadata.name}")
            if len(got) == 2:
                w.stop()
    t = threading.Thread(target=consume)
    t.start()
    time.sleep(0.3)
    v1.create_namespaced_config_map("default", cm("live"))
    v1.delete_namespaced_config_map("live", "default")
    t.join(timeout=10)
    assert got == ["ADDED live", "DELETED live"]


def test_too_old_resource_version_is_410_expired(api_client, apiserver):
    v1 = client.CoreV1Api(api_client)
    old = v1.create_namespaced_config_map("default", cm("o")).metadata.resource_version
    v1.patch_namespaced_config_map("o", "default", {"data": {"a": "b"}})
    apiserver.compact()
    with urllib.request.urlopen(f"{apiserver.url}/api/v1/namespaces/default/configmaps?watch=true&"
                                f"resourceVersion={old}") as resp:
        lines = [json.loads(line) for line in resp.read().splitlines()]
    assert resp.status == 200 and len(lines) == 1 and lines[0]["type"] == "ERROR"
    status = lines[0]["object"]
    assert (status["code"], status["reason"]) == (410, "Expired")
    assert status["message"] == f"too old resource version: {old} ({apiserver.store.rv + 1})"
    with pytest.raises(client.ApiException) as info:
        events(v1, resource_version=old)
    assert info.value.status == 410
    current = v1.list_namespaced_config_map("default").metadata.resource_version
    v1.create_namespaced_config_map("default", cm("after"))
    assert [(t, n) for t, n, _ in events(v1, resource_version=current)] == [("ADDED", "after")]


def test_bounded_history_expires_the_oldest_events(tmp_path):
    from apiserver.server import APIServer
    with APIServer(history=3) as server:
        create = server.create
        first = create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c0", "namespace": "default"}})
        for n in range(1, 5):
            create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"c{n}", "namespace": "default"}})
        url = f"{server.url}/api/v1/configmaps?watch=1&resourceVersion={first['metadata']['resourceVersion']}"
        with urllib.request.urlopen(url) as resp:
            assert json.loads(resp.readline())["object"]["code"] == 410


def test_bookmarks_when_allowed(api_client, apiserver):
    apiserver.bookmark_interval = 0.2
    url = f"{apiserver.url}/api/v1/namespaces/default/configmaps?watch=true&allowWatchBookmarks=true&" \
          f"timeoutSeconds=1&resourceVersion={apiserver.store.rv}"
    with urllib.request.urlopen(url) as resp:
        lines = [json.loads(line) for line in resp.read().splitlines()]
    assert lines and all(ev["type"] == "BOOKMARK" for ev in lines)
    assert lines[0]["object"] == {"kind": "ConfigMap", "apiVersion": "v1",
                                  "metadata": {"resourceVersion": str(apiserver.store.rv)}}
