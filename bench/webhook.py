"""Benchmark ``verno serve``: requests/second and p50/p99 latency over TLS on 127.0.0.1.

Starts a real ``verno serve`` per configuration and drives it from a second process (``wrk`` when
installed, else an httpx client process) with a bounded load: a warm-up, then a fixed duration with
at most a fixed number of requests. Policy sets: none, 3 simple policies, 16 Pod Security Standards
policies (bench/webhook/); 1 and 8 connections; 1 and 2 worker processes. Also: resident memory
with 20 policies loaded, and the time from start to ready. Prints a table.

The requests alternate two Pods: one that every policy set admits, and one that breaks the simple
policies (no ``app`` label, a ``latest`` tag) and the PSS ones (a privileged container). What each set
must decide for each Pod is asked of ``verno apply`` beforehand; the bench then checks every answer of
every cell (warm-up included): a non-2xx answer, an unreadable one, or a decision other than the
expected one stops it with the counts.

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
from pathlib import Path

HERE = Path(__file__).parent / "webhook"
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "server"))

from certs import write_self_signed  # noqa: E402

SETS = {"empty": [HERE / "empty"], "3 simple": [HERE / "simple"], "16 PSS": [HERE / "pss"],
        "16 PSS (CEL)": [HERE / "pss-cel"]}
TWENTY = [HERE / "pss", HERE / "simple", HERE / "extra"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def compliant_pod() -> dict:
    return json.loads((HERE / "pod.json").read_text())


def violating_pod() -> dict:
    """The compliant Pod without its ``app`` label, with a ``latest`` tag and a privileged container."""
    pod = compliant_pod()
    pod["metadata"]["name"] += "-bad"
    del pod["metadata"]["labels"]["app"]
    container = pod["spec"]["containers"][0]
    container["image"] = container["image"].rsplit(":", 1)[0] + ":latest"
    container["securityContext"]["privileged"] = True
    return pod


#: uid of each request -> the Pod it carries
PODS = {"bench-compliant": compliant_pod, "bench-violating": violating_pod}


def review_body(uid: str, pod: dict) -> bytes:
    return json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": uid, "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "resource": {"group": "", "version": "v1", "resource": "pods"}, "namespace": "default",
        "name": pod["metadata"]["name"], "operation": "CREATE",
        "userInfo": {"username": "bench", "groups": ["system:authenticated"]}, "object": pod, "dryRun": False}}).encode()


SUMMARY = re.compile(r"^pass: (\d+), fail: (\d+), warn: (\d+), error: (\d+), skip: (\d+) ?$", re.M)


def expected_decisions(paths: list[Path], work: Path) -> dict[str, bool]:
    """uid -> whether the policies in ``paths`` admit that request, as ``verno apply`` evaluates them.

    Every rule of the bench's sets is Enforce, so a request is denied when a rule fails; an error would
    make the decision depend on failurePolicy, so the sets must not produce one.
    """
    if not any(True for path in paths for _ in path.glob("*.yaml")):
        # verno apply refuses policy paths holding no policy; a webhook with none admits every request
        return {uid: True for uid in PODS}
    out = {}
    for uid, make in PODS.items():
        pod_path = work / f"{uid}.json"
        pod_path.write_text(json.dumps(make()))
        proc = subprocess.run([sys.executable, "-m", "verno", "apply", *map(str, paths), "-r", str(pod_path)],
                              capture_output=True, text=True)
        found = SUMMARY.findall(proc.stdout)
        if len(found) != 1:
            raise SystemExit(f"verno apply {paths} -r {uid}: no summary (exit {proc.returncode}): {proc.stderr[-500:]}")
        passed, failed, warned, errors, skipped = (int(x) for x in found[0])
        if errors or warned:
            raise SystemExit(f"verno apply {paths} -r {uid}: {errors} error(s), {warned} warning(s): the bench's "
                             "policies must pass or fail")
        out[uid] = failed == 0
    return out


def check_answers(where: str, r: dict, expected: dict[str, bool]) -> None:
    """Stop the bench unless every answer was 2xx, readable, and the expected decision."""
    total = r["allowed"] + r["denied"] + r["non2xx"] + r["unreadable"]
    problems = []
    if r["non2xx"] or r["unreadable"] or r["wrong"]:
        problems.append(f"{r['non2xx']} non-2xx, {r['unreadable']} unreadable, {r['wrong']} wrong decision(s)")
    if total == 0:
        problems.append("no answer at all")
    if r["denied"] and all(expected.values()):
        problems.append(f"{r['denied']} denied where every request should be allowed")
    if r["allowed"] and not any(expected.values()):
        problems.append(f"{r['allowed']} allowed where every request should be denied")
    if problems:
        raise SystemExit(f"{where}: {'; '.join(problems)} (of {total} answers; expected {expected})")


class Server:
    def __init__(self, work: Path, policies: list[Path], workers: int, extra: tuple[str, ...] = ()):
        self.cert, self.key = work / "tls.crt", work / "tls.key"
        self.pem = write_self_signed(self.cert, self.key)
        self.port = free_port()
        args = [sys.executable, "-m", "verno", "serve", "--tls-cert", str(self.cert), "--tls-key", str(self.key),
                "--port", str(self.port), "--workers", str(workers), "--log-level", "WARNING", *extra]
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

    def rss_mib(self, main_only: bool = False) -> float:
        """Resident memory of the server and its worker (and evaluation) processes, or of the main one."""
        pids = [self.proc.pid] + ([] if main_only else _children(self.proc.pid))
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
local function read(path)
  local f = assert(io.open(path, "rb"))
  local data = f:read("*a")
  f:close()
  return data
end
local headers = {["Content-Type"] = "application/json", ["Host"] = "127.0.0.1"}
local requests = {}
for path in string.gmatch(os.getenv("VERNO_BENCH_BODIES"), "[^,]+") do
  table.insert(requests, wrk.format("POST", nil, headers, read(path)))
end
local expected = {}
for uid, allowed in string.gmatch(os.getenv("VERNO_BENCH_EXPECT"), "([^,=]+)=(%a+)") do
  expected[uid] = allowed
end
local n = 0
allowed, denied, non2xx, unreadable, wrong = 0, 0, 0, 0, 0
request = function()
  n = n + 1
  return requests[(n % #requests) + 1]
end
response = function(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    return
  end
  local uid = string.match(body, '"uid"%s*:%s*"([^"]*)"')
  local decision = string.match(body, '"allowed"%s*:%s*(%a+)')
  if uid == nil or (decision ~= "true" and decision ~= "false") or expected[uid] == nil then
    unreadable = unreadable + 1
    return
  end
  if decision == "true" then allowed = allowed + 1 else denied = denied + 1 end
  if decision ~= expected[uid] then wrong = wrong + 1 end
end
local threads = {}
setup = function(thread)
  table.insert(threads, thread)
end
done = function(summary, latency, reqs)
  local t = {allowed = 0, denied = 0, non2xx = 0, unreadable = 0, wrong = 0}
  for _, thread in ipairs(threads) do
    for k, _ in pairs(t) do
      t[k] = t[k] + thread:get(k)
    end
  end
  io.write(string.format("verno-bench allowed=%d denied=%d non2xx=%d unreadable=%d wrong=%d\\n",
                         t.allowed, t.denied, t.non2xx, t.unreadable, t.wrong))
end
"""

