"""Pods and a small evaluation helper for the podSecurity tests."""
from __future__ import annotations

from typing import Any

from verno.plugins.validate.podsecurity.evaluate import evaluate_pod, parse_level_version


def container(name: str = "app", image: str = "nginx", **security: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "image": image}
    if security:
        out["securityContext"] = security
    return out


def restricted_container(name: str = "app", image: str = "nginx", **extra: Any) -> dict[str, Any]:
    """A container that passes every restricted control (with a pod-level runAsNonRoot and seccomp)."""
    security = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}, **extra}
    return container(name, image, **security)


def restricted_spec(*containers: dict[str, Any], **spec: Any) -> dict[str, Any]:
    sc = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
    sc.update(spec.pop("securityContext", {}))
    return {"securityContext": sc, "containers": list(containers) or [restricted_container()], **spec}


def failed(level: str, spec: dict[str, Any], version: str = "latest", excludes: list[dict] | None = None,
           meta: dict[str, Any] | None = None) -> list[str]:
    """The IDs of the checks the pod fails."""
    _, checks = evaluate_pod(parse_level_version(level, version), excludes or [], meta or {}, spec)
    return [c.id for c in checks]


def checks(level: str, spec: dict[str, Any], version: str = "latest", excludes: list[dict] | None = None,
           meta: dict[str, Any] | None = None):
    return evaluate_pod(parse_level_version(level, version), excludes or [], meta or {}, spec)[1]
