"""The kinds the stand-in serves: a table of built-in resources and the types made from stored
CustomResourceDefinitions. Discovery, routing and admission all read this one registry."""
from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass, field
from typing import Any, Iterable

VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
STATUS_VERBS = ["get", "patch", "update"]


@dataclass(frozen=True)
class ResourceType:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    status: bool = False          # has a /status subresource
    builtin: bool = True          # strategic merge patch allowed; typed lists omit item kind/apiVersion
    generation: bool = True       # metadata.generation maintained
    singular: str = ""
    printer_columns: tuple[dict, ...] = ()
    selectable_fields: tuple[str, ...] = ()
    storage_version: str = ""     # CRDs: the version objects are stored in

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_resource(self) -> tuple[str, str]:
        return (self.group, self.plural)

    @property
    def singular_name(self) -> str:
        return self.singular or self.kind.lower()


def _b(gv: str, plural: str, kind: str, namespaced: bool = True, short: Iterable[str] = (), status: bool = False,
       generation: bool = True, categories: Iterable[str] = ()) -> ResourceType:
    group, _, version = gv.rpartition("/")
    return ResourceType(group, version, plural, kind, namespaced, tuple(short), tuple(categories), status, True,
                        generation)


BUILTINS: tuple[ResourceType, ...] = (
    _b("v1", "namespaces", "Namespace", False, ["ns"], status=True, generation=False),
    _b("v1", "nodes", "Node", False, ["no"], status=True, generation=False),
    _b("v1", "persistentvolumes", "PersistentVolume", False, ["pv"], status=True, generation=False),
    _b("v1", "pods", "Pod", True, ["po"], status=True, generation=False, categories=["all"]),
    _b("v1", "services", "Service", True, ["svc"], status=True, generation=False, categories=["all"]),
    _b("v1", "configmaps", "ConfigMap", True, ["cm"], generation=False),
    _b("v1", "secrets", "Secret", True, generation=False),
    _b("v1", "serviceaccounts", "ServiceAccount", True, ["sa"], generation=False),
    _b("v1", "endpoints", "Endpoints", True, ["ep"], generation=False),
    _b("v1", "events", "Event", True, ["ev"], generation=False),
    _b("v1", "persistentvolumeclaims", "PersistentVolumeClaim", True, ["pvc"], status=True, generation=False),
    _b("v1", "replicationcontrollers", "ReplicationController", True, ["rc"], status=True, categories=["all"]),
    _b("v1", "resourcequotas", "ResourceQuota", True, ["quota"], status=True, generation=False),
    _b("v1", "limitranges", "LimitRange", True, ["limits"], generation=False),
    _b("v1", "podtemplates", "PodTemplate", True, generation=False),
    _b("apps/v1", "deployments", "Deployment", True, ["deploy"], status=True, categories=["all"]),
    _b("apps/v1", "replicasets", "ReplicaSet", True, ["rs"], status=True, categories=["all"]),
    _b("apps/v1", "statefulsets", "StatefulSet", True, ["sts"], status=True, categories=["all"]),
    _b("apps/v1", "daemonsets", "DaemonSet", True, ["ds"], status=True, categories=["all"]),
    _b("apps/v1", "controllerrevisions", "ControllerRevision", True, generation=False),
    _b("batch/v1", "jobs", "Job", True, status=True, categories=["all"]),
    _b("batch/v1", "cronjobs", "CronJob", True, ["cj"], status=True, categories=["all"]),
    _b("autoscaling/v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", True, ["hpa"], status=True),
    _b("networking.k8s.io/v1", "ingresses", "Ingress", True, ["ing"], status=True),
    _b("networking.k8s.io/v1", "ingressclasses", "IngressClass", False),
    _b("networking.k8s.io/v1", "networkpolicies", "NetworkPolicy", True, ["netpol"]),
    _b("policy/v1", "poddisruptionbudgets", "PodDisruptionBudget", True, ["pdb"], status=True),
    _b("discovery.k8s.io/v1", "endpointslices", "EndpointSlice", True, generation=False),
    _b("rbac.authorization.k8s.io/v1", "roles", "Role", True, generation=False),
    _b("rbac.authorization.k8s.io/v1", "rolebindings", "RoleBinding", True, generation=False),
    _b("rbac.authorization.k8s.io/v1", "clusterroles", "ClusterRole", False, generation=False),
    _b("rbac.authorization.k8s.io/v1", "clusterrolebindings", "ClusterRoleBinding", False, generation=False),
    _b("authorization.k8s.io/v1", "subjectaccessreviews", "SubjectAccessReview", False, generation=False),
    _b("coordination.k8s.io/v1", "leases", "Lease", True, generation=False),
    _b("storage.k8s.io/v1", "storageclasses", "StorageClass", False, ["sc"], generation=False),
    _b("scheduling.k8s.io/v1", "priorityclasses", "PriorityClass", False, ["pc"], generation=False),
    _b("admissionregistration.k8s.io/v1", "mutatingwebhookconfigurations", "MutatingWebhookConfiguration", False),
    _b("admissionregistration.k8s.io/v1", "validatingwebhookconfigurations", "ValidatingWebhookConfiguration", False),
    # stored and served (verno reads them); the stand-in does not enforce them itself
    _b("admissionregistration.k8s.io/v1", "validatingadmissionpolicies", "ValidatingAdmissionPolicy", False,
       status=True),
    _b("admissionregistration.k8s.io/v1", "validatingadmissionpolicybindings", "ValidatingAdmissionPolicyBinding",
       False),
    _b("admissionregistration.k8s.io/v1", "mutatingadmissionpolicies", "MutatingAdmissionPolicy", False),
    _b("admissionregistration.k8s.io/v1", "mutatingadmissionpolicybindings", "MutatingAdmissionPolicyBinding",
       False),
    _b("apiextensions.k8s.io/v1", "customresourcedefinitions", "CustomResourceDefinition", False, ["crd", "crds"],
       status=True),
)

