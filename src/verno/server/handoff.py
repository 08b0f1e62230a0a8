"""The admission side of generate: each request a generate rule is concerned with is handed to
``verno controller`` as a ``kyverno.io/v2`` UpdateRequest in the cluster (never through process memory).

Called for allowed, non-dry-run requests on the validating webhook (as Kyverno does), after the answer was
sent: which rules are concerned is worked out, and the record written, on a small thread pool with
backoff (0.5 s doubling, given up after about 3 s, logged). What a rule is concerned with:

- the object matches the rule (CREATE, UPDATE; DELETE only when the rule lists DELETE): generate for it;
- a synchronized rule matched the old object and no longer matches (an UPDATE that removed a label, a
  DELETE): its downstream is deleted (``deleteDownstream``).

mutateExisting rules get one ``requestType: mutate`` record each, chosen by ``server/mutate_handoff.py`` and
written on the same path; GeneratingPolicies one ``requestType: cel-generate`` record each, chosen by
``server/gpol_handoff.py``.
"""
from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from verno.core.prepare import PreparedPolicy, PreparedRule
from verno.core.request import Request
from verno.core.updaterequest import (
    CEL_GENERATE, PLURAL, API_VERSION, RuleContext, TriggerRef, generate_request, mutate_request,
)
from verno.server.gpol_handoff import GeneratingWork, generating_contexts
from verno.server.mutate_handoff import mutate_work

log = logging.getLogger("verno.server.handoff")

BACKOFF_START, BACKOFF_MAX, GIVE_UP_AFTER = 0.5, 1.0, 3.0


def _operations(rule: Any) -> set[str]:
    block = rule.match
    ops: set[str] = set()
    for f in [*(block.any or []), *(block.all or []), block]:
        ops.update(f.resources.operations or ())
    return ops


def _matches(rule: PreparedRule, obj: dict[str, Any], operation: str, request: Request) -> bool:
    probe = Request(obj, None, operation, request.user_info, request.roles, request.cluster_roles,
                    request.namespace_labels)
    return rule.matcher.matches(probe)


def rule_contexts(policies: tuple[PreparedPolicy, ...] | list[PreparedPolicy], request: Request,
                  background_user: str = "") -> dict[str, list[RuleContext]]:
    """Policy key -> the generate work one admission request makes. Requests of ``background_user`` (the
    controller's own writes) concern only rules with ``skipBackgroundRequests: false``."""
    out: dict[str, list[RuleContext]] = {}
    if request.dry_run:
        return out
    from_controller = bool(background_user) and (request.user_info or {}).get("username") == background_user
    for prepared in policies:
        policy = prepared.policy
        if not policy.spec.admission or policy.namespace and policy.namespace != request.namespace:
            continue
        for rule in prepared.rules:
            if rule.kind != "generate" or from_controller and rule.rule.skip_background_requests:
                continue
            sync = bool(rule.rule.generate.synchronize)
            ops = _operations(rule.rule)
            obj, old = request.resource or {}, request.old_resource
            ctx: RuleContext | None = None
            if request.operation == "DELETE":
                if "DELETE" in ops and rule.matcher.matches(request):
                    ctx = RuleContext(rule.base_name, TriggerRef.of(old or obj), False, sync)
                elif sync and old and _matches(rule, old, "CREATE" if not ops or "CREATE" in ops
                                               else sorted(ops)[0], request):
                    ctx = RuleContext(rule.base_name, TriggerRef.of(old), True, sync)
            elif request.operation in ("CREATE", "UPDATE"):
                if rule.matcher.matches(request):
                    ctx = RuleContext(rule.base_name, TriggerRef.of(obj), False, sync)
                elif sync and old and request.operation == "UPDATE" and _matches(rule, old, "UPDATE", request):
                    ctx = RuleContext(rule.base_name, TriggerRef.of(old), True, sync)
            if ctx is not None:
                out.setdefault(policy.key, []).append(ctx)
    return out


class HandOff:
    """Writes UpdateRequests through ``post(path, body)`` (the cluster client's) into ``namespace``."""

    def __init__(self, post: Callable[[str, Any], Any], namespace: str, workers: int = 2,
                 sleep: Callable[[float], None] = time.sleep, background_user: str = ""):
        self.post, self.namespace, self.sleep = post, namespace, sleep
        self.background_user = background_user
        self.path = f"/apis/{API_VERSION}/namespaces/{namespace}/{PLURAL}"
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="verno-handoff")
        self.written = 0
        self.lost = 0
        self._lock = threading.Lock()

    def offer(self, policies: tuple[PreparedPolicy, ...], request: Request, admission: dict[str, Any],
              generating: GeneratingWork | None = None) -> None:
        """Queue the work of one admitted request (returns at once); ``generating``: the GeneratingPolicies
        to consider besides ``policies``."""
        self.pool.submit(self._run, policies, request, admission, generating)

    def submit(self, work: Callable[[], list[tuple[dict[str, Any], str]]], what: str = "hand-off") -> None:
        """Queue ``work`` (returns at once): on the pool it makes UpdateRequests ``(body, policy key)``, each
        then written with the same backoff."""
        self.pool.submit(self._run_work, work, what)

    def _run_work(self, work: Callable[[], list[tuple[dict[str, Any], str]]], what: str) -> None:
        try:
            bodies = work()
        except Exception:
            log.exception(f"{what}: matching failed")
            return
        for body, policy in bodies:
            self._write(body, policy)

    def _run(self, policies: tuple[PreparedPolicy, ...], request: Request, admission: dict[str, Any],
             generating: GeneratingWork | None = None) -> None:
        if generating is not None and generating.policies:
            try:  # GeneratingPolicies: one cel-generate record each (server/gpol_handoff.py)
                gpol_work = generating_contexts(generating, request, self.background_user)
            except Exception:
                log.exception("generating policy hand-off: evaluation failed", extra={"uid": admission.get("uid")})
                gpol_work = {}
            for policy, contexts in gpol_work.items():
                self._write(generate_request(policy, contexts, self.namespace, admission_request=admission,
                                             kind=CEL_GENERATE), policy)
        try:
            work = rule_contexts(policies, request, self.background_user)
        except Exception:
            log.exception("generate hand-off: matching failed", extra={"uid": admission.get("uid")})
            return
        for policy, contexts in work.items():
            self._write(generate_request(policy, contexts, self.namespace, admission_request=admission), policy)
        try:  # mutateExisting: one record per rule (server/mutate_handoff.py)
            mutations = mutate_work(policies, request, self.background_user)
        except Exception:
            log.exception("mutate hand-off: matching failed", extra={"uid": admission.get("uid")})
            return
        for item in mutations:
            self._write(mutate_request(item.policy, item.rule, item.trigger, self.namespace,
                                       admission_request=admission), item.policy)

    def _write(self, body: dict[str, Any], policy: str) -> None:
        delay, started = BACKOFF_START, time.monotonic()
        while True:
            try:
                self.post(self.path, body)
                with self._lock:
                    self.written += 1
                return
            except Exception as exc:
                if time.monotonic() - started + delay > GIVE_UP_AFTER:
                    with self._lock:
                        self.lost += 1
                    log.error("hand-off failed: UpdateRequest not written",
                              extra={"policy": policy, "error": str(exc)})
                    return
                self.sleep(delay)
                delay = min(BACKOFF_MAX, delay * 2)

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=False)