COUNTS = re.compile(r"verno-bench allowed=(\d+) denied=(\d+) non2xx=(\d+) unreadable=(\d+) wrong=(\d+)")


def _wrk_counts(out: str) -> dict[str, int]:
    m = COUNTS.search(out)
    if not m:
        raise SystemExit(f"wrk printed no answer counts:\n{out[-1000:]}")
    return dict(zip(("allowed", "denied", "non2xx", "unreadable", "wrong"), (int(x) for x in m.groups())))


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def run_wrk(port: int, connections: int, seconds: float, bodies: dict[str, Path], expected: dict[str, bool],
            work: Path, where: str) -> dict[str, float]:
    script = work / "post.lua"
    script.write_text(WRK_SCRIPT)
    url = f"https://127.0.0.1:{port}/validate"
    env = {**os.environ, "VERNO_BENCH_BODIES": ",".join(str(p) for p in bodies.values()),
           "VERNO_BENCH_EXPECT": ",".join(f"{uid}={str(ok).lower()}" for uid, ok in expected.items())}
    warm = subprocess.run(["wrk", "-t1", f"-c{connections}", "-d1s", "-s", str(script), url], env=env,
                          capture_output=True, text=True, check=True).stdout
    check_answers(f"{where} (warm-up)", _wrk_counts(warm), expected)
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency", "-s", str(script), url],
                         env=env, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    pct = {p: _ms(v, u) for p, v, u in re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)}
    counts = _wrk_counts(out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    counts["non2xx"] = max(counts["non2xx"], int(errors.group(1)) if errors else 0)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    if socket_errors:
        raise SystemExit(f"{where}: wrk socket errors: {socket_errors.group(1)}")
    check_answers(where, counts, expected)
    return {"rps": rps, "p50": pct["50"], "p99": pct["99"], **counts}


CLIENT = r"""
import asyncio, json, ssl, sys, time
import httpx
port, conns, seconds, max_requests, bodies, expect, pem = sys.argv[1:8]
conns, seconds, max_requests = int(conns), float(seconds), int(max_requests)
bodies = [open(p, "rb").read() for p in bodies.split(",")]
expected = {uid: ok == "true" for uid, ok in (x.split("=") for x in expect.split(","))}
ctx = ssl.create_default_context(cadata=open(pem).read())
def counts():
    return {"allowed": 0, "denied": 0, "non2xx": 0, "unreadable": 0, "wrong": 0}
sent = [0]
async def worker(client, deadline, lat, budget, tally):
    while time.perf_counter() < deadline and budget[0] > 0:
        budget[0] -= 1
        body = bodies[sent[0] % len(bodies)]
        sent[0] += 1
        t = time.perf_counter()
        r = await client.post("/validate", content=body, headers={"content-type": "application/json"})
        lat.append(time.perf_counter() - t)
        if not 200 <= r.status_code < 300:
            tally["non2xx"] += 1
            continue
        try:
            answer = r.json()["response"]
            uid, allowed = answer["uid"], answer["allowed"]
        except (ValueError, KeyError, TypeError):
            tally["unreadable"] += 1
            continue
        if uid not in expected or not isinstance(allowed, bool):
            tally["unreadable"] += 1
            continue
        tally["allowed" if allowed else "denied"] += 1
        tally["wrong"] += allowed != expected[uid]
async def main():
    limits = httpx.Limits(max_connections=conns, max_keepalive_connections=conns)
    async with httpx.AsyncClient(base_url=f"https://127.0.0.1:{port}", verify=ctx, limits=limits) as client:
        warm, warm_tally = [], counts()
        await asyncio.gather(*(worker(client, time.perf_counter() + 1, warm, [10**9], warm_tally)
                               for _ in range(conns)))
        lat, tally = [], counts()
        start = time.perf_counter()
        await asyncio.gather(*(worker(client, start + seconds, lat, [max_requests // conns], tally)
                               for _ in range(conns)))
        took = time.perf_counter() - start
    lat.sort()
    print(json.dumps({"rps": len(lat) / took, "p50": lat[len(lat) // 2] * 1000, "p99": lat[int(len(lat) * 0.99)] * 1000,
                      **tally, "warm": warm_tally}))
asyncio.run(main())
"""


def run_client(port: int, connections: int, seconds: float, max_requests: int, bodies: dict[str, Path],
               expected: dict[str, bool], pem: Path, where: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", CLIENT, str(port), str(connections), str(seconds), str(max_requests),
                          ",".join(str(p) for p in bodies.values()),
                          ",".join(f"{uid}={str(ok).lower()}" for uid, ok in expected.items()), str(pem)],
                         capture_output=True, text=True, check=True).stdout
    r = json.loads(out)
    check_answers(f"{where} (warm-up)", r.pop("warm"), expected)
    check_answers(where, r, expected)
    return r


