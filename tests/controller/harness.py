"""The controller's test harness: the stand-in with verno's CRDs and namespace, controllers run in-process
with short Lease timings, the official client, and waiting for a condition."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import yaml

from verno.controller.controller import Controller, ControllerSettings

ROOT = Path(__file__).resolve().parents[2]
CRDS = ROOT / "deploy" / "helm" / "verno" / "crds"
NAMESPACE = "verno"


def load_crds(server: Any, only: dict[str, str] | None = None) -> None:
    """verno's CRDs; ``only`` maps a CRD file's stem to the one version it is served at instead (the
    schema of its first version), as an older release of the CRD would serve it."""
    for path in sorted(CRDS.glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        if only and path.stem in only:
            first = crd["spec"]["versions"][0]
            crd["spec"]["versions"] = [{**first, "name": only[path.stem], "served": True, "storage": True}]
        server.create(crd)
    server.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})


def wait_for(check: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.05)
    raise AssertionError(f"{what} not reached within {timeout}s (last: {last!r})")


class Running:
    def __init__(self, controller: Controller):
        self.controller = controller
        self.exit_code: int | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        self.exit_code = self.controller.run()

    def start(self) -> "Running":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.controller.stop()
        self.thread.join(10)


def settings(kubeconfig: Path, **overrides: Any) -> ControllerSettings:
    values: dict[str, Any] = dict(kubeconfig=str(kubeconfig), namespace=NAMESPACE, workers=2, scan_interval=3600,
                                  watch_seconds=5, lease_duration=3, renew_deadline=2.0, retry_period=0.5,
                                  backoff=0.1)
    values.update(overrides)
    return ControllerSettings(**values)


@pytest.fixture
def cluster(apiserver: Any) -> Any:
    load_crds(apiserver)
    return apiserver


@pytest.fixture
def controllers(cluster: Any) -> Iterator[Callable[..., Running]]:
    started: list[Running] = []

    def start(**overrides: Any) -> Running:
        running = Running(Controller(settings(cluster.kubeconfig, **overrides))).start()
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()


class ControllerProcess:
    """`verno controller` as a process (Lease-elected, 2 workers, metrics on a free port)."""

    def __init__(self, kubeconfig: Path, log: Path, *extra: str):
        self.log_path = log
        self._log = open(log, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "verno", "controller", "--kubeconfig", str(kubeconfig), "--namespace", NAMESPACE,
             "--leader-election-retry-period", "0.5s", "--workers", "2", "--port", "0", *extra],
            stdout=self._log, stderr=subprocess.STDOUT, env={**os.environ})

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()
        return self.proc.returncode
