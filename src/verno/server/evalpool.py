"""The evaluation processes of one server worker, and the deadline each evaluation runs under.

Each request is handed to an idle evaluation process (:mod:`verno.server.evalworker`) with what is
left of its ``--timeout``. When the answer has not come by then, the process is stopped (SIGKILL) and a
fresh one started in its place: the request is answered by failurePolicy at its deadline, and the work
it caused ends there, so expensive requests cannot hold evaluation capacity beyond their own deadline.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
import time
from typing import Any

from verno.server.decide import Decision
from verno.server.evalworker import ANSWER_HEAD, encode_request
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
        return json.loads(await self.proc.stdout.readexactly(size))

    def kill(self) -> None:
        if self.proc.returncode is None:
            try:
                self.proc.kill()
            except ProcessLookupError:
                pass


class EvalPool:
    def __init__(self, settings: Settings, size: int):
        self.settings = settings
        self.size = max(1, size)
        self.idle: asyncio.Queue[Worker] = asyncio.Queue()
        self.live: set[Worker] = set()
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
        results = await asyncio.gather(*(self._spawn() for _ in range(self.size)), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        for r in results:
            if isinstance(r, Worker):
                if errors:
                    r.kill()
                else:
                    self._add(r)
        if errors:
            raise errors[0]

    def _add(self, worker: Worker) -> None:
        self.live.add(worker)
        self.idle.put_nowait(worker)

    def _retire(self, worker: Worker, why: str) -> None:
        """Stop ``worker`` and start a replacement in the background."""
        worker.kill()
        self.live.discard(worker)
        self.killed += 1
        log.warning("evaluation process stopped; starting a replacement", extra={"pid": worker.pid, "reason": why})
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
                if self.closed:
                    worker.kill()
                else:
                    self._add(worker)
                return
        finally:
            self.replacing -= 1

    async def evaluate(self, endpoint: str, key: str, body: bytes, timeout: float) -> Decision:
        """The decision of an evaluation process within ``timeout`` seconds, else EvaluationFailed."""
        started = time.monotonic()
        worker: Worker | None = None
        try:
            async with asyncio.timeout(max(timeout, 0.001)):
                worker = await self.idle.get()
                assert worker.proc.stdin is not None
                worker.proc.stdin.write(encode_request(endpoint, key, body))
                await worker.proc.stdin.drain()
                answer = await worker.read_answer()
        except TimeoutError:
            if worker is None:
                raise EvaluationTimedOut(f"no evaluation process was free within the {self.settings.timeout:g}s "
                                         "timeout") from None
            self._retire(worker, f"evaluation passed its deadline ({time.monotonic() - started:.2f}s)")
            raise EvaluationTimedOut(f"evaluation did not finish within the {self.settings.timeout:g}s "
                                     "timeout") from None
        except (asyncio.IncompleteReadError, ConnectionError, ValueError, OSError) as exc:
            assert worker is not None
            code = worker.proc.returncode
            self._retire(worker, f"{type(exc).__name__}: {exc}")
            raise EvaluationFailed(f"the evaluation process ended during the evaluation "
                                   f"({_exit_text(code)})") from None
        except BaseException:  # cancelled (the client went away): the process is in an unknown state
            if worker is not None:
                self._retire(worker, "request cancelled during evaluation")
            raise
        self.idle.put_nowait(worker)
        if "decision" not in answer:
            raise EvaluationFailed(answer.get("error") or "evaluation process gave no decision")
        doc = answer["decision"]
        doc["results"] = [tuple(r) for r in doc.get("results") or ()]
        return Decision(**doc)

    def reload(self) -> None:
        """Ask every evaluation process to reload its policies (SIGHUP)."""
        for worker in list(self.live):
            try:
                os.kill(worker.pid, signal.SIGHUP)
            except ProcessLookupError:
                pass

    async def close(self) -> None:
        self.closed = True
        for task in list(self._tasks):
            task.cancel()
        workers = list(self.live)
        self.live.clear()
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