ATTACK = r"""
import asyncio, json, random, resource, ssl, sys, time
mode, port, pem, seconds, count = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4]), int(sys.argv[5])
bodies = [open(p, "rb").read() for p in sys.argv[6].split(",")]
expected = json.loads(sys.argv[7])
heavy = open(sys.argv[8], "rb").read() if len(sys.argv) > 8 else b""
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
ctx = ssl.create_default_context(cadata=open(pem).read())
def post(body):
    return (b"POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
            % len(body)) + body
async def answer(reader):
    status = await reader.readline()
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
        if line.lower().startswith(b"transfer-encoding:") and b"chunked" in line.lower():
            length = -1
    if length >= 0:
        return status, await reader.readexactly(length)
    body = b""
    while True:
        size = int((await reader.readline()).strip(), 16)
        chunk = await reader.readexactly(size + 2)
        if size == 0:
            return status, body
        body += chunk[:-2]
async def connect(source="127.0.0.1"):
    return await asyncio.open_connection("127.0.0.1", port, ssl=ctx, server_hostname="127.0.0.1",
                                         local_addr=(source, 0))
tally = {"answers": 0, "allowed_violating": 0, "evaluated": 0, "by_failure_policy": 0, "non200": 0}
connect_ms = []
async def legit(deadline, lat):
    t = time.monotonic()
    reader, writer = await connect()
    connect_ms.append(time.monotonic() - t)
    n = 0
    while time.monotonic() < deadline:
        uid, body = random.choice(bodies)
        t = time.monotonic()
        writer.write(post(body))
        status, raw = await answer(reader)
        lat.append(time.monotonic() - t)
        if not status.startswith(b"HTTP/1.1 200"):
            tally["non200"] += 1
            continue
        doc = json.loads(raw)["response"]
        tally["answers"] += 1
        if doc["allowed"] and not expected[doc["uid"]]:
            tally["allowed_violating"] += 1
        msg = (doc.get("status") or {}).get("message", "")
        tally["by_failure_policy" if "could not evaluate" in msg else "evaluated"] += 1
        await asyncio.sleep(0.01)
    writer.close()
async def burst():
    hold = asyncio.Event()
    async def one():
        reader, writer = await connect()
        writer.write(post(bodies[0][1]))
        status, _ = await answer(reader)
        await hold.wait()
        writer.close()
        return status.startswith(b"HTTP/1.1 200")
    tasks = [asyncio.create_task(one()) for _ in range(count)]
    started = time.monotonic()
    while sum(t.done() for t in tasks) < count and time.monotonic() - started < 60:
        await asyncio.sleep(0.1)
        if all(t.done() or False for t in tasks):
            break
        if time.monotonic() - started > 2 and sum(1 for t in tasks if not t.done()) == count:
            break
    await asyncio.sleep(3)
    hold.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    return {"answered": sum(1 for r in results if r is True), "failed": sum(1 for r in results if r is not True)}
async def slow(deadline, stats):
    while time.monotonic() < deadline:
        try:
            reader, writer = await asyncio.wait_for(connect("127.0.0.2"), 15)
        except (OSError, ssl.SSLError, asyncio.TimeoutError):
            stats["refused"] += 1
            await asyncio.sleep(0.5)
            continue
        stats["opened"] += 1
        writer.write(b"POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Slow: ")
        try:
            while time.monotonic() < deadline:
                if writer.is_closing():
                    stats["closed_by_server"] += 1
                    break
                writer.write(b"a")
                await asyncio.wait_for(writer.drain(), 2.0)
                try:
                    if await asyncio.wait_for(reader.read(1), 1.0) == b"" or reader.at_eof():
                        stats["closed_by_server"] += 1
                        break
                except asyncio.TimeoutError:
                    pass
        except (OSError, ssl.SSLError, ConnectionError, asyncio.TimeoutError):
            stats["closed_by_server"] += 1
        writer.close()
async def heavy_client(deadline, lat):
    while time.monotonic() < deadline:
        reader, writer = await connect("127.0.0.2")
        t = time.monotonic()
        writer.write(post(heavy))
        await answer(reader)
        lat.append(time.monotonic() - t)
        writer.close()
def pct(values, p):
    values = sorted(values)
    return round(values[min(len(values) - 1, int(len(values) * p))] * 1000, 1) if values else None
async def main():
    if mode == "burst":
        print(json.dumps(await burst()))
        return
    deadline = time.monotonic() + seconds
    lat, other, stats = [], [], {"opened": 0, "refused": 0, "closed_by_server": 0}
    if mode == "slowloris":  # the slow connections only (the legitimate requests come from another process)
        await asyncio.wait([asyncio.create_task(slow(deadline, stats)) for _ in range(count)], timeout=seconds + 15)
        print(json.dumps(stats))
        return
    if mode == "legit":
        await asyncio.wait([asyncio.create_task(legit(deadline, lat)) for _ in range(4)], timeout=seconds + 15)
        print(json.dumps({"legit_p50_ms": pct(lat, 0.5), "legit_p99_ms": pct(lat, 0.99), "legit_max_ms": pct(lat, 1.0),
                          "legit_connect_max_ms": pct(connect_ms, 1.0), **tally}))
        return
    extra = [asyncio.create_task(heavy_client(deadline, other)) for _ in range(count)]
    await asyncio.sleep(0.5)
    await asyncio.wait([asyncio.create_task(legit(deadline, lat)) for _ in range(4)], timeout=seconds + 15)
    _, pending = await asyncio.wait(extra, timeout=15)
    for task in pending:
        task.cancel()
    print(json.dumps({"legit_p50_ms": pct(lat, 0.5), "legit_p99_ms": pct(lat, 0.99), "legit_max_ms": pct(lat, 1.0),
                      **tally, "heavy_answers": len(other), "heavy_max_ms": pct(other, 1.0)}))
asyncio.run(main())
"""


