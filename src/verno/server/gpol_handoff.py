"""The admission side of ``policies.kyverno.io`` GeneratingPolicies: which policies an admitted request
concerns, each becoming one ``requestType: cel-generate`` UpdateRequest for ``verno controller``.

The policies are found through the engine's policy-kind registry (stage ``generating-policy``; the server never
imports a plugin) and evaluated by the engine on the hand-off thread, after the answer was sent, as Kyverno's
gpol webhook does: ``matchConstraints``, PolicyExceptions and ``matchConditions`` decide. A policy that gives a
response (other than an exception's skip) is concerned: one rule context (the rule is the policy's name) with
the trigger and the policy's ``synchronize``. What it generates is not used here (``resource.*`` lookups have
no cluster on this side and their errors do not matter): ``verno controller`` evaluates the policy again
against the live trigger and the cluster, and writes the objects.

- CREATE and UPDATE: the new object concerned -> generate for it;
- a synchronized policy concerned by the old object only (an UPDATE that removed a label, a DELETE):
  ``deleteDownstream``, its downstream is deleted.

Requests of the controller's own user concern only policies with ``evaluation.skipBackgroundRequests: false``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from verno.core.policykinds import KindInputs
from verno.core.request import Request
from verno.core.results import Status
from verno.core.sources import Sources
from verno.core.updaterequest import RuleContext, TriggerRef

STAGE = "generating-policy"


def generating_policies(engine: Any, kind_policies: tuple[Any, ...] | list[Any]) -> tuple[Any, ...]:
    """The GeneratingPolicies (of any kind registered at stage ``generating-policy``) among ``kind_policies``."""
    out = []
    for policy in kind_policies:
        entry = engine.policy_kinds.kind_of(str(policy.api_version).split("/")[0], policy.kind)
        if entry is not None and entry.stage == STAGE:
            out.append(policy)
    return tuple(out)


@dataclass
class GeneratingWork:
    """What the hand-off needs to choose the GeneratingPolicies a request concerns."""

    engine: Any
    policies: tuple[Any, ...]
    companions: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def _concerned(work: GeneratingWork, policy: Any, request: Request) -> bool:
    namespaces: dict[str, dict[str, Any]] = {}
    if request.namespace:
        namespaces[request.namespace] = {"apiVersion": "v1", "kind": "Namespace",
                                         "metadata": {"name": request.namespace,
                                                      "labels": dict(request.namespace_labels or {})}}
    inputs = KindInputs(Sources(), work.companions, namespaces=namespaces, engine=work.engine)
    responses = work.engine.evaluate_kinds([policy], request, inputs)
    return any(r.status is not Status.SKIP for resp in responses for r in resp.rules)


def generating_contexts(work: GeneratingWork, request: Request, background_user: str = "") \
        -> dict[str, list[RuleContext]]:
    """Policy key -> the rule context one admission request makes for each GeneratingPolicy it concerns."""
    out: dict[str, list[RuleContext]] = {}
    if request.dry_run or request.operation not in ("CREATE", "UPDATE", "DELETE"):
        return out
    from_controller = bool(background_user) and (request.user_info or {}).get("username") == background_user
    obj, old = request.resource or {}, request.old_resource
    for policy in work.policies:
        if not policy.admission or from_controller and getattr(policy, "skip_background_requests", True):
            continue
        sync = bool(getattr(policy, "synchronize", False))
        ctx: RuleContext | None = None
        if request.operation != "DELETE" and _concerned(work, policy, request):
            ctx = RuleContext(policy.name, TriggerRef.of(obj), False, sync)
        elif request.operation == "DELETE" and _concerned(work, policy, request):
            ctx = RuleContext(policy.name, TriggerRef.of(old or obj), False, sync)  # the policy asks for DELETE
        elif sync and old:
            probe = Request(old, None, "UPDATE" if request.operation == "UPDATE" else "CREATE", request.user_info,
                            request.roles, request.cluster_roles, request.namespace_labels)
            if _concerned(work, policy, probe):
                ctx = RuleContext(policy.name, TriggerRef.of(old), True, sync)
        if ctx is not None:
            out.setdefault(policy.key, []).append(ctx)
    return out
