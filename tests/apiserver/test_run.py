"""`python tests/apiserver/run.py`: a kubeconfig, `ready`, objects loaded from files, bad flags refused."""
from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

RUN = Path(__file__).with_name("run.py")


def test_run_writes_kubeconfig_loads_files_and_serves(tmp_path):
    load = tmp_path / "objects.yaml"
    load.write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: loaded}\n---\n"
                    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: loaded}\n")
    kubeconfig = tmp_path / "kubeconfig"
    proc = subprocess.Popen([sys.executable, str(RUN), "--port", "0", "--kubeconfig", str(kubeconfig),
                             "--load", str(load), "--service-map", "kyverno/kyverno-svc=https://127.0.0.1:9443"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline() == "ready\n"
        server = json.loads(kubeconfig.read_text())["clusters"][0]["cluster"]["server"]
        with urllib.request.urlopen(f"{server}/api/v1/namespaces/loaded/configmaps/c") as resp:
            assert json.loads(resp.read())["metadata"]["namespace"] == "loaded"
        with urllib.request.urlopen(f"{server}/version") as resp:
            assert json.loads(resp.read())["gitVersion"] == "v1.31.0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_bad_flags_and_files_are_refused(tmp_path):
    bad_map = subprocess.run([sys.executable, str(RUN), "--kubeconfig", str(tmp_path / "k"), "--service-map", "x"],
                             capture_output=True, text=True, timeout=30)
    assert bad_map.returncode != 0 and "--service-map 'x': expected namespace/name=https://host:port" in bad_map.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: nowhere}\n")
    loaded = subprocess.run([sys.executable, str(RUN), "--kubeconfig", str(tmp_path / "k"), "--load", str(bad)],
                            capture_output=True, text=True, timeout=30)
    assert loaded.returncode != 0 and f'--load {bad}: document 1: namespaces "nowhere" not found' in loaded.stderr
