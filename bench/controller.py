"""Benchmark background scans: ``--pods`` existing Pods in ``--namespaces`` namespaces, the 16 Pod-Security-style
policies of bench/webhook/pss, through the API-server stand-in (in this process) and ``verno controller`` (a
process, so its memory is its own).

Measured, in one run over the same objects:

- ``verno apply`` offline (the Pods written to a file, ``--workers`` processes as it chooses, and one process);
- scan 1, the controller started with no reports: time until every Pod's PolicyReport is written, report
  writes, the controller's RSS (and peak);
- scan 2, a controller started again with a 1 s interval (its reports older than that): every Pod evaluated
  again, as the periodic scan does; report writes (goal: none);
- scan 3, a controller started again with a 1 h interval (a restart, a new leader): time until every Pod was
  looked at; report writes and evaluations (goal: none).

Figures printed as a table; the full-scan ratio is scan 1 against ``verno apply`` (goal <= 2x).

    python bench/controller.py [--pods 10000] [--namespaces 100] [--violating 10]
"""
from __future__ import annotations

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]

import yaml  # noqa: E402

from apiserver.server import APIServer  # noqa: E402
from controller.harness import NAMESPACE, load_crds  # noqa: E402

HERE = Path(__file__).parent / "webhook"
POLICIES = HERE / "pss" / "pss.yaml"
REPORT = ("wgpolicyk8s.io/v1alpha2", "PolicyReport")
METRIC = re.compile(r'^(verno_controller_[a-z_]+)(?:\{([^}]*)\})? ([0-9.e+-]+)$', re.M)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mib(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) in MiB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values.get("VmRSS", 0.0), values.get("VmHWM", 0.0)


def pods(n: int, namespaces: int, violating_every: int) -> list[dict]:
    base = json.loads((HERE / "pod.json").read_text())
    out = []
    for i in range(n):
        pod = json.loads(json.dumps(base))
        pod["metadata"]["name"] = f"web-{i}"
        pod["metadata"]["namespace"] = f"ns-{i % namespaces}"
        if violating_every and i % violating_every == 0:  # no app label, a latest tag, privileged
            del pod["metadata"]["labels"]["app"]
            c = pod["spec"]["containers"][0]
            c["image"] = c["image"].rsplit(":", 1)[0] + ":latest"
            c["securityContext"]["privileged"] = True
        out.append(pod)
    return out


def metrics(port: int) -> dict[str, float]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
            text = resp.read().decode()
    except OSError:
        return {}
    out: dict[str, float] = {}
    for name, labels, value in METRIC.findall(text):
        out[f"{name}{{{labels}}}" if labels else name] = float(value)
    return out


def scans(m: dict[str, float], result: str) -> float:
    return m.get(f'verno_controller_background_scans_total{{result="{result}"}}', 0.0)


def writes(m: dict[str, float]) -> float:
    return sum(v for k, v in m.items() if k.startswith("verno_controller_report_writes_total")
               and any(a in k for a in ('"created"', '"updated"', '"deleted"')))