#: built-in kinds whose served version depends on the Kubernetes minor version: (group, plural) -> [(first
#: minor, version)], newest first; before the oldest listed minor the kind is not served
_VERSIONED = {
    ("admissionregistration.k8s.io", "mutatingadmissionpolicies"): [(36, "v1"), (34, "v1beta1"), (32, "v1alpha1")],
    ("admissionregistration.k8s.io", "mutatingadmissionpolicybindings"): [(36, "v1"), (34, "v1beta1"),
                                                                          (32, "v1alpha1")],
    ("admissionregistration.k8s.io", "validatingadmissionpolicies"): [(30, "v1"), (28, "v1beta1")],
    ("admissionregistration.k8s.io", "validatingadmissionpolicybindings"): [(30, "v1"), (28, "v1beta1")],
}


def builtins_for(minor: int) -> tuple[ResourceType, ...]:
    """The built-in kinds as Kubernetes 1.<minor> serves them (MutatingAdmissionPolicy: v1alpha1 from 1.32,
    v1beta1 from 1.34, v1 from 1.36)."""
    out = []
    for t in BUILTINS:
        steps = _VERSIONED.get((t.group, t.plural))
        if steps is None:
            out.append(t)
            continue
        version = next((v for first, v in steps if minor >= first), None)
        if version is not None:
            out.append(dataclasses.replace(t, version=version))
    return tuple(out)


CRD = ("apiextensions.k8s.io", "customresourcedefinitions")
NAMESPACES = ("", "namespaces")
WEBHOOK_CONFIGS = {("admissionregistration.k8s.io", "mutatingwebhookconfigurations"),
                   ("admissionregistration.k8s.io", "validatingwebhookconfigurations")}


def crd_types(crd: dict[str, Any]) -> list[ResourceType]:
    """The served versions of a (validated) CustomResourceDefinition."""
    spec = crd["spec"]
    names = spec["names"]
    storage = next(v["name"] for v in spec["versions"] if v.get("storage"))
    out = []
    for v in spec["versions"]:
        if not v.get("served", True):
            continue
        columns = v.get("additionalPrinterColumns")
        if columns is None:
            columns = [{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}]
        out.append(ResourceType(
            spec["group"], v["name"], names["plural"], names["kind"], spec["scope"] == "Namespaced",
            tuple(names.get("shortNames") or ()), tuple(names.get("categories") or ()),
            status="status" in ((v.get("subresources") or {})), builtin=False, generation=True,
            singular=names.get("singular") or names["kind"].lower(), printer_columns=tuple(columns),
            selectable_fields=tuple(f["jsonPath"].lstrip(".") for f in v.get("selectableFields") or ()),
            storage_version=storage))
    return out


@dataclass
class Registry:
    """Built-ins plus the served versions of the CRDs in the store; replaced whole when a CRD changes."""
    crds: dict[str, list[ResourceType]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    builtins: tuple[ResourceType, ...] = BUILTINS

    def set_crd(self, name: str, types: list[ResourceType]) -> None:
        with self.lock:
            self.crds = {**self.crds, name: types}

    def drop_crd(self, name: str) -> None:
        with self.lock:
            self.crds = {k: v for k, v in self.crds.items() if k != name}

    def all(self) -> list[ResourceType]:
        crds = self.crds
        return [*self.builtins, *(t for types in crds.values() for t in types)]

    def lookup(self, group: str, version: str, plural: str) -> ResourceType | None:
        for t in self.all():
            if t.group == group and t.version == version and t.plural == plural:
                return t
        return None

    def by_kind(self, api_version: str, kind: str) -> ResourceType | None:
        group, _, version = api_version.rpartition("/")
        for t in self.all():
            if t.group == group and t.kind == kind and (t.version == version or not version):
                return t
        for t in self.all():  # another version of the same group/kind
            if t.group == group and t.kind == kind:
                return t
        return None

    def any_version(self, group: str, plural: str) -> ResourceType | None:
        for t in self.all():
            if t.group == group and t.plural == plural:
                return t
        return None

    def group_versions(self) -> dict[str, list[str]]:
        """group -> served versions, preferred (storage, or first) first; the core group is left out."""
        out: dict[str, list[str]] = {}
        for t in self.all():
            if not t.group:
                continue
            versions = out.setdefault(t.group, [])
            if t.version not in versions:
                if t.storage_version == t.version:
                    versions.insert(0, t.version)
                else:
                    versions.append(t.version)
        return out
