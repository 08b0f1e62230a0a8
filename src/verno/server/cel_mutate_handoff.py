"""The admission side of a MutatingPolicy's mutateExisting (``evaluation.mutateExisting.enabled``): which
admitted requests are triggers, each handed to ``verno controller`` as one ``cel-mutate`` UpdateRequest.

A policy of a plugin-registered kind patches existing targets when it has a truthy ``mutate_existing``
(see :class:`verno.core.policykinds.KindPolicy`). A request is a trigger of such a policy when the engine's
evaluation of the policy for it gives a result other than ``skip`` (its ``matchConstraints`` select the
request, its ``matchConditions`` hold and no PolicyException exempts it); the targets are read, patched and
written by the controller (``verno controller``, :mod:`verno.controller.cel_mutate`). Dry-run requests are
never triggers; requests of the controller's own user are not unless the policy sets
``evaluation.skipBackgroundRequests: false``. Each policy is handed off once per request: from the validating
route of its failurePolicy (``/validate/fail`` or ``/validate/ignore``), or from the plain ``/validate``.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from verno.core.engine import Engine
from verno.core.policykinds import KindInputs
from verno.core.request import Request
from verno.core.results import Status
from verno.core.updaterequest import TriggerRef, cel_mutate_request


def on_route(policy: Any, key: str) -> bool:
    if key in ("validate/fail", "validate/ignore"):
        return key == f"validate/{str(policy.failure_policy or 'Fail').lower()}"
    return key == "validate"


def _skips_background_requests(policy: Any) -> bool:
    spec = policy.document.get("spec") if isinstance(policy.document, Mapping) else None
    evaluation = spec.get("evaluation") if isinstance(spec, Mapping) else None
    value = evaluation.get("skipBackgroundRequests") if isinstance(evaluation, Mapping) else None
    return value is not False


def triggered(engine: Engine, policies: Iterable[Any], request: Request, inputs: KindInputs,
              background_user: str = "") -> list[tuple[str, TriggerRef]]:
    """(policy key, trigger) for each policy the admitted request is a trigger of."""
    if request.dry_run or request.operation not in ("CREATE", "UPDATE", "DELETE"):
        return []
    from_controller = bool(background_user) and (request.user_info or {}).get("username") == background_user
    subject = request.resource if request.operation != "DELETE" else request.old_resource
    out: list[tuple[str, TriggerRef]] = []
    for policy in policies:
        if from_controller and _skips_background_requests(policy):
            continue
        responses = engine.evaluate_kinds([policy], request, inputs)
        if any(rule.status is not Status.SKIP for response in responses for rule in response.rules):
            out.append((policy.key, TriggerRef.of(subject or request.resource or {})))
    return out


def cel_mutate_bodies(engine: Engine, policies: Iterable[Any], request: Request, inputs: KindInputs,
                      admission: dict[str, Any], namespace: str, background_user: str = "") \
        -> list[tuple[dict[str, Any], str]]:
    """The UpdateRequests (body, policy key) one admitted request makes, for the controller's ``namespace``."""
    return [(cel_mutate_request(key, trigger, namespace, admission_request=admission), key)
            for key, trigger in triggered(engine, policies, request, inputs, background_user)]
