"""What is being evaluated: one resource and the admission request around it."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Request:
    """One resource under evaluation, with the request facts matching and variables need.

    ``resource`` is the new object (for DELETE, the old object, as Kyverno rewrites it).
    ``user_info`` is None when no admission info is known (the CLI without a UserInfo file): user
    criteria in match blocks are then ignored, as Kyverno does.
    """

    resource: dict[str, Any]
    old_resource: dict[str, Any] | None = None
    operation: str = "CREATE"
    user_info: dict[str, Any] | None = None
    roles: list[str] = field(default_factory=list)
    cluster_roles: list[str] = field(default_factory=list)
    namespace_labels: dict[str, str] = field(default_factory=dict)
    subresource: str = ""
    #: group/version/kind of the request when it differs from the object's (a subresource such as Scale)
    request_kind: tuple[str, str, str] | None = None
    dry_run: bool = False
    #: per-resource memo (``images``); rebuilt when the resource changes
    cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    # facts derived once per resource, read by every rule's matcher
    kind: str = field(init=False, default="")
    api_version: str = field(init=False, default="")
    group: str = field(init=False, default="")
    version: str = field(init=False, default="")
    name: str = field(init=False, default="")
    namespace: str = field(init=False, default="")
    labels: dict[str, str] = field(init=False, default_factory=dict)
    annotations: dict[str, str] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.refresh()

    def refresh(self) -> None:
        """Recompute the derived facts (after a mutation changed the resource)."""
        obj = self.resource or self.old_resource or {}
        # a payload (JSON, Envoy, HTTP) may be any JSON: fields of other types read as absent (a Kubernetes
        # object's shape is checked where it is read, core/objectshape.py)
        meta = obj.get("metadata")
        if not isinstance(meta, dict):
            meta = {}
        kind, api_version = obj.get("kind"), obj.get("apiVersion")
        self.kind = kind if isinstance(kind, str) else ""
        self.api_version = api_version if isinstance(api_version, str) else ""
        group, _, version = self.api_version.rpartition("/")
        self.group, self.version = group, version
        name = meta.get("name") or meta.get("generateName")
        namespace = meta.get("namespace")
        labels, annotations = meta.get("labels"), meta.get("annotations")
        self.name = name if isinstance(name, str) else ""
        self.namespace = namespace if isinstance(namespace, str) else ""
        self.labels = labels if isinstance(labels, dict) else {}
        self.annotations = annotations if isinstance(annotations, dict) else {}

    def with_resource(self, resource: dict[str, Any]) -> "Request":
        """The same request about a changed (mutated) resource."""
        new = Request(
            resource, self.old_resource, self.operation, self.user_info, self.roles, self.cluster_roles,
            self.namespace_labels, self.subresource, self.request_kind, self.dry_run,
        )
        return new

    def request_variable(self) -> dict[str, Any]:
        """The ``request`` variable of the JSON context."""
        obj = self.resource
        if self.operation == "DELETE":
            obj = self.old_resource or self.resource
        req: dict[str, Any] = {
            "operation": self.operation,
            "object": obj,
            "oldObject": self.old_resource,
            "namespace": self.namespace,
            "name": self.name,
            "kind": {"group": self.group, "version": self.version, "kind": self.kind},
            "dryRun": self.dry_run,
            "subResource": self.subresource,
        }
        # Kyverno adds the request's RequestInfo only when there is one (not in its CLI without a UserInfo
        # file), and marshals it with omitempty: no ``userInfo``, ``roles`` or ``clusterRoles`` key then,
        # and no empty ``roles``/``clusterRoles`` ever; a query of them is a missing key, as in Kyverno.
        if self.user_info is not None:
            req["userInfo"] = self.user_info
            if self.roles:
                req["roles"] = list(self.roles)
            if self.cluster_roles:
                req["clusterRoles"] = list(self.cluster_roles)
        if self.request_kind:
            g, v, k = self.request_kind
            req["kind"] = {"group": g, "version": v, "kind": k}
        return req
