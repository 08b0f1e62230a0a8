"""Benchmark ``verno serve``: requests/second and p50/p99 latency over TLS on 127.0.0.1.

Starts a real ``verno serve`` per configuration and drives it from a second process (``wrk`` when
installed, else an httpx client process) with a bounded load: a warm-up, then a fixed duration with
at most a fixed number of requests. Policy sets: none, 3 simple policies, 16 Pod Security Standards
policies (bench/webhook/); 1 and 8 connections; 1 and 2 worker processes. Also: resident memory
with 20 policies loaded, and the time from start to ready. Prints a table; asserts nothing.

    python bench/webhook.py [--seconds 4] [--max-requests 200000] [--quick]
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

HERE = Path(__file__).parent / "webhook"
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "server"))

from certs import write_self_signed  # noqa: E402

SETS = {"empty": [HERE / "empty"], "3 simple": [HERE / "simple"], "16 PSS": [HERE / "pss"]}
TWENTY = [HERE / "pss", HERE / "simple", HERE / "extra"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def review_body() -> bytes:
    pod = json.loads((HERE / "pod.json").read_text())
    return json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": str(uuid.uuid4()), "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "resource": {"group": "", "version": "v1", "resource": "pods"}, "namespace": "default",
        "name": pod["metadata"]["name"], "operation": "CREATE",
        "userInfo": {"username": "bench", "groups": ["system:authenticated"]}, "object": pod, "dryRun": False}}).encode()


class Server:
    def __init__(self, work: Path, policies: list[Path], workers: int):
        self.cert, self.key = work / "tls.crt", work / "tls.key"
        self.pem = write_self_signed(self.cert, self.key)
        self.port = free_port()
        args = [sys.executable, "-m", "verno", "serve", "--tls-cert", str(self.cert), "--tls-key", str(self.key),
                "--port", str(self.port), "--workers", str(workers), "--log-level", "WARNING"]
        for p in policies:
            args += ["--policies", str(p)]
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.ready_seconds = self._wait_ready()

    def _wait_ready(self) -> float:
        ctx = ssl.create_default_context(cadata=self.pem.decode())
        while time.perf_counter() - self.started < 60:
            if self.proc.poll() is not None:
                raise RuntimeError(self.proc.stderr.read().decode())
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as raw:
                    with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                        tls.sendall(b"GET /health/readiness HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                        if tls.recv(64).startswith(b"HTTP/1.1 200"):
                            return time.perf_counter() - self.started
            except OSError:
                pass
            time.sleep(0.01)
        raise RuntimeError("not ready within 60s")

    def rss_mib(self) -> float:
        """Resident memory of the server and its worker processes."""
        pids = [self.proc.pid] + _children(self.proc.pid)
        total = 0
        for pid in pids:
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
            except OSError:
                pass
        return total / 1024

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids = [int(x) for x in (task / "children").read_text().split()]
        except OSError:
            continue
        for kid in kids:
            out += [kid] + _children(kid)
    return out


WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open(os.getenv("VERNO_BENCH_BODY"), "rb")
wrk.body = f:read("*a")
f:close()
"""


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def run_wrk(port: int, connections: int, seconds: float, body_path: Path, work: Path) -> dict[str, float]:
    script = work / "post.lua"
    script.write_text(WRK_SCRIPT)
    url = f"https://127.0.0.1:{port}/validate"
    env = {**os.environ, "VERNO_BENCH_BODY": str(body_path)}
    subprocess.run(["wrk", "-t1", f"-c{connections}", "-d1s", "-s", str(script), url], env=env,
                   capture_output=True, check=True)  # warm-up
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency", "-s", str(script), url],
                         env=env, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    pct = {p: _ms(v, u) for p, v, u in re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)}
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50": pct["50"], "p99": pct["99"], "non2xx": int(errors.group(1)) if errors else 0}


