"""One generate pattern (the rule's own, or a foreach entry's): substitute, then data / clone / cloneList."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from verno.core.errors import VernoError
from verno.plugins.generate.labels import add_owner_labels


class GenerateError(VernoError):
    """A generate pattern could not produce its resource(s) (missing clone source, bad data, ...)."""


@dataclass(frozen=True)
class Target:
    """Where a generated resource goes (Kyverno's ``ResourceSpec``)."""

    api_version: str
    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        parts = [p for p in (self.api_version, self.kind, self.namespace, self.name) if p]
        return "/".join(parts)


def _raw(pattern: Any) -> dict[str, Any]:
    """The pattern's fields as the user wrote them (variables not yet substituted)."""
    raw: dict[str, Any] = {
        "apiVersion": pattern.api_version,
        "kind": pattern.kind,
        "namespace": pattern.namespace,
        "name": pattern.name,
        "data": pattern.data,
    }
    if pattern.clone is not None:
        raw["clone"] = pattern.clone.model_dump(by_alias=True)
    if pattern.clone_list is not None:
        raw["cloneList"] = pattern.clone_list.model_dump(by_alias=True, exclude_none=True)
    return raw


def generate_pattern(rc: Any, pattern: Any) -> list[dict[str, Any]]:
    """The resources one pattern generates for the trigger ``rc.resource`` (raises GenerateError)."""
    from verno.plugins.generate.clone import clone_list, clone_one
    from verno.plugins.generate.data import from_data

    try:
        spec = rc.substitute(_raw(pattern))
    except VernoError as exc:
        raise GenerateError(f"variable substitution failed: {exc}") from exc
    target = Target(str(spec.get("apiVersion") or ""), str(spec.get("kind") or ""),
                    str(spec.get("namespace") or ""), str(spec.get("name") or ""))
    clone = spec.get("clone") or {}
    listing = spec.get("cloneList") or {}
    if clone.get("name"):
        made = [(target, obj) for obj in [clone_one(rc, target, clone)] if obj is not None]
    elif listing.get("kinds"):
        made = clone_list(rc, target.namespace, listing)
    else:
        made = [(target, obj) for obj in [from_data(target, spec.get("data"))] if obj is not None]
    return [finish(rc, t, obj) for t, obj in made]


def finish(rc: Any, target: Target, obj: dict[str, Any]) -> dict[str, Any]:
    """Name, namespace, kind and apiVersion from the target; owner labels (Kyverno's generator)."""
    meta = obj.setdefault("metadata", {})
    if target.name:
        meta["name"] = target.name
    if target.namespace:
        meta["namespace"] = target.namespace
    else:
        meta.pop("namespace", None)
    if not obj.get("kind"):
        obj["kind"] = target.kind
    if target.api_version:
        obj["apiVersion"] = target.api_version
    add_owner_labels(obj, rc.resource, rc.policy, rc.rule.base_name)
    return obj