class Controller:
    def __init__(self, kubeconfig: Path, work: Path, interval: str, name: str):
        self.port = free_port()
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "POD_NAMESPACE": NAMESPACE}
        self.log = open(work / f"{name}.log", "wb")
        self.started = time.monotonic()
        self.proc = subprocess.Popen([sys.executable, "-m", "verno", "controller", "--kubeconfig", str(kubeconfig),
                                      "--namespace", NAMESPACE, "--scan-interval", interval, "--port",
                                      str(self.port), "--log-level", os.environ.get("BENCH_LOG", "WARNING"), "--no-leader-elect"],
                                     stdout=self.log, stderr=subprocess.STDOUT, env=env)

    def wait(self, done, timeout: float) -> dict[str, float]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"the controller exited ({self.proc.returncode}); see {self.log.name}")
            m = metrics(self.port)
            if m and done(m):
                return m
            time.sleep(0.2)
        raise SystemExit(f"not done within {timeout}s; see {self.log.name}")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)
        self.log.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=10000)
    parser.add_argument("--namespaces", type=int, default=100)
    parser.add_argument("--violating", type=int, default=10, help="one Pod in this many violates (0: none)")
    parser.add_argument("--timeout", type=float, default=3600)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="verno-bench-scan-"))
    objects = pods(args.pods, args.namespaces, args.violating)
    policies = [d for d in yaml.safe_load_all(POLICIES.read_text()) if d]

    # offline: verno apply over the same Pods
    (work / "pods.yaml").write_text(yaml.safe_dump_all(objects, sort_keys=False))
    offline = {}
    for label, extra in (("verno apply", {}), ("verno apply, 1 process", {"VERNO_WORKERS": "1"})):
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), **extra}
        started = time.monotonic()
        done = subprocess.run([sys.executable, "-m", "verno", "apply", str(POLICIES), "--resource",
                               str(work / "pods.yaml")], capture_output=True, text=True, env=env)
        offline[label] = time.monotonic() - started
        if "pass:" not in done.stdout:
            raise SystemExit(f"verno apply failed: {done.stdout[-2000:]} {done.stderr[-2000:]}")
    summary_line = next(line for line in done.stdout.splitlines() if line.startswith("pass:"))

    server = APIServer(history=4 * args.pods + 1000, watch_timeout=3600).start()
    kubeconfig = server.write_kubeconfig(work / "kubeconfig")
    load_crds(server)
    for i in range(args.namespaces):
        server.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": f"ns-{i}"}})
    started = time.monotonic()
    for pod in objects:
        server.create(pod)
    load_seconds = time.monotonic() - started
    for policy in policies:
        server.create(policy)

    rows = []
    first = Controller(kubeconfig, work, "1h", "scan1")
    m = first.wait(lambda m: scans(m, "written") >= args.pods and writes(m) >= args.pods, args.timeout)
    scan1 = time.monotonic() - first.started
    rss1, peak1 = rss_mib(first.proc.pid)
    scan_eval1 = m.get("verno_controller_background_scan_seconds_total", 0.0)
    writes1 = writes(m)
    first.stop()
    results = {k.split('"')[1]: int(v) for k, v in m.items() if k.startswith("verno_controller_report_results_total")}
    rows.append(("scan 1 (no reports)", scan1, scan_eval1, writes1, rss1, peak1))

    second = Controller(kubeconfig, work, "1s", "scan2")
    m = second.wait(lambda m: scans(m, "unchanged") + scans(m, "written") >= args.pods, args.timeout)
    scan2 = time.monotonic() - second.started
    rss2, peak2 = rss_mib(second.proc.pid)
    rows.append(("scan 2 (periodic: all evaluated)", scan2, m.get("verno_controller_background_scan_seconds_total",
                                                                    0.0), writes(m), rss2, peak2))
    second.stop()

    third = Controller(kubeconfig, work, "1h", "scan3")
    m = third.wait(lambda m: scans(m, "skipped") + scans(m, "unchanged") + scans(m, "written") >= args.pods,
                   args.timeout)
    scan3 = time.monotonic() - third.started
    rss3, peak3 = rss_mib(third.proc.pid)
    rows.append(("scan 3 (restart: reports current)", scan3, m.get("verno_controller_background_scan_seconds_total",
                                                                     0.0), writes(m), rss3, peak3))
    third.stop()

    sizes = []
    for pod in objects:
        live = server.get("v1", "Pod", pod["metadata"]["name"], pod["metadata"]["namespace"])
        report = server.get(*REPORT, live["metadata"]["uid"], pod["metadata"]["namespace"])
        if report is not None:
            sizes.append(len(json.dumps(report)))
    server.stop()

    print(f"{args.pods} Pods in {args.namespaces} namespaces, {len(policies)} policies "
          f"(one Pod in {args.violating} violating); stand-in loaded in {load_seconds:.1f} s")
    for label, seconds in offline.items():
        print(f"{label:36} {seconds:8.1f} s   {summary_line.strip()}")
    print(f"{'run':36} {'wall s':>8} {'eval s':>8} {'writes':>8} {'RSS MiB':>8} {'peak MiB':>8}")
    for label, wall, evaluated, wrote, rss, peak in rows:
        print(f"{label:36} {wall:8.1f} {evaluated:8.1f} {wrote:8.0f} {rss:8.0f} {peak:8.0f}")
    print(f"results of scan 1: {results}; reports: {len(sizes)}")
    print(f"scan 1 / verno apply: {scan1 / offline['verno apply']:.2f}x; "
          f"/ verno apply in 1 process: {scan1 / offline['verno apply, 1 process']:.2f}x")
    print(f"report size: mean {sum(sizes) / len(sizes):.0f} bytes, max {max(sizes)} bytes (per Pod, any cluster size)")


if __name__ == "__main__":
    main()
