"""Fail closed on policy load errors: descriptor exhaustion never turns into an empty policy set.

The directory walk used to swallow "too many open files" (``os.walk`` skips what it cannot list), so a
reload during descriptor exhaustion installed 0 policies and allowed everything.
"""
from __future__ import annotations

import copy
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

from serverproc import VernoServer, admission_request, eventually

DATA = Path(__file__).parent / "data"
SRC = Path(__file__).resolve().parents[2] / "src"
POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
       "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}

#: in a fresh interpreter: load a store, then make every new descriptor fail and reload
EXHAUSTED_RELOAD = r"""
import json, os, resource, sys, logging
logging.disable(logging.CRITICAL)
from verno.core.engine import Engine
from verno.server.policies import FilePolicyStore
store = FilePolicyStore(Engine(), [sys.argv[1]])
store.load()
before = len(store.snapshot.policies)
policy = os.path.join(sys.argv[1], sorted(os.listdir(sys.argv[1]))[0])
st = os.stat(policy)
os.utime(policy, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
open_fds = len(os.listdir("/proc/self/fd")) - 1  # the listing itself held one
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (open_fds, hard))
installed = store.check()
resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
print(json.dumps({"before": before, "after": len(store.snapshot.policies), "installed": installed,
                  "error": store.last_error, "failures": store.reloads["failure"]}))
"""


def test_reload_under_descriptor_exhaustion_keeps_the_last_good_set(tmp_path):
    policies = tmp_path / "policies"
    shutil.copytree(DATA / "policies", policies)
    out = subprocess.run([sys.executable, "-c", EXHAUSTED_RELOAD, str(policies)], capture_output=True, text=True,
                         env={"PYTHONPATH": os.environ.get('VERNO_SRC', str(SRC)), "PATH": "/usr/bin:/bin"}, timeout=60)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["before"] == 7
    assert result["installed"] is False
    assert result["after"] == 7, result
    assert "Too many open files" in result["error"]
    assert result["failures"] == 1


def _lower_nofile() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (128, 128))


def test_server_under_descriptor_exhaustion_denies_on_open_connections(tmp_path):
    """~20k idle connections in the report; here the server gets 128 descriptors, idle TLS connections
    take them all, a policy file changes: the reload fails (logged at error level, counted), and a
    violating Pod sent on an already-open keep-alive connection is still denied."""
    policies = tmp_path / "policies"
    shutil.copytree(DATA / "policies", policies)
    srv = VernoServer(tmp_path, ["--policies", str(policies), "--evaluators", "1", "--max-connections", "0",
                                 "--max-connections-per-client", "0", "--header-timeout", "60"],
                      preexec_fn=_lower_nofile)
    idle = []
    try:
        srv.wait_ready()
        pod = copy.deepcopy(POD)
        assert srv.review("/validate", admission_request(pod))["allowed"] is False  # opens the keep-alive connection
        failures = 0
        while failures < 3 and len(idle) < 400:
            try:
                idle.append(srv.tls_socket(timeout=1.0))
                failures = 0
            except OSError:
                failures += 1
        assert len(idle) < 400, "the server never ran out of descriptors"
        target = policies / "require-app-label.yaml"
        target.write_text(target.read_text() + "\n# touched\n")
        eventually(lambda: "policy load failed" in srv.logs(), timeout=15)
        failed = [json.loads(line) for line in srv.logs().splitlines()
                  if line.startswith("{") and "policy load failed" in line]
        assert failed[0]["level"] == "error" and "Too many open files" in failed[0]["error"]
        assert failed[0]["policies"] == 7
        for _ in range(5):
            denied = srv.review("/validate", admission_request(copy.deepcopy(POD)))
            assert denied["allowed"] is False and "require-app-label" in denied["status"]["message"]
        metrics = srv.client.get("/metrics").text
        assert "verno_policy_load_failing 1" in metrics
        assert 'verno_policy_reloads_total{result="failure"}' in metrics
        for sock in idle:
            sock.close()
        idle.clear()
        # descriptors back: the retry loads the changed set
        eventually(lambda: "policy load recovered" in srv.logs(), timeout=40, interval=0.5)
        assert srv.review("/validate", admission_request(copy.deepcopy(POD)))["allowed"] is False
    finally:
        for sock in idle:
            sock.close()
        srv.stop()


def test_readiness_is_false_and_requests_fail_closed_before_any_good_set(tmp_path):
    """A server whose policies cannot be loaded never becomes ready (it does not start serving)."""
    broken = tmp_path / "policies"
    broken.mkdir()
    (broken / "bad.yaml").write_text("apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: x}\n"
                                     "spec: {rules: [{name: r, match: {}, nonsense: 1}]}\n")
    srv = VernoServer(tmp_path, ["--policies", str(broken), "--evaluators", "1"])
    try:
        deadline = time.monotonic() + 60
        while srv.proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert srv.proc.returncode == 3, srv.logs()
        assert "start-up failed" in srv.logs()
    finally:
        srv.stop()
