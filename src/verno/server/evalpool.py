"""The evaluation processes of one server worker, and the deadline each evaluation runs under.

A spare process is kept started, out of service, and takes a stopped process's place at once.
Each request is handed to an idle evaluation process (:mod:`verno.server.evalworker`) with what is
left of its ``--timeout``. When the answer has not come by then, the process is stopped (SIGKILL) and a
fresh one started in its place: the request is answered by failurePolicy at its deadline, and the work
it caused ends there, so expensive requests cannot hold evaluation capacity beyond their own deadline.
"""
from __future__ import annotations

import asyncio
import collections
import itertools
import logging
import os
import signal
import sys
import time
from typing import Any

from verno.server.decide import Decision
from verno.server.evalworker import ANSWER_HEAD, decode_answer, encode_request
from verno.server.settings import ENV, Settings

log = logging.getLogger("verno.server.evalpool")

#: seconds a new evaluation process may take to load its policies and say it is ready
START_TIMEOUT = 120.0
#: the longest pause between two attempts to start a replacement that failed to start
MAX_RESTART_DELAY = 30.0


class EvaluationFailed(Exception):
    """No decision from an evaluation process; the message says what failed."""


class EvaluationTimedOut(EvaluationFailed):
    pass


class EvaluationStale(EvaluationFailed):
    """The evaluation process holds another policy set than the server (the message is its digest)."""

    def __init__(self, digest: str):
        self.digest = digest
        super().__init__(f"the evaluation process holds another policy set ({digest or 'none'}) than the server")


