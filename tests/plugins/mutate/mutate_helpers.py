"""Shared helpers of the mutate tests (imported by name: the tests directory is not a package)."""
from __future__ import annotations

from typing import Any

from verno.core.models.policy import Policy


def policy(mutate: dict[str, Any], name: str = "r", kinds: tuple[str, ...] = ("Pod",)) -> Policy:
    return Policy.model_validate({
        "apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy", "metadata": {"name": "p"},
        "spec": {"rules": [{"name": name, "match": {"any": [{"resources": {"kinds": list(kinds)}}]},
                            "mutate": mutate}]},
    })


def pod(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "default"},
            "spec": spec or {"containers": [{"name": "nginx", "image": "nginx"}]}}
