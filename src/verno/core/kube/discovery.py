"""Every resource a cluster serves that can be listed, read from discovery (``/api``, ``/apis`` and each
group version's resource list), preferred versions first.

Subresources (``pods/status``) and resources without the ``list`` verb are left out: nothing lists them.
A group version whose resource list cannot be read (an aggregated API that is down answers 503) is an
error naming it, never a silently smaller cluster.
"""
from __future__ import annotations

from dataclasses import dataclass

from verno.core.kube.rest import Kube, Resource


@dataclass(frozen=True)
class Served:
    """One listable resource, and whether its version is its group's preferred one."""

    resource: Resource
    preferred: bool


def served_resources(kube: Kube) -> list[Served]:
    """Listable resources in discovery order: the core group, then each group (preferred version first)."""
    versions: list[tuple[str, str, bool]] = []
    core = kube.request("GET", "/api")
    for i, version in enumerate(core.get("versions") or []):
        versions.append(("", str(version), i == 0))
    groups = kube.request("GET", "/apis")
    for group in groups.get("groups") or []:
        name = str(group.get("name") or "")
        preferred = str((group.get("preferredVersion") or {}).get("version") or "")
        listed = [str(v.get("version") or "") for v in group.get("versions") or []]
        ordered = ([preferred] if preferred in listed else []) + [v for v in listed if v != preferred]
        versions.extend((name, v, v == preferred or (not preferred and i == 0)) for i, v in enumerate(ordered))
    out: list[Served] = []
    for group, version, preferred in versions:
        path = f"/apis/{group}/{version}" if group else f"/api/{version}"
        listing = kube.request("GET", path)
        for entry in listing.get("resources") or []:
            name = str(entry.get("name") or "")
            if not name or "/" in name or "list" not in (entry.get("verbs") or []):
                continue
            out.append(Served(Resource(group, version, name, str(entry.get("kind") or ""),
                                       bool(entry.get("namespaced"))), preferred))
    return out