def _attack_args(mode: str, server: "Server", seconds: float, count: int, bodies: dict[str, Path],
                 expected: dict[str, bool], heavy: Path | None = None) -> list[str]:
    # bodies are passed as (uid, body) pairs
    code = ATTACK.replace('bodies = [open(p, "rb").read() for p in sys.argv[6].split(",")]',
                          'bodies = [(p.rsplit("review-", 1)[1][:-5], open(p, "rb").read()) for p in sys.argv[6].split(",")]')
    args = [sys.executable, "-c", code, mode, str(server.port), str(server.cert), str(seconds), str(count),
            ",".join(str(p) for p in bodies.values()), json.dumps(expected)]
    if heavy is not None:
        args.append(str(heavy))
    return args


def _attack_output(mode: str, returncode: int, stdout: str, stderr: str) -> dict:
    if returncode != 0:
        raise SystemExit(f"{mode} client failed: {stderr[-1500:]}")
    return json.loads(stdout.strip().splitlines()[-1])


def _attack(mode: str, server: "Server", seconds: float, count: int, bodies: dict[str, Path],
            expected: dict[str, bool], heavy: Path | None = None) -> dict:
    args = _attack_args(mode, server, seconds, count, bodies, expected, heavy)
    out = subprocess.run(args, capture_output=True, text=True, timeout=seconds + 300)
    return _attack_output(mode, out.returncode, out.stdout, out.stderr)


