"""The ASGI application: admission endpoints, health, metrics. No framework: one small router.

Evaluation runs in a thread pool under a deadline (``--timeout``); the event loop only parses, routes
and answers, so an evaluation that hangs still gets a response by the policies' failurePolicy.
"""
from __future__ import annotations

import asyncio
import gc
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Awaitable, Callable

from verno.server.admission import BadReview, Review, build_request, parse_review, review_response
from verno.server.decide import Decision, failed_decision, matching_policies
from verno.server.evaluate import Evaluator
from verno.server.metrics import CONTENT_TYPE, Metrics
from verno.server.settings import Settings

log = logging.getLogger("verno.server")

Send = Callable[[dict[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[dict[str, Any]]]
JSON_HEADERS = [(b"content-type", b"application/json")]


class BodyTooLarge(Exception):
    pass


def route_of(path: str) -> tuple[str, str] | None:
    """(endpoint, route key) for an admission path.

    ``/mutate``, ``/validate/fail``, ``/mutate/ignore``: the shared webhooks; ``/validate/fail/finegrained/
    <policy>`` (``<namespace>/<name>`` for a namespaced Policy): the webhook of one policy with
    ``matchConditions``, as ``verno webhook-config`` writes it (route key ``validate/finegrained/<policy>``).
    """
    parts = [p for p in path.split("/") if p]
    if not parts or parts[0] not in ("mutate", "validate"):
        return None
    if len(parts) == 1:
        return parts[0], parts[0]
    if parts[1] not in ("fail", "ignore"):
        return None
    if len(parts) == 2:
        return parts[0], f"{parts[0]}/{parts[1]}"
    if parts[2] == "finegrained" and len(parts) in (4, 5):
        return parts[0], f"{parts[0]}/finegrained/{'/'.join(parts[3:])}"
    return None


async def _read_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ConnectionError("client disconnected")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge()
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


async def _respond(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] = JSON_HEADERS) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _json(send: Send, status: int, doc: Any) -> None:
    await _respond(send, status, json.dumps(doc, separators=(",", ":")).encode())


class App:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.metrics = Metrics()
        self.pool = ThreadPoolExecutor(max_workers=max(1, settings.threads), thread_name_prefix="verno-eval")
        self.evaluator: Evaluator | None = None
        self.excluded = frozenset(ns for ns in settings.exclude_namespaces if ns)

    # -- ASGI ------------------------------------------------------------------------------------------
    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            started = False

            async def tracked(message: dict[str, Any]) -> None:
                nonlocal started
                started = True
                await send(message)

            try:
                await self._http(scope, receive, tracked)
            except (ConnectionError, asyncio.CancelledError):
                raise
            except Exception:  # never a 500 without a body
                log.exception("unexpected error answering a request", extra={"path": scope.get("path")})
                if not started:
                    await _json(send, 500, {"error": "internal error"})
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:
                    log.error("start-up failed", extra={"error": str(exc)})
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def startup(self) -> None:
        from verno.server.evaluate import build_evaluator

        started = time.perf_counter()
        self.evaluator = await asyncio.to_thread(build_evaluator, self.settings, self.metrics)
        # what start-up built (modules, plugins, policies) lives as long as the worker: keep the cyclic
        # collector's full passes, which pause every request in flight, from re-scanning it
        gc.freeze()
        log.info("verno serving", extra={"excluded_namespaces": sorted(self.excluded),
                                         "timeout": self.settings.timeout,
                                         "startup_seconds": round(time.perf_counter() - started, 4)})

    def shutdown(self) -> None:
        if self.evaluator is not None:
            self.evaluator.stop()
        self.pool.shutdown(wait=False, cancel_futures=True)

    # -- routing ---------------------------------------------------------------------------------------
    async def _http(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        path, method = scope["path"], scope["method"]
        route = route_of(path)
        if route is not None:
            if method != "POST":
                return await _json(send, 405, {"error": f"{path} takes POST"})
            return await self._admission(route, receive, send)
        if path in ("/health/liveness", "/health/readiness", "/metrics"):
            if method not in ("GET", "HEAD"):
                return await _json(send, 405, {"error": f"{path} takes GET"})
            if path == "/health/liveness":
                return await _json(send, 200, {"status": "ok"})
            if path == "/health/readiness":
                ready = self.evaluator is not None and self.evaluator.store.ready
                return await _json(send, 200 if ready else 503, {"status": "ready" if ready else "not ready"})
            return await _respond(send, 200, self.metrics.render().encode(),
                                  [(b"content-type", CONTENT_TYPE.encode())])
        return await _json(send, 404, {"error": f"no route {path}"})

    # -- admission -------------------------------------------------------------------------------------
    async def _admission(self, route: tuple[str, str], receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        endpoint, key = route
        try:
            body = await _read_body(receive, self.settings.max_body_bytes)
        except BodyTooLarge:
            self.metrics.bad_requests.inc(endpoint)
            return await _json(send, 413, {"error": f"body larger than {self.settings.max_body_bytes} bytes"})
        try:
            review = parse_review(body)
        except BadReview as exc:
            self.metrics.bad_requests.inc(endpoint)
            return await _json(send, 400, {"error": str(exc)})
        decision = await self._decide(endpoint, key, review, started)
        doc = review_response(review, decision.allowed, message=decision.message, code=decision.code,
                              warnings=decision.warnings, patch=decision.patch)
        await _json(send, 200, doc)
        try:
            self._record(endpoint, review, decision, started)
        except Exception:  # bookkeeping must never fail an answered request
            log.exception("recording metrics failed")

    def _record(self, endpoint: str, review: Review, decision: Decision, started: float) -> None:
        labels = (endpoint, review.operation, review.kind_name, "true" if decision.allowed else "false")
        self.metrics.requests.inc(*labels)
        self.metrics.latency.observe(time.perf_counter() - started, *labels)
        for policy, rule, result in decision.results:
            self.metrics.rule_results.inc(endpoint, policy, rule, result)
        if not decision.allowed:
            log.info("admission denied", extra={"uid": review.uid, "endpoint": endpoint,
                                                "operation": review.operation, "kind": review.kind_name,
                                                "namespace": review.namespace,
                                                "resource_name": review.request.get("name") or "",
                                                "reason": decision.message.strip()})

    def _excluded(self, review: Review) -> bool:
        if review.namespace in self.excluded:
            return True
        if review.subject.get("kind") == "Namespace":
            return ((review.subject.get("metadata") or {}).get("name") or "") in self.excluded
        return False

    async def _decide(self, endpoint: str, key: str, review: Review, started: float) -> Decision:
        evaluator = self.evaluator
        if evaluator is None or self._excluded(review):
            return Decision()
        snapshot = evaluator.store.snapshot
        policies = snapshot.for_endpoint(key)
        if not policies:
            return Decision()
        request = build_request(review, evaluator.store.namespace_labels(review.namespace))
        remaining = self.settings.timeout - (time.perf_counter() - started)
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self.pool, evaluator.evaluate, endpoint, snapshot, policies, request)
        try:
            return await asyncio.wait_for(future, max(remaining, 0.001))
        except asyncio.TimeoutError:
            reason = f"evaluation did not finish within the {self.settings.timeout:g}s timeout"
            self.metrics.not_evaluated.inc(endpoint, "timeout")
        except Exception as exc:
            log.exception("engine error", extra={"uid": review.uid})
            reason = f"internal error: {type(exc).__name__}: {exc}"
            self.metrics.not_evaluated.inc(endpoint, "error")
        try:
            concerned = matching_policies(policies, request)
        except Exception:
            concerned = list(policies)
        return failed_decision(concerned, request, reason)


def create_app() -> App:
    """The app of one worker process, configured from the environment (``verno serve`` sets it)."""
    import sys

    from verno.server import logging as jsonlog

    settings = Settings.from_env()
    jsonlog.setup(settings.log_level)
    # evaluations hold the GIL in worker threads: hand it back to the event loop sooner than the
    # default 5 ms, so answering finished requests is not queued behind running evaluations
    sys.setswitchinterval(0.001)
    return App(settings)
