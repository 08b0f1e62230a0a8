"""Strategic-merge list semantics of the built-in Kubernetes types (their OpenAPI ``x-kubernetes-patch-*``).

kyaml merges a list by key only where the schema says ``patchStrategy: merge``; for a built-in kind every
other list is replaced. Where no schema is known (custom resources, fields the table does not know) kyaml
infers: a list is merged by ``name`` when every element of the patch or of the resource has one.

A schema node is a :class:`Node` (a map type: field -> child) or a :class:`ListSpec`. ``OPAQUE`` is a
built-in type whose lists are all replaced; ``None`` means "no schema: infer".
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ListSpec:
    #: whether the list merges (``patchStrategy`` contains ``merge``)
    merge: bool
    #: the merge key (``""`` for a merging list of scalars, e.g. finalizers)
    key: str = ""
    #: the schema of the elements
    element: Schema = None


@dataclass
class Node:
    fields: dict[str, Schema] = field(default_factory=dict)
    #: whether unknown fields below are still a built-in type (lists replaced) rather than schema-less
    builtin: bool = True

    def child(self, name: str) -> Schema:
        if name in self.fields:
            return self.fields[name]
        return OPAQUE if self.builtin else None


Schema = "Node | ListSpec | None"

#: a built-in type the table does not detail: lists are atomic (replaced)
OPAQUE = Node()


def _merge(key: str, element: Schema = OPAQUE) -> ListSpec:
    return ListSpec(True, key, element)


OBJECT_META = Node({
    "finalizers": _merge(""),
    "ownerReferences": _merge("uid"),
    "labels": OPAQUE,
    "annotations": OPAQUE,
})

CONTAINER = Node({
    "ports": _merge("containerPort"),
    "env": _merge("name"),
    "volumeMounts": _merge("mountPath"),
    "volumeDevices": _merge("devicePath"),
    "resizePolicy": ListSpec(False),
})

POD_SPEC = Node({
    "containers": _merge("name", CONTAINER),
    "initContainers": _merge("name", CONTAINER),
    "ephemeralContainers": _merge("name", CONTAINER),
    "volumes": _merge("name"),
    "imagePullSecrets": _merge("name"),
    "hostAliases": _merge("ip"),
    "topologySpreadConstraints": _merge("topologyKey"),
    "resourceClaims": _merge("name"),
    "schedulingGates": _merge("name"),
    "tolerations": ListSpec(False),
    "readinessGates": ListSpec(False),
})

POD_TEMPLATE = Node({"metadata": OBJECT_META, "spec": POD_SPEC})
WORKLOAD_SPEC = Node({"template": POD_TEMPLATE})
JOB_TEMPLATE = Node({"metadata": OBJECT_META, "spec": WORKLOAD_SPEC})
CRONJOB_SPEC = Node({"jobTemplate": JOB_TEMPLATE})
SERVICE_SPEC = Node({"ports": _merge("port")})
NODE_SPEC = Node({"podCIDRs": _merge("")})


def _root(spec: Schema = OPAQUE, **extra: Schema) -> Node:
    return Node({"metadata": OBJECT_META, "spec": spec, **extra})


#: (api group, kind) -> the schema of the whole object
KINDS: dict[tuple[str, str], Node] = {
    ("", "Pod"): _root(POD_SPEC),
    ("", "PodTemplate"): _root(template=POD_TEMPLATE),
    ("", "ReplicationController"): _root(WORKLOAD_SPEC),
    ("apps", "Deployment"): _root(WORKLOAD_SPEC),
    ("apps", "StatefulSet"): _root(WORKLOAD_SPEC),
    ("apps", "DaemonSet"): _root(WORKLOAD_SPEC),
    ("apps", "ReplicaSet"): _root(WORKLOAD_SPEC),
    ("batch", "Job"): _root(WORKLOAD_SPEC),
    ("batch", "CronJob"): _root(CRONJOB_SPEC),
    ("", "Service"): _root(SERVICE_SPEC),
    ("", "Node"): _root(NODE_SPEC),
}

#: groups whose kinds are all built in (a kind of these groups not in KINDS gets an opaque schema)
BUILTIN_GROUPS = frozenset([
    "", "apps", "batch", "autoscaling", "policy", "networking.k8s.io", "rbac.authorization.k8s.io",
    "storage.k8s.io", "scheduling.k8s.io", "coordination.k8s.io", "discovery.k8s.io", "node.k8s.io",
    "admissionregistration.k8s.io", "apiextensions.k8s.io", "certificates.k8s.io", "events.k8s.io",
    "flowcontrol.apiserver.k8s.io", "apiregistration.k8s.io",
])


def schema_for(resource: Any) -> Schema:
    """The schema of a whole resource, or None when it is not a built-in type."""
    if not isinstance(resource, dict):
        return None
    api_version = resource.get("apiVersion")
    kind = resource.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str):
        return None
    group = api_version.rpartition("/")[0]
    found = KINDS.get((group, kind))
    if found is not None:
        return found
    if group in BUILTIN_GROUPS:
        return _root()
    return None


def child(schema: Schema, name: str) -> Schema:
    """The schema of field ``name`` of a map with ``schema``."""
    if isinstance(schema, Node):
        return schema.child(name)
    return None


def element(schema: Schema) -> Schema:
    """The schema of the elements of a list with ``schema``."""
    if isinstance(schema, ListSpec):
        return schema.element
    return None


def list_key(schema: Schema, dest: list[Any] | None, patch: list[Any] | None, path: str) -> str | None:
    """The merge key of a list (``""``: merge scalars), or None when the list is replaced.

    :raises ValueError: inferred keys conflict (kyaml's ``conflicting merge keys``).
    """
    if schema is not None:
        if isinstance(schema, ListSpec):
            return schema.key if schema.merge else None
        return None
    keyed = [_inferred_key(items) for items in (dest, patch) if items]
    if not any(k == "name" for k in keyed):
        return None
    if "" in keyed and keyed.index("") > keyed.index("name"):
        raise ValueError(f"conflicting merge keys [name,] for field {path}")
    return "name"


def _inferred_key(items: list[Any]) -> str:
    return "name" if all(isinstance(e, dict) and "name" in e for e in items) else ""