def slowloris(server: "Server", seconds: float, count: int, bodies: dict[str, Path],
              expected: dict[str, bool]) -> dict:
    """``count`` slow connections from 127.0.0.2 for ``seconds`` and, once they are open, legitimate
    requests from 127.0.0.1 sent by another process (so that their latencies are the server's, not the
    attacking process's own event loop's); the RSS of the server process, sampled every 0.5 s."""
    attacker = subprocess.Popen(_attack_args("slowloris", server, seconds, count, bodies, expected),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    rss = [server.rss_mib(main_only=True)]
    head_start = min(5.0, seconds / 3)
    time.sleep(head_start)
    legit = subprocess.Popen(_attack_args("legit", server, seconds - head_start, 0, bodies, expected),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    while legit.poll() is None:
        rss.append(server.rss_mib(main_only=True))
        time.sleep(0.5)
    out, err = legit.communicate()
    r = _attack_output("legit", legit.returncode, out, err)
    out, err = attacker.communicate(timeout=seconds + 300)
    r.update(_attack_output("slowloris", attacker.returncode, out, err))
    r.update(rss_before=round(rss[0]), rss_peak=round(max(rss)), rss_after=round(server.rss_mib(main_only=True)))
    return r


def attacks(work: Path, bodies: dict[str, Path], expected: dict[str, dict[str, bool]], burst_size: int,
            slow_count: int, seconds: float) -> None:
    """Burst (RSS around bursts of concurrent connections), slowloris, and expensive requests."""
    pss = expected["16 PSS"]
    server = Server(work, SETS["16 PSS"], 1, ("--max-connections-per-client", "0", "--max-connections", "0"))
    try:
        time.sleep(1)
        rss = [server.rss_mib(main_only=True)]
        for _ in range(3):
            r = _attack("burst", server, 0, burst_size, bodies, pss)
            time.sleep(3)
            rss.append(server.rss_mib(main_only=True))
            if r["failed"]:
                print(f"  burst: {r['failed']} of {burst_size} connections not answered")
        print(f"burst: {burst_size} concurrent TLS connections, 3 times: RSS of the process holding them "
              + " -> ".join(f"{x:.0f}" for x in rss) + " MiB (before, after each burst)")
    finally:
        server.stop()
    server = Server(work, SETS["16 PSS"], 1)
    try:
        r = slowloris(server, seconds, slow_count, bodies, pss)
        print(f"slowloris: {slow_count} connections from 127.0.0.2 trickling a request head, {seconds:g}s; "
              f"legitimate requests from 127.0.0.1 (another process, 4 connections): p50 {r['legit_p50_ms']} ms, "
              f"p99 {r['legit_p99_ms']} ms, max {r['legit_max_ms']} ms, slowest connect {r['legit_connect_max_ms']} "
              f"ms, {r['answers']} answered, {r['non200']} non-200, {r['allowed_violating']} violating allowed; slow "
              f"connections opened {r['opened']}, closed by the server {r['closed_by_server']}, refused "
              f"{r['refused']}; RSS of the server process {r['rss_before']} -> peak {r['rss_peak']} -> "
              f"{r['rss_after']} MiB")
    finally:
        server.stop()
    heavy = work / "review-heavy.json"
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "big", "namespace": "default"},
          "data": {"items": ",".join(str(i) for i in range(2000))}}
    heavy.write_text(json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": "heavy", "kind": {"group": "", "version": "v1", "kind": "ConfigMap"},
        "resource": {"group": "", "version": "v1", "resource": "configmaps"}, "namespace": "default",
        "name": "big", "operation": "CREATE", "userInfo": {"username": "bench"}, "object": cm}}))
    timeout = 2.0
    server = Server(work, [*SETS["16 PSS"], ROOT / "tests/server/data/expensive"], 1, ("--timeout", str(timeout)))
    try:
        r = _attack("timeout", server, seconds, 4, bodies, pss, heavy)
        print(f"timeout: --timeout {timeout:g}; 4 clients from 127.0.0.2 sending expensive ConfigMaps (a nested "
              f"foreach, ~2 min of evaluation each) for {seconds:g}s: {r['heavy_answers']} answered, slowest "
              f"{r['heavy_max_ms']} ms; unrelated Pods from 127.0.0.1: p50 {r['legit_p50_ms']} ms, p99 "
              f"{r['legit_p99_ms']} ms, max {r['legit_max_ms']} ms; {r['answers']} answered ({r['evaluated']} "
              f"evaluated, {r['by_failure_policy']} by failurePolicy), {r['allowed_violating']} violating allowed")
    finally:
        server.stop()