class Worker:
    def __init__(self, proc: asyncio.subprocess.Process):
        self.proc = proc

    @property
    def pid(self) -> int:
        return self.proc.pid

    async def read_answer(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        head = await self.proc.stdout.readexactly(ANSWER_HEAD.size)
        (size,) = ANSWER_HEAD.unpack(head)
        return decode_answer(await self.proc.stdout.readexactly(size))

    def kill(self) -> None:
        if self.proc.returncode is None:
            try:
                self.proc.kill()
            except ProcessLookupError:
                pass


class FairQueue:
    """Idle evaluation processes handed to waiting requests fairly between client addresses.

    Work-conserving: one client alone gets every process. When several wait, a freed process goes to the
    client with the fewest evaluations running (then the longest waiting), so a client sending expensive
    requests cannot take the processes from the others' requests.
    """

    def __init__(self) -> None:
        self.idle: collections.deque[Worker] = collections.deque()
        self.waiting: dict[str, collections.deque[asyncio.Future[Worker]]] = {}
        self.running: collections.Counter[str] = collections.Counter()
        self._order = itertools.count()
        self._since: dict[int, int] = {}

    def put(self, worker: Worker) -> None:
        while True:
            client = self._next_client()
            if client is None:
                self.idle.append(worker)
                return
            future = self.waiting[client].popleft()
            if not self.waiting[client]:
                del self.waiting[client]
            if not future.done():
                self.running[client] += 1
                future.set_result(worker)
                return

    def _next_client(self) -> str | None:
        best, key = None, None
        for client, futures in self.waiting.items():
            while futures and futures[0].done():
                futures.popleft()
            if not futures:
                continue
            rank = (self.running[client], self._since.get(id(futures[0]), 0))
            if key is None or rank < key:
                best, key = client, rank
        for client in [c for c, f in self.waiting.items() if not f]:
            del self.waiting[client]
        return best

    async def get(self, client: str) -> Worker:
        if self.idle and not self.waiting:
            self.running[client] += 1
            return self.idle.popleft()
        future: asyncio.Future[Worker] = asyncio.get_running_loop().create_future()
        self._since[id(future)] = next(self._order)
        self.waiting.setdefault(client, collections.deque()).append(future)
        if self.idle:
            self.put(self.idle.popleft())
        try:
            return await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():  # handed over just as the wait ended: pass it on
                self.done(client)
                self.put(future.result())
            raise
        finally:
            self._since.pop(id(future), None)

    def done(self, client: str) -> None:
        self.running[client] -= 1
        if self.running[client] <= 0:
            del self.running[client]

    def discard(self, worker: Worker) -> None:
        if worker in self.idle:
            self.idle.remove(worker)


class EvalPool:
    def __init__(self, settings: Settings, size: int):
        self.settings = settings
        self.size = max(1, size)
        self.idle = FairQueue()
        self.live: set[Worker] = set()
        #: a started process kept out of service, put in place the moment one is stopped
        self.spare: Worker | None = None
        self.replacing = 0
        self.closed = False
        self.killed = 0
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def ready(self) -> bool:
        return bool(self.live)

    async def _spawn(self) -> Worker:
        env = {**os.environ, ENV: self.settings.to_env()}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "verno.server.evalworker", stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, env=env)
        worker = Worker(proc)
        try:
            async with asyncio.timeout(START_TIMEOUT):
                first = await worker.read_answer()
        except (asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError) as exc:
            worker.kill()
            await proc.wait()
            raise EvaluationFailed(f"evaluation process did not start: {type(exc).__name__} "
                                   f"(exit code {proc.returncode})") from None
        if "ready" not in first:
            worker.kill()
            await proc.wait()
            raise EvaluationFailed(f"evaluation process did not start: {first.get('error', first)}")
        return worker

    async def start(self) -> None:
        """Start every evaluation process; raises when one cannot load the policies."""
        results = await asyncio.gather(*(self._spawn() for _ in range(self.size + 1)), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        for r in results:
            if isinstance(r, Worker):
                if errors:
                    r.kill()
                elif len(self.live) < self.size:
                    self._add(r)
                else:
                    self.spare = r
        if errors:
            raise errors[0]

    def _add(self, worker: Worker) -> None:
        self.live.add(worker)
        self.idle.put(worker)

    def _retire(self, worker: Worker, why: str) -> None:
        """Stop ``worker`` and start a replacement in the background."""
        worker.kill()
        self.live.discard(worker)
        self.idle.discard(worker)
        self.killed += 1
        log.warning("evaluation process stopped; starting a replacement", extra={"pid": worker.pid, "reason": why})
        if self.spare is not None and not self.closed:
            spare, self.spare = self.spare, None
            self._add(spare)
        if not self.closed:
            task = asyncio.get_running_loop().create_task(self._replace(worker))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _replace(self, old: Worker) -> None:
        self.replacing += 1
        try:
            await old.proc.wait()
            delay = 0.5
            while not self.closed:
                try:
                    worker = await self._spawn()
                except EvaluationFailed as exc:
                    log.error("evaluation process failed to start; retrying",
                              extra={"error": str(exc), "retry_seconds": delay})
                    await asyncio.sleep(delay)
                    delay = min(MAX_RESTART_DELAY, delay * 2)
                    continue
                if len(self.live) < self.size and not self.closed:
                    self._add(worker)
                elif self.spare is None and not self.closed:
                    self.spare = worker
                else:
                    worker.kill()
                return
        finally:
            self.replacing -= 1

    async def evaluate(self, endpoint: str, key: str, body: bytes, timeout: float, client: str = "",
                       digest: str = "") -> Decision:
        """The decision of an evaluation process within ``timeout`` seconds, made with the policy set
        ``digest`` names; else EvaluationStale (the process holds another set) or EvaluationFailed."""
        started = time.monotonic()
        worker: Worker | None = None
        try:
            async with asyncio.timeout(max(timeout, 0.001)):
                worker = await self.idle.get(client)
                assert worker.proc.stdin is not None
                worker.proc.stdin.write(encode_request(endpoint, key, body, digest))
                await worker.proc.stdin.drain()
                answer = await worker.read_answer()
        except TimeoutError:
            if worker is not None:
                self.idle.done(client)
            if worker is None:
                raise EvaluationTimedOut(f"no evaluation process was free within the {self.settings.timeout:g}s "
                                         "timeout") from None
            self._retire(worker, f"evaluation passed its deadline ({time.monotonic() - started:.2f}s)")
            raise EvaluationTimedOut(f"evaluation did not finish within the {self.settings.timeout:g}s "
                                     "timeout") from None
        except (asyncio.IncompleteReadError, ConnectionError, ValueError, OSError) as exc:
            assert worker is not None
            self.idle.done(client)
            code = worker.proc.returncode
            self._retire(worker, f"{type(exc).__name__}: {exc}")
            raise EvaluationFailed(f"the evaluation process ended during the evaluation "
                                   f"({_exit_text(code)})") from None
        except BaseException:  # cancelled (the client went away): the process is in an unknown state
            if worker is not None:
                self.idle.done(client)
                self._retire(worker, "request cancelled during evaluation")
            raise
        self.idle.done(client)
        self.idle.put(worker)
        if "stale" in answer:
            raise EvaluationStale(str(answer["stale"]))
        if "decision" not in answer:
            raise EvaluationFailed(answer.get("error") or "evaluation process gave no decision")
        doc = answer["decision"]
        doc["results"] = [tuple(r) for r in doc.get("results") or ()]
        return Decision(**doc)

    def reload(self) -> None:
        """Ask every evaluation process to reload its policies (SIGHUP)."""
        for worker in list(self.live) + ([self.spare] if self.spare is not None else []):
            try:
                os.kill(worker.pid, signal.SIGHUP)
            except ProcessLookupError:
                pass

    async def close(self) -> None:
        self.closed = True
        for task in list(self._tasks):
            task.cancel()
        workers = list(self.live) + ([self.spare] if self.spare is not None else [])
        self.live.clear()
        self.spare = None
        for worker in workers:
            if worker.proc.stdin is not None:
                worker.proc.stdin.close()
        for worker in workers:
            try:
                await asyncio.wait_for(worker.proc.wait(), 2)
            except asyncio.TimeoutError:
                worker.kill()
                await worker.proc.wait()


def _exit_text(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"
