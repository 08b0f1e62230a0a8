"""mutateExisting: ``mutate.targets`` (K: ``pkg/engine/handlers/mutation/mutate_existing.go``, ``load_targets.go``).

Each target spec (variables substituted) selects resources from ``rc.sources.cluster_resources`` (the
CLI's ``--target-resource(s)`` / a Test's ``targetResources``) by apiVersion, kind, namespace and name
(wildcards) and label selector, or, in cluster mode, asks ``rc.sources.targets`` (the controller reads the
cluster); a namespaced Policy only reaches its own namespace. For each target:
``target`` is set in the context, the target's ``context`` and ``preconditions`` are evaluated, and the
rule's patch (``@`` meaning the target) is applied to it. Every target gives its own response; a passing
one carries the patched target in ``patched_resource``. The trigger itself is never modified.
"""
from __future__ import annotations

from typing import Any

from verno.core import wildcard
from verno.core.errors import VernoError
from verno.core.results import RuleResponse, Status
from verno.core.selectors import selector_matches
from verno.plugins.mutate.rule import mutate_object, to_response


def mutate_existing(rc: Any) -> list[RuleResponse]:
    responses: list[RuleResponse] = []
    for index, spec in enumerate(rc.rule.rule.mutate.targets):
        try:
            selector = _resolve(rc, spec)
        except VernoError as exc:
            responses.append(rc.response(Status.ERROR, f"failed to substitute variables in target[{index}]: {exc}"))
            continue
        for target in find_targets(rc, selector):
            responses.append(_one_target(rc, spec, target))
    return responses


def _resolve(rc: Any, spec: Any) -> dict[str, Any]:
    raw = {
        "apiVersion": spec.api_version,
        "kind": spec.kind,
        "namespace": spec.namespace,
        "name": spec.name,
        "uid": spec.uid,
    }
    if spec.selector is not None:
        raw["selector"] = spec.selector.model_dump(by_alias=True, exclude_none=True)
    return rc.substitute(raw)


def find_targets(rc: Any, selector: dict[str, Any]) -> list[dict[str, Any]]:
    """The known resources a (substituted) target spec selects, in their given order."""
    namespace = rc.policy.namespace or selector.get("namespace") or ""
    if rc.sources.targets is not None:
        return rc.sources.targets({**selector, "namespace": namespace})
    name = selector.get("name") or ""
    found = []
    for resource in rc.sources.cluster_resources:
        if not isinstance(resource, dict) or not _kind_matches(selector, resource):
            continue
        meta = resource.get("metadata") or {}
        if not _names_match(namespace, name, meta.get("namespace") or "", meta.get("name") or ""):
            continue
        uid = selector.get("uid") or ""
        if uid and meta.get("uid") != uid:
            continue
        label_selector = selector.get("selector")
        if label_selector is not None and not selector_matches(label_selector, meta.get("labels") or {}):
            continue
        found.append(resource)
    return found


def _kind_matches(selector: dict[str, Any], resource: dict[str, Any]) -> bool:
    api_version = selector.get("apiVersion") or ""
    kind = selector.get("kind") or ""
    if kind and not wildcard.match(kind, resource.get("kind") or ""):
        return False
    return not api_version or wildcard.match(api_version, resource.get("apiVersion") or "")


def _names_match(namespace_pattern: str, name_pattern: str, namespace: str, name: str) -> bool:
    if not namespace_pattern:
        return not name_pattern or wildcard.match(name_pattern, name)
    if not wildcard.match(namespace_pattern, namespace):
        return False
    return not name_pattern or wildcard.match(name_pattern, name)


def _one_target(rc: Any, spec: Any, target: dict[str, Any]) -> RuleResponse:
    rc.context.checkpoint()
    try:
        rc.context.set("target", target)
        gate = rc.open_scope(spec.context, spec.preconditions)
        if gate is not None:
            return rc.response(gate.status, gate.message)
        return to_response(rc, mutate_object(rc, target, "target"))
    finally:
        rc.context.restore()