def fuzz(cases: int, seed: int) -> None:
    """``cases`` fuzzed AdmissionReviews through the ASGI app in-process (tests/server/admission_fuzz.py)."""
    import asyncio
    import random
    from collections import Counter

    from admission_fuzz import call, check, make_case, signature

    from verno.server.app import App
    from verno.server.settings import Settings

    app = App(Settings(policies=[str(HERE / "pss"), str(HERE / "simple"), str(ROOT / "tests/server/data/policies")],
                       exclude_namespaces=[], poll_interval=60, evaluators=2, timeout=10))
    statuses: Counter[int] = Counter()
    problems: Counter[str] = Counter()
    examples: dict[str, str] = {}
    decisions: Counter[str] = Counter()

    async def run() -> float:
        await app.startup()
        started = time.perf_counter()
        try:
            rng = random.Random(seed)
            for start in range(0, cases, 16):
                batch = [make_case(rng, i) for i in range(start, min(cases, start + 16))]
                answers = await asyncio.gather(*(call(app, c.path, c.body) for c in batch))
                for case, (status, body) in zip(batch, answers):
                    statuses[status] += 1
                    if status == 200:
                        decisions["allowed" if b'"allowed":true' in body else "denied"] += 1
                    problem = check(case, status, body)
                    if problem:
                        problems[signature(problem)] += 1
                        examples.setdefault(signature(problem), f"{case.how} {case.path}: {problem[:300]}")
        finally:
            await app.aclose()
        return time.perf_counter() - started

    took = asyncio.run(run())
    print(f"fuzz: {cases} AdmissionReviews in {took:.1f}s (seed {seed}): HTTP "
          + ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items()))
          + f"; AdmissionReviews allowed {decisions['allowed']}, denied {decisions['denied']}; "
          f"{sum(problems.values())} problem(s)")
    for sig, n in problems.most_common():
        print(f"  {n} x {examples[sig]}")
    if problems:
        raise SystemExit(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="measured seconds per cell")
    parser.add_argument("--max-requests", type=int, default=200_000, help="request cap per cell (client mode)")
    parser.add_argument("--client", choices=["auto", "wrk", "httpx"], default="auto")
    parser.add_argument("--quick", action="store_true", help="1 worker only")
    parser.add_argument("--sets", default=",".join(SETS), help="policy sets to run, comma-separated")
    parser.add_argument("--conns", default="1,8", help="connection counts to run, comma-separated")
    parser.add_argument("--no-ready", action="store_true", help="skip the memory and start-to-ready measurement")
    parser.add_argument("--fuzz", type=int, default=0, metavar="N",
                        help="only: N fuzzed AdmissionReviews against the ASGI app in-process")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--attacks", action="store_true",
                        help="only: the burst, slowloris and expensive-request tests")
    parser.add_argument("--burst", type=int, default=2000, help="connections per burst (--attacks)")
    parser.add_argument("--slow", type=int, default=5000, help="slow connections (--attacks)")
    parser.add_argument("--attack-seconds", type=float, default=20.0, help="seconds of each attack (--attacks)")
    args = parser.parse_args()
    if args.fuzz:
        return fuzz(args.fuzz, args.seed)
    if args.attacks:
        work = Path(tempfile.mkdtemp(prefix="verno-bench-"))
        bodies = {uid: work / f"review-{uid}.json" for uid in PODS}
        for uid, make in PODS.items():
            bodies[uid].write_bytes(review_body(uid, make()))
        expected = {"16 PSS": expected_decisions(SETS["16 PSS"], work)}
        attacks(work, bodies, expected, args.burst, args.slow, args.attack_seconds)
        shutil.rmtree(work, ignore_errors=True)
        return None
    use_wrk = args.client == "wrk" or (args.client == "auto" and shutil.which("wrk"))
    work = Path(tempfile.mkdtemp(prefix="verno-bench-"))
    bodies = {}
    for uid, make in PODS.items():
        bodies[uid] = work / f"review-{uid}.json"
        bodies[uid].write_bytes(review_body(uid, make()))
    expected = {name: expected_decisions(paths, work) for name, paths in SETS.items()}
    print(f"client: {'wrk' if use_wrk else 'httpx'}; {os.cpu_count()} CPUs; {args.seconds:g}s per cell; "
          f"POST /validate, Pod CREATE, alternating a compliant Pod "
          f"({bodies['bench-compliant'].stat().st_size} bytes) and a violating one; every answer checked")
    for name, decisions in expected.items():
        print(f"  {name}: " + ", ".join(f"{uid.removeprefix('bench-')} {'allowed' if ok else 'denied'}"
                                         for uid, ok in decisions.items()))
    # the workload is what it says: the compliant Pod passes every set, the violating one only the empty set
    for name, decisions in expected.items():
        has_policies = any(True for path in SETS[name] for _ in path.glob("*.yaml"))
        if not decisions["bench-compliant"] or decisions["bench-violating"] == has_policies:
            raise SystemExit(f"policy set {name}: verno apply decides {decisions}; the bench expects the compliant "
                             "Pod allowed everywhere and the violating one denied by every non-empty set")
    print()
    rows = []
    for workers in ([1] if args.quick else [1, 2]):
        for name, paths in SETS.items():
            if name not in args.sets.split(","):
                continue
            server = Server(work, paths, workers)
            try:
                for conns in (int(c) for c in args.conns.split(",")):
                    where = f"workers={workers} {name} conns={conns}"
                    if use_wrk:
                        r = run_wrk(server.port, conns, args.seconds, bodies, expected[name], work, where)
                    else:
                        r = run_client(server.port, conns, args.seconds, args.max_requests, bodies, expected[name],
                                       server.cert, where)
                    rows.append((workers, name, conns, r))
                    print(f"  {where}: {r['rps']:8.0f} req/s  p50 {r['p50']:6.2f} ms  p99 {r['p99']:6.2f} ms  "
                          f"allowed {r['allowed']} denied {r['denied']} (as expected)", flush=True)
            finally:
                server.stop()
    # the same controls in both languages, same run: time per request of CEL over patterns (req/s inverted)
    by_cell = {(w, name, c): r for w, name, c, r in rows}
    for (w, name, c), r in by_cell.items():
        cel = by_cell.get((w, "16 PSS (CEL)", c)) if name == "16 PSS" else None
        if cel is not None:
            print(f"  workers={w} conns={c}: CEL/patterns time per request {r['rps'] / cel['rps']:.2f}x "
                  f"(req/s patterns {r['rps']:.0f}, CEL {cel['rps']:.0f}; p50 {r['p50']:.2f} vs {cel['p50']:.2f} ms)")
    if args.no_ready:
        shutil.rmtree(work, ignore_errors=True)
        return
    ready, rss = [], 0.0
    for _ in range(3):
        server = Server(work, TWENTY, 1)
        ready.append(server.ready_seconds)
        time.sleep(0.5)
        rss = max(rss, server.rss_mib())
        server.stop()
    print("\n| workers | policies | connections | req/s | p50 ms | p99 ms | req/s per worker | allowed / denied |")
    print("|---|---|---|---|---|---|---|---|")
    for workers, name, conns, r in rows:
        print(f"| {workers} | {name} | {conns} | {r['rps']:.0f} | {r['p50']:.2f} | {r['p99']:.2f} | "
              f"{r['rps'] / workers:.0f} | {r['allowed']} / {r['denied']} |")
    print(f"\nresident memory, 1 worker, 20 policies loaded: {rss:.1f} MiB")
    print(f"start to ready (20 policies, 1 worker): median {sorted(ready)[1]:.2f} s of {len(ready)} starts")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