CLIENT = r"""
import asyncio, json, ssl, sys, time
import httpx
port, conns, seconds, max_requests, body_path, pem = sys.argv[1:7]
conns, seconds, max_requests = int(conns), float(seconds), int(max_requests)
body = open(body_path, "rb").read()
ctx = ssl.create_default_context(cadata=open(pem).read())
async def worker(client, deadline, lat, budget):
    while time.perf_counter() < deadline and budget[0] > 0:
        budget[0] -= 1
        t = time.perf_counter()
        r = await client.post("/validate", content=body, headers={"content-type": "application/json"})
        lat.append(time.perf_counter() - t)
async def main():
    limits = httpx.Limits(max_connections=conns, max_keepalive_connections=conns)
    async with httpx.AsyncClient(base_url=f"https://127.0.0.1:{port}", verify=ctx, limits=limits) as client:
        warm = []
        await asyncio.gather(*(worker(client, time.perf_counter() + 1, warm, [10**9]) for _ in range(conns)))
        lat = []
        start = time.perf_counter()
        await asyncio.gather(*(worker(client, start + seconds, lat, [max_requests // conns]) for _ in range(conns)))
        took = time.perf_counter() - start
    lat.sort()
    print(json.dumps({"rps": len(lat) / took, "p50": lat[len(lat) // 2] * 1000, "p99": lat[int(len(lat) * 0.99)] * 1000,
                      "non2xx": 0}))
asyncio.run(main())
"""


def run_client(port: int, connections: int, seconds: float, max_requests: int, body_path: Path, pem: Path) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", CLIENT, str(port), str(connections), str(seconds), str(max_requests),
                          str(body_path), str(pem)], capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="measured seconds per cell")
    parser.add_argument("--max-requests", type=int, default=200_000, help="request cap per cell (client mode)")
    parser.add_argument("--client", choices=["auto", "wrk", "httpx"], default="auto")
    parser.add_argument("--quick", action="store_true", help="1 worker only")
    args = parser.parse_args()
    use_wrk = args.client == "wrk" or (args.client == "auto" and shutil.which("wrk"))
    work = Path(tempfile.mkdtemp(prefix="verno-bench-"))
    body_path = work / "review.json"
    body_path.write_bytes(review_body())
    print(f"client: {'wrk' if use_wrk else 'httpx'}; {os.cpu_count()} CPUs; {args.seconds:g}s per cell; body "
          f"{body_path.stat().st_size} bytes; POST /validate (Pod CREATE, allowed)\n")
    rows = []
    for workers in ([1] if args.quick else [1, 2]):
        for name, paths in SETS.items():
            server = Server(work, paths, workers)
            try:
                for conns in (1, 8):
                    if use_wrk:
                        r = run_wrk(server.port, conns, args.seconds, body_path, work)
                    else:
                        r = run_client(server.port, conns, args.seconds, args.max_requests, body_path, server.cert)
                    rows.append((workers, name, conns, r))
                    print(f"  workers={workers} {name:9s} conns={conns}: {r['rps']:8.0f} req/s  p50 {r['p50']:6.2f} ms"
                          f"  p99 {r['p99']:6.2f} ms" + (f"  non-2xx {r['non2xx']}" if r["non2xx"] else ""), flush=True)
            finally:
                server.stop()
    ready, rss = [], 0.0
    for _ in range(3):
        server = Server(work, TWENTY, 1)
        ready.append(server.ready_seconds)
        time.sleep(0.5)
        rss = max(rss, server.rss_mib())
        server.stop()
    print("\n| workers | policies | connections | req/s | p50 ms | p99 ms | req/s per worker |")
    print("|---|---|---|---|---|---|---|")
    for workers, name, conns, r in rows:
        print(f"| {workers} | {name} | {conns} | {r['rps']:.0f} | {r['p50']:.2f} | {r['p99']:.2f} | "
              f"{r['rps'] / workers:.0f} |")
    print(f"\nresident memory, 1 worker, 20 policies loaded: {rss:.1f} MiB")
    print(f"start to ready (20 policies, 1 worker): median {sorted(ready)[1]:.2f} s of {len(ready)} starts")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
