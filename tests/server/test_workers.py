"""``--workers 2``: worker processes share the port; each loads the policies and answers."""
from __future__ import annotations

import copy
from pathlib import Path

from serverproc import VernoServer, admission_request

DATA = Path(__file__).parent / "data"
POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
       "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}


def test_two_workers_answer_and_shut_down(tmp_path):
    srv = VernoServer(tmp_path, ["--policies", str(DATA / "policies"), "--workers", "2"])
    try:
        srv.wait_ready()
        for _ in range(6):
            denied = srv.review("/validate", admission_request(copy.deepcopy(POD)))
            assert denied["allowed"] is False and "require-app-label" in denied["status"]["message"]
    finally:
        code = srv.stop()
    assert code in (0, -15), srv.logs()
    assert srv.logs().count("Application shutdown complete") == 2
