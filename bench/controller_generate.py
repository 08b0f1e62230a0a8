"""Benchmark generate end to end: namespace created -> its NetworkPolicy present, through the API-server
stand-in (in this process), ``verno serve`` (cluster mode, the stand-in's validating webhook) and
``verno controller`` (processes), all on 127.0.0.1.

Three runs: ``--paced`` namespaces created one every 50 ms (latency with an idle pipeline); a burst of
``--burst`` namespaces created as fast as one client can (latency under a backlog; the rate is bounded by
the admission round trips); ``--direct`` UpdateRequests written at once for namespaces that already exist
(the controller's own throughput). Prints p50/p99/max latency, downstream objects per second, and the
controller's resident memory.

    python bench/controller_generate.py [--paced 50] [--burst 200] [--direct 500] [--workers 4]
"""
from __future__ import annotations

import argparse
import base64
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests"), str(ROOT / "tests" / "server")]

from kubernetes import client, config  # noqa: E402

from apiserver.server import APIServer  # noqa: E402
from controller.harness import NAMESPACE, load_crds  # noqa: E402
from controller.policies import NETPOL  # noqa: E402
from serverproc import VernoServer  # noqa: E402
from verno.core.updaterequest import RuleContext, TriggerRef, generate_request  # noqa: E402


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


class Watcher:
    """Polls the stand-in's store (in process, no HTTP) for each namespace's NetworkPolicy."""

    def __init__(self, server: APIServer):
        self.server = server
        self.pending: dict[str, float] = {}
        self.done: dict[str, float] = {}
        self.lock = threading.Lock()
        self.stop = threading.Event()
        threading.Thread(target=self.run, daemon=True).start()

    def expect(self, ns: str, started: float) -> None:
        with self.lock:
            self.pending[ns] = started

    def run(self) -> None:
        while not self.stop.is_set():
            with self.lock:
                names = list(self.pending)
            for ns in names:
                if self.server.get("networking.k8s.io/v1", "NetworkPolicy", "default-deny", ns) is not None:
                    with self.lock:
                        self.done[ns] = time.monotonic() - self.pending.pop(ns)
            time.sleep(0.005)

    def wait(self, count: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while len(self.done) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        if len(self.done) < count:
            raise SystemExit(f"only {len(self.done)} of {count} NetworkPolicies within {timeout}s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paced", type=int, default=50)
    parser.add_argument("--burst", type=int, default=200)
    parser.add_argument("--direct", type=int, default=500)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="verno-bench-"))
    server = APIServer(watch_timeout=300).start()
    kubeconfig = server.write_kubeconfig(work / "kubeconfig")
    load_crds(server)
    server.create(NETPOL)
    # triggers for the direct run, made before the webhook is registered (no admission hand-off for them)
    direct = [server.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": f"direct-{i}"}})
              for i in range(args.direct)]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "POD_NAMESPACE": NAMESPACE}
    serve = VernoServer(work, ["--kubeconfig", str(kubeconfig), "--timeout", "10"], env=env)
    log = open(work / "controller.log", "wb")
    controller = subprocess.Popen([sys.executable, "-m", "verno", "controller", "--kubeconfig", str(kubeconfig),
                                   "--namespace", NAMESPACE, "--workers", str(args.workers), "--port", "0",
                                   "--log-level", "WARNING"],
                                  stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        serve.wait_ready()
        server.create({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
                       "metadata": {"name": "verno"}, "webhooks": [{
                           "name": "validate.verno.svc-fail", "failurePolicy": "Fail", "sideEffects": "NoneOnDryRun",
                           "admissionReviewVersions": ["v1"],
                           "clientConfig": {"url": f"{serve.base}/validate/fail",
                                            "caBundle": base64.b64encode(serve.cert_pem).decode()},
                           "rules": [{"operations": ["CREATE", "UPDATE", "DELETE"], "apiGroups": [""],
                                      "apiVersions": ["v1"], "resources": ["namespaces"]}]}]})
        while server.get("coordination.k8s.io/v1", "Lease", "verno-controller", NAMESPACE) is None:
            time.sleep(0.1)
        configuration = client.Configuration()
        config.load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)
        core = client.CoreV1Api(client.ApiClient(configuration))
        watcher = Watcher(server)
        time.sleep(1.0)  # the controller's informers are up
        for i in range(args.paced):
            name = f"paced-{i}"
            watcher.expect(name, time.monotonic())
            core.create_namespace({"metadata": {"name": name}})
            time.sleep(0.05)
        watcher.wait(args.paced, 60)
        paced = list(watcher.done.values())
        watcher.done.clear()
        started = time.monotonic()
        for i in range(args.burst):
            name = f"burst-{i}"
            watcher.expect(name, time.monotonic())
            core.create_namespace({"metadata": {"name": name}})
        watcher.wait(args.burst, 300)
        elapsed = time.monotonic() - started
        burst = list(watcher.done.values())
        print(f"paced ({args.paced} namespaces, one per 50 ms): namespace -> NetworkPolicy "
              f"p50 {percentile(paced, .5) * 1000:.0f} ms, p99 {percentile(paced, .99) * 1000:.0f} ms, "
              f"max {max(paced) * 1000:.0f} ms")
        print(f"burst ({args.burst} namespaces at once, {args.workers} workers): "
              f"p50 {percentile(burst, .5) * 1000:.0f} ms, p99 {percentile(burst, .99) * 1000:.0f} ms; "
              f"{args.burst / elapsed:.1f} NetworkPolicies/s; mean {statistics.mean(burst) * 1000:.0f} ms")
        requests = [generate_request("add-networkpolicy", [RuleContext("default-deny", TriggerRef.of(
            {**ns, "apiVersion": "v1", "kind": "Namespace"}), False, True)], NAMESPACE) for ns in direct]
        names = [ns["metadata"]["name"] for ns in direct]
        watcher.done.clear()
        started = time.monotonic()
        for n in names:
            watcher.expect(n, started)
        for body in requests:
            server.create(body)
        watcher.wait(args.direct, 300)
        elapsed = time.monotonic() - started
        print(f"direct ({args.direct} UpdateRequests at once, {args.workers} workers): all done in {elapsed:.2f} s, "
              f"{args.direct / elapsed:.1f} NetworkPolicies/s")
        print(f"controller RSS {rss_mib(controller.pid):.0f} MiB")
        watcher.stop.set()
    finally:
        controller.terminate()
        controller.wait(15)
        log.close()
        serve.stop()
        server.stop()


if __name__ == "__main__":
    main()
