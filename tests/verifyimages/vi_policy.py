"""Policies, Pods and an evaluation helper for the verifyImages tests."""
from __future__ import annotations

import uuid
from typing import Any

from verno.core.engine import Engine
from verno.core.models.policy import Policy
from verno.core.request import Request
from verno.core.sources import Sources

OFFLINE = {"rekor": {"ignoreTlog": True}, "ctlog": {"ignoreSCT": True}}


def repo() -> str:
    return f"t/{uuid.uuid4().hex[:10]}"


def policy(*verify: dict[str, Any], name: str = "check-images") -> Policy:
    return Policy.model_validate({
        "apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy", "metadata": {"name": name},
        "spec": {"rules": [{"name": "verify", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
                            "verifyImages": list(verify)}]}})


def pod(*images: str, init: tuple[str, ...] = ()) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": f"c{i}", "image": im} for i, im in enumerate(images)]}
    if init:
        spec["initContainers"] = [{"name": f"i{i}", "image": im} for i, im in enumerate(init)]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "default"}, "spec": spec}


def keys(pem: str, **extra: Any) -> dict[str, Any]:
    return {"keys": {"publicKeys": pem, **OFFLINE, **extra}}


def evaluate(engine: Engine, sources: Sources, resource: dict[str, Any], *verify: dict[str, Any]):
    """(rule responses, the policy response) of one verifyImages policy on ``resource``."""
    out = engine.evaluate([engine.prepare(policy(*verify))], Request(resource), sources=sources)[0]
    return out.rules, out
