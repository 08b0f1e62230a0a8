"""The ASGI application: admission endpoints, health, metrics. No framework: one small router.

Evaluation runs in separate processes under a deadline (``--timeout``, see :mod:`verno.server.evalpool`);
the event loop only reads, routes and answers, so every request is answered by its deadline, by the
policies' failurePolicy when the evaluation did not finish. Every answer to an admission path is an
AdmissionReview once the request's uid could be read; only an unreadable body gets a plain 4xx.
"""
from __future__ import annotations

import asyncio
import gc
import json
import logging
import time
from typing import Any, Awaitable, Callable

from verno.core.request import Request
from verno.server import reloading
from verno.server.admission import BadReview, Review, build_request, parse_review, review_response
from verno.server.cel_mutate_handoff import cel_mutate_bodies, on_route
from verno.server.decide import Decision, failed_decision, matching_policies
from verno.server.evalpool import EvalPool, EvaluationFailed, EvaluationStale, EvaluationTimedOut
from verno.server.evaluate import Evaluator
from verno.server.policies import failure_policy, has_match_conditions
from verno.server.metrics import CONTENT_TYPE, Metrics
from verno.server.gpol_handoff import GeneratingWork, generating_policies
from verno.server.mutate_handoff import mutate_existing_rules
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
        self.evaluator: Evaluator | None = None
        self.pool: EvalPool | None = None
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
            except Exception as exc:  # never a 500 without a body (admission answers never get here)
                log.exception("unexpected error answering a request", extra={"path": scope.get("path")})
                if not started:
                    await _json(send, 500, {"error": f"internal error: {type(exc).__name__}: {exc}"})
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
                    await self.aclose()
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def startup(self) -> None:
        from verno.server.evaluate import build_evaluator

        started = time.perf_counter()
        self.evaluator = await asyncio.to_thread(build_evaluator, self.settings, self.metrics)
        track_load_failures(self.evaluator.store, self.metrics)
        self.pool = EvalPool(self.settings, self.settings.evaluators)
        await self.pool.start()
        # what start-up built (modules, plugins, policies) lives as long as the worker: keep the cyclic
        # collector's full passes, which pause every request in flight, from re-scanning it
        gc.freeze()
        reloading.register(self.reload)
        log.info("verno serving", extra={"excluded_namespaces": sorted(self.excluded),
                                         "timeout": self.settings.timeout, "evaluators": self.pool.size,
                                         "startup_seconds": round(time.perf_counter() - started, 4)})

    def reload(self) -> None:
        """Load the policies again now, here and in every evaluation process (SIGHUP)."""
        if self.evaluator is not None and hasattr(self.evaluator.store, "reload"):
            self.evaluator.store.reload()
        if self.pool is not None:
            self.pool.reload()

    async def aclose(self) -> None:
        reloading.unregister(self.reload)
        if self.pool is not None:
            await self.pool.close()
        if self.evaluator is not None:
            self.evaluator.stop()

    def shutdown(self) -> None:
        """Stop from outside the event loop (tests)."""
        asyncio.run(self.aclose())

    @property
    def ready(self) -> bool:
        return (self.evaluator is not None and self.evaluator.store.ready and self.pool is not None
                and self.pool.ready)

    # -- routing ---------------------------------------------------------------------------------------
    async def _http(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        path, method = scope["path"], scope["method"]
        route = route_of(path)
        if route is not None:
            if method != "POST":
                return await _json(send, 405, {"error": f"{path} takes POST"})
            client = scope.get("client")
            return await self._admission(route, receive, send, client[0] if client else "")
        if path in ("/health/liveness", "/health/readiness", "/metrics"):
            if method not in ("GET", "HEAD"):
                return await _json(send, 405, {"error": f"{path} takes GET"})
            if path == "/health/liveness":
                return await _json(send, 200, {"status": "ok"})
            if path == "/health/readiness":
                ready = self.ready
                return await _json(send, 200 if ready else 503, {"status": "ready" if ready else "not ready"})
            return await _respond(send, 200, self.metrics.render().encode(),
                                  [(b"content-type", CONTENT_TYPE.encode())])
        return await _json(send, 404, {"error": f"no route {path}"})

    # -- admission -------------------------------------------------------------------------------------
    async def _admission(self, route: tuple[str, str], receive: Receive, send: Send, client: str = "") -> None:
        started = time.perf_counter()
        endpoint, key = route
        try:
            async with asyncio.timeout(self.settings.timeout):
                body = await _read_body(receive, self.settings.max_body_bytes)
        except BodyTooLarge:
            self.metrics.bad_requests.inc(endpoint)
            return await _json(send, 413, {"error": f"body larger than {self.settings.max_body_bytes} bytes"})
        except TimeoutError:
            self.metrics.bad_requests.inc(endpoint)
            return await _json(send, 408, {"error": f"body not received within {self.settings.timeout:g}s"})
        try:
            review = parse_review(body)
        except BadReview as exc:
            self.metrics.bad_requests.inc(endpoint)
            if exc.uid is None:
                return await _json(send, 400, {"error": str(exc)})
            decision = self._unreadable(key, str(exc))
            return await _json(send, 200, _answer(exc.api_version, exc.uid, decision))
        try:
            decision = await self._decide(endpoint, key, review, body, started, client)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("error deciding an admission request", extra={"uid": review.uid})
            self.metrics.not_evaluated.inc(endpoint, "error")
            decision = self._by_failure_policy(key, f"internal error: {type(exc).__name__}: {exc}")
        try:
            doc = review_response(review, decision.allowed, message=decision.message, code=decision.code,
                                  warnings=decision.warnings, patch=decision.patch)
        except Exception as exc:
            log.exception("error writing an admission response", extra={"uid": review.uid})
            decision = self._by_failure_policy(key, f"internal error writing the answer: {type(exc).__name__}: {exc}")
            doc = _answer(review.api_version, review.uid, decision)
        await _json(send, 200, doc)
        if endpoint == "validate" and decision.allowed:
            try:
                self._hand_off(key, review)
            except Exception:  # the answer is sent; a hand-off fault is logged, never raised
                log.exception("generate hand-off failed", extra={"uid": review.uid})
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

    def _hand_off(self, key: str, review: Review) -> None:
        """Cluster mode: the generate and mutateExisting rules this admitted request concerns become
        UpdateRequests for ``verno controller`` (each policy on the validating route of its failurePolicy, or
        on its own)."""
        evaluator = self.evaluator
        if evaluator is None or evaluator.handoff is None or self._excluded(review) or not evaluator.store.ready:
            return
        if review.request.get("dryRun"):
            return
        snapshot = evaluator.store.snapshot
        policies = tuple(p for p in snapshot.policies
                         if ("generate" in p.kinds or mutate_existing_rules(p)) and _on_route(p, key))
        # GeneratingPolicies: from every shared validating route (each cluster registers one)
        gpols = generating_policies(evaluator.engine, snapshot.kind_policies) \
            if "/finegrained/" not in key else ()
        mutators = tuple(p for p in snapshot.mutators if on_route(p, key))
        if not policies and not gpols and not mutators:
            return
        request = build_request(review, evaluator.store.namespace_labels(review.namespace))
        if policies or gpols:
            evaluator.handoff.offer(policies, request, review.request,
                                    GeneratingWork(evaluator.engine, gpols, snapshot.companions) if gpols else None)
        if mutators:  # a MutatingPolicy's mutateExisting (server/cel_mutate_handoff.py)
            handoff, inputs = evaluator.handoff, evaluator.kind_inputs(snapshot, request, evaluator.sources)
            evaluator.handoff.submit(lambda: cel_mutate_bodies(
                evaluator.engine, mutators, request, inputs, review.request, handoff.namespace,
                handoff.background_user), "cel-mutate hand-off")

    def _excluded(self, review: Review) -> bool:
        if review.namespace in self.excluded:
            return True
        if review.subject.get("kind") == "Namespace":
            return ((review.subject.get("metadata") or {}).get("name") or "") in self.excluded
        return False

    def _route_policies(self, key: str) -> tuple[Any, ...] | None:
        """The policies of a route, or None while no complete set was ever loaded."""
        evaluator = self.evaluator
        if evaluator is None or not evaluator.store.ready:
            return None
        return evaluator.store.snapshot.for_endpoint(key)

    def _route_kinds(self, key: str) -> tuple[Any, ...]:
        """The route's policies of other kinds (ValidatingPolicy, VAP ...)."""
        evaluator = self.evaluator
        if evaluator is None or not evaluator.store.ready:
            return ()
        return evaluator.store.snapshot.kinds_for(key)

    def _by_failure_policy(self, key: str, reason: str, *, code: int = 500) -> Decision:
        """No evaluation: every policy of the route answers by its failurePolicy; before any policy set
        was loaded, the route's own (``/…/ignore`` allows, every other route denies)."""
        policies = self._route_policies(key)
        if policies is None:
            if key.endswith("/ignore"):
                return Decision(warnings=[f"verno has not loaded policies yet; allowed by failurePolicy Ignore: "
                                          f"{reason}"])
            return Decision(False, f"verno has not loaded policies yet (failurePolicy Fail): {reason}", 503)
        decision = failed_decision(list(policies), Request({}), reason, self._route_kinds(key))
        if not decision.allowed:
            decision.code = code
        return decision

    def _unreadable(self, key: str, problem: str) -> Decision:
        decision = self._by_failure_policy(key, f"the AdmissionReview cannot be read: {problem}", code=400)
        if not decision.allowed:
            fail = [p.policy.key for p in self._route_policies(key) or () if failure_policy(p.policy) == "Fail"]
            fail += [k.key for k in self._route_kinds(key) if k.failure_policy != "Ignore"]
            decision.message = (f"verno could not read the AdmissionReview: {problem}"
                                + (f" (policies {', '.join(sorted(fail))} have failurePolicy Fail)" if fail else ""))
        return decision

    async def _evaluate(self, endpoint: str, key: str, body: bytes, started: float, client: str) -> Decision:
        """The decision of an evaluation process holding the same policy set as this process.

        A process that saw a reload this one has not seen yet (or missed one) answers stale: the files are
        looked at once more, and the request evaluated again only when both now hold the same set, never
        with another set. Answered a little before the deadline, so the answer fits in it.
        """
        assert self.pool is not None and self.evaluator is not None
        store = self.evaluator.store
        deadline = started + self.settings.timeout - min(0.25, self.settings.timeout * 0.05)
        for attempt in (1, 2):
            try:
                return await self.pool.evaluate(endpoint, key, body, deadline - time.perf_counter(), client,
                                                store.snapshot.digest)
            except EvaluationStale as stale:
                check = getattr(store, "check", None)
                if attempt == 2 or check is None:
                    raise
                await asyncio.to_thread(check)
                if store.snapshot.digest != stale.digest:
                    raise
        raise AssertionError("unreachable")

    async def _decide(self, endpoint: str, key: str, review: Review, body: bytes, started: float,
                      client: str = "") -> Decision:
        if self._excluded(review):
            return Decision()
        policies = self._route_policies(key)
        if policies is None:
            self.metrics.not_evaluated.inc(endpoint, "not-ready")
            return self._by_failure_policy(key, "no policy set was loaded successfully yet")
        kinds = self._route_kinds(key)
        if not policies and not kinds:
            return Decision()
        assert self.pool is not None and self.evaluator is not None
        try:
            return await self._evaluate(endpoint, key, body, started, client)
        except EvaluationTimedOut as exc:
            reason = str(exc)
            self.metrics.not_evaluated.inc(endpoint, "timeout")
        except EvaluationStale as exc:
            log.error("evaluation process holds another policy set", extra={"uid": review.uid, "error": str(exc)})
            reason = f"evaluation failed: {exc}; the policy files are being reloaded"
            self.metrics.not_evaluated.inc(endpoint, "stale")
        except EvaluationFailed as exc:
            log.error("evaluation failed", extra={"uid": review.uid, "error": str(exc)})
            reason = f"evaluation failed: {exc}"
            self.metrics.not_evaluated.inc(endpoint, "error")
        request = build_request(review, self.evaluator.store.namespace_labels(review.namespace))
        try:
            concerned = matching_policies(policies, request)
        except Exception:
            concerned = list(policies)
        return failed_decision(concerned, request, reason, kinds)


def _on_route(prepared: Any, key: str) -> bool:
    """Whether a policy's generate work is handed off from this validating route (once per request)."""
    if key.startswith("validate/finegrained/"):
        return key == f"validate/finegrained/{prepared.policy.key}"
    if has_match_conditions(prepared.policy):
        return False
    if key in ("validate/fail", "validate/ignore"):
        return key == f"validate/{failure_policy(prepared.policy).lower()}"
    return True


def _answer(api_version: str, uid: str, decision: Decision) -> dict[str, Any]:
    response: dict[str, Any] = {"uid": uid, "allowed": decision.allowed}
    if not decision.allowed:
        response["status"] = {"status": "Failure", "code": decision.code or 400, "message": decision.message}
    if decision.warnings:
        response["warnings"] = decision.warnings
    return {"apiVersion": api_version, "kind": "AdmissionReview", "response": response}


def track_load_failures(store: Any, metrics: Metrics) -> None:
    """``verno_policy_load_failing``: 1 while the last policy load failed (the last good set serves)."""
    store.on_failure.append(lambda error: metrics.load_failing.set(value=1))
    store.on_swap.append(lambda snap: metrics.load_failing.set(value=0))


def create_app() -> App:
    """The app of one worker process, configured from the environment (``verno serve`` sets it)."""
    from verno.server import logging as jsonlog

    settings = Settings.from_env()
    jsonlog.setup(settings.log_level)
    return App(settings)
