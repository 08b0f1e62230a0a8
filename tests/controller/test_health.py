"""The controller's health endpoints and metrics (queue depth, leadership, results, writes, 403s)."""
from __future__ import annotations

import urllib.error
import urllib.request

from controller.harness import wait_for
from controller.policies import NETPOL
from controller.test_generate import namespace, netpol, request_for


def get(running, path: str) -> tuple[int, str]:
    host, port = running.controller.http.server_address[:2]
    try:
        with urllib.request.urlopen(f"http://{host}:{port}{path}", timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_health_and_metrics(cluster, controllers):
    cluster.create(NETPOL)
    cluster.deny("create", "networking.k8s.io", "networkpolicies", "locked")
    leader = controllers(identity="leader", port=0)
    wait_for(lambda: leader.controller.http is not None and leader.controller.working.is_set())
    standby = controllers(identity="standby", port=0)
    wait_for(lambda: standby.controller.http is not None and standby.controller.elector.reached.is_set())
    assert get(leader, "/health/liveness") == (200, '{"status": "ok"}')
    assert get(leader, "/health/readiness")[0] == 200 and get(standby, "/health/readiness")[0] == 200
    assert "verno_controller_leader 0" in get(standby, "/metrics")[1]
    request_for(cluster, "add-networkpolicy", "default-deny", namespace(cluster, "probe"))
    request_for(cluster, "add-networkpolicy", "default-deny", namespace(cluster, "locked"))
    wait_for(lambda: netpol(cluster, "probe"))
    wait_for(lambda: 'verno_controller_permission_denied_total{verb="create",kind="NetworkPolicy",namespace="locked"}'
             in get(leader, "/metrics")[1], what="the 403 counted")
    text = wait_for(lambda: (lambda t: 'result="completed"} 1' in t and t)(get(leader, "/metrics")[1]))
    assert "verno_controller_leader 1" in text
    assert 'verno_controller_downstream_writes_total{action="created"} 1' in text
    assert 'verno_controller_update_requests_total{result="failed"}' in text
    assert "verno_controller_queue_depth " in text and "verno_controller_reconcile_seconds_total " in text
    assert get(leader, "/nowhere")[0] == 404
