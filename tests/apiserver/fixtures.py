"""For tests anywhere in the suite: an in-process stand-in (`apiserver` fixture), kubectl against it, and the
official Python client configured for it. Other test folders put `tests/` on sys.path and import from here."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Iterator

import pytest

from .server import APIServer

KUBECTL = shutil.which("kubectl")


class Kubectl:
    """Runs kubectl against one server with its own discovery cache (new CRDs are seen at once)."""

    def __init__(self, kubeconfig: Path, cache_dir: Path) -> None:
        self.kubeconfig = kubeconfig
        self.cache_dir = cache_dir

    def __call__(self, *args: str, input: str | None = None, check: bool = True,
                 timeout: float = 30) -> subprocess.CompletedProcess:
        if KUBECTL is None:
            pytest.fail("kubectl is not installed (.ci/run installs the Debian package kubernetes-client)")
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig), "KUBECACHEDIR": str(self.cache_dir)}
        proc = subprocess.run([KUBECTL, f"--kubeconfig={self.kubeconfig}", f"--cache-dir={self.cache_dir}",
                               *args], input=input, capture_output=True, text=True, env=env, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
        return proc


@pytest.fixture
def apiserver(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[APIServer]:
    """The stand-in, serving the built-in kinds as Kubernetes 1.36 does, or as the minor version an indirect
    parametrization gives (``@pytest.mark.parametrize("apiserver", [34], indirect=True)``)."""
    server = APIServer(watch_timeout=30.0, kubernetes_minor=getattr(request, "param", 36)).start()
    server.kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def kubectl(apiserver: APIServer, tmp_path: Path) -> Kubectl:
    return Kubectl(apiserver.kubeconfig, tmp_path / "kube-cache")


@pytest.fixture
def api_client(apiserver: APIServer):
    from kubernetes import client, config
    configuration = client.Configuration()
    config.load_kube_config(config_file=str(apiserver.kubeconfig), client_configuration=configuration)
    with client.ApiClient(configuration) as api:
        yield api
