"""Applying one mutate rule's patch to a resource (K: ``pkg/engine/mutate/mutation.go``).

``apply_patches`` substitutes variables in the patch (``@`` is the value at the same path of the object
being mutated), resolves mutate anchors, and applies ``patchStrategicMerge`` or ``patchesJson6902``.
An unchanged resource is a ``skip`` ("no patches applied"), as in Kyverno.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from verno.core.errors import VernoError
from verno.core.patch import json_equal
from verno.core.results import RuleResponse, Status
from verno.plugins.mutate.anchors import ConditionFailed, GlobalConditionFailed, PatchError, preprocess
from verno.plugins.mutate.jsonpatch6902 import apply_json6902
from verno.plugins.mutate.strategic import strategic_merge

NO_PATCHES = "no patches applied"


@dataclass
class Outcome:
    """What one patch (or one foreach level) did: ``status`` pass/skip/error, the resource after it."""

    status: Status
    resource: Any
    message: str = ""


def apply_patches(rc: Any, spec: Any, resource: dict[str, Any], at_prefix: str) -> Outcome:
    """Apply ``spec.patch_strategic_merge`` or ``spec.patches_json6902`` to ``resource``."""
    rule = rc.rule.name
    psm = spec.patch_strategic_merge
    json6902 = spec.patches_json6902
    if psm is None and not json6902:
        return Outcome(Status.ERROR, resource, f"mutate rule {rule}: empty mutate rule")
    try:
        if psm is not None:
            psm = rc.substitute(psm, at_prefix=at_prefix)
        else:
            json6902 = rc.substitute(json6902, at_prefix=at_prefix)
    except VernoError as exc:
        return Outcome(Status.ERROR, resource, f"mutate rule {rule}: variable substitution failed: {exc}")
    try:
        if psm is not None:
            patched = _strategic(psm, resource)
            kind = "patchStrategicMerge"
        else:
            if not isinstance(json6902, str):
                raise PatchError("patchesJson6902 must be a string", None)  # type: ignore[arg-type]
            patched = apply_json6902(resource, json6902)
            kind = "patchesJson6902"
    except PatchError as exc:
        style = "patchStrategicMerge" if psm is not None else "patchesJson6902"
        return Outcome(Status.ERROR, resource, f"mutate rule {rule}: failed to apply {style}: {exc}")
    if not isinstance(patched, dict):
        return Outcome(Status.ERROR, resource, f"mutate rule {rule}: {kind} did not produce an object")
    if json_equal(patched, resource):
        return Outcome(Status.SKIP, resource, NO_PATCHES)
    return Outcome(Status.PASS, patched, "resource patched")


def _strategic(patch: Any, resource: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(patch, dict):
        raise PatchError("patchStrategicMerge must be a map", "/")
    try:
        prepared = preprocess(patch, resource)
    except (ConditionFailed, GlobalConditionFailed):
        return resource
    return strategic_merge(resource, prepared)


def success_message(resource: dict[str, Any]) -> str:
    """Kyverno's ``buildSuccessMessage``."""
    if not resource:
        return "mutated resource"
    meta = resource.get("metadata") or {}
    kind, name, namespace = resource.get("kind", ""), meta.get("name", ""), meta.get("namespace", "")
    if not namespace:
        return f"mutated {kind}/{name}"
    return f"mutated {kind}/{name} in namespace {namespace}"


def mutate_object(rc: Any, resource: dict[str, Any], at_prefix: str) -> Outcome:
    """The rule's mutation (plain patch or foreach) applied to ``resource``."""
    mutation = rc.rule.rule.mutate
    if mutation.foreach is not None:
        from verno.plugins.mutate.foreach import mutate_foreach

        return mutate_foreach(rc, mutation.foreach, resource, at_prefix)
    return apply_patches(rc, mutation, resource, at_prefix)


def to_response(rc: Any, outcome: Outcome) -> RuleResponse:
    if outcome.status == Status.PASS:
        return rc.response(Status.PASS, success_message(outcome.resource), patched_resource=outcome.resource)
    return rc.response(outcome.status, outcome.message)


def mutate_rule(rc: Any) -> list[RuleResponse]:
    """The responses of a mutate rule for ``rc.resource`` (mutateExisting rules: one per target)."""
    mutation = rc.rule.rule.mutate
    if mutation.targets:
        from verno.plugins.mutate.existing import mutate_existing

        return mutate_existing(rc)
    return [to_response(rc, mutate_object(rc, rc.resource, "request.object"))]
