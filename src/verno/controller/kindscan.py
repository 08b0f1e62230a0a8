"""ValidatingPolicies and ImageValidatingPolicies (and their namespaced kinds) in background scans (Kyverno's
reports controller scans them next to ClusterPolicies): the policies with ``evaluation.background`` enabled
(the default) and the Kubernetes evaluation mode, evaluated through the engine against the resources their
``matchConstraints`` select (and their autogen variants': a Pod policy also scans Deployments, CronJobs ...),
with the cluster's ``policies.kyverno.io`` PolicyExceptions, ``namespaceObject``, the CEL data libraries
reading the cluster, and the controller's registry pool for signatures (behind the egress fence).

:class:`KindScan` answers the scanner's questions for these policies: which resources to watch, which
policies apply to one resource, each policy's report label value, and the report results of one resource.
"""
from __future__ import annotations

import hashlib
import json
import logging
import threading
from typing import Any, Callable

from verno.controller.informer import Informer, object_key
from verno.controller.kindpolicies import EXCEPTION_GROUP, KindPolicies
from verno.controller.kube import APIError, Kube, Resource
from verno.core.cel.autogen import pod_controller_variants
from verno.core.cel.cluster_data import ClusterCelData
from verno.core.policykinds import CLUSTER_VERSIONS, KindInputs
from verno.core.policyreport import BACKGROUND_SCAN, report_entry, report_result
from verno.core.request import Request
from verno.core.sources import Sources

log = logging.getLogger("verno.controller.kindscan")

GROUP = "policies.kyverno.io"
#: the policy kinds background scans evaluate besides ClusterPolicies and Policies
KINDS = ("ValidatingPolicy", "NamespacedValidatingPolicy", "ImageValidatingPolicy", "NamespacedImageValidatingPolicy")
EXCEPTIONS = f"{EXCEPTION_GROUP}/PolicyException"


def scanned(policy: Any) -> bool:
    """Whether background scans evaluate the policy: background enabled, Kubernetes evaluation mode."""
    return bool(getattr(policy, "background", False)) and getattr(policy, "mode", "Kubernetes") != "JSON"


def resource_rules(policy: Any) -> list[tuple[str, str, str]]:
    """``(group, version, resource)`` of every resource rule of the policy's ``matchConstraints`` and of its
    autogen variants' (``*`` where a rule leaves a part open)."""
    spec = (getattr(policy, "document", None) or {}).get("spec") or {}
    constraints = [spec.get("matchConstraints") or {}]
    constraints += [variant.get("matchConstraints") or {} for _, variant in pod_controller_variants(spec)]
    out: list[tuple[str, str, str]] = []
    for block in constraints:
        for rule in block.get("resourceRules") or []:
            for group in rule.get("apiGroups") or ["*"]:
                for version in rule.get("apiVersions") or ["*"]:
                    for plural in rule.get("resources") or []:
                        if (group, version, plural) not in out:
                            out.append((group, version, plural))
    return out


def mark(policy: Any) -> str:
    """The value of the policy's report label: a fingerprint of its spec (a status write or a restart does
    not change it)."""
    spec = (getattr(policy, "document", None) or {}).get("spec") or {}
    return hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()[:20]


class KindScan:
    def __init__(self, kube: Kube, engine: Any, policies: KindPolicies, data_source: Any, stop: threading.Event, *,
                 watch_seconds: int = 60, registries: Any = None):
        self.kube, self.engine, self.policies, self.stop_event = kube, engine, policies, stop
        self.watch_seconds = watch_seconds
        self.sources = Sources(cluster=data_source, registry_access=registries is not None,
                               registry_client=registries)
        if registries is not None:
            self.sources.egress = registries.egress
        self.sources.cel_data = ClusterCelData(data_source)
        self._lock = threading.Lock()
        self._exceptions: dict[str, dict[str, Any]] = {}
        self._namespaces: dict[str, dict[str, Any]] = {}
        self._inputs: KindInputs | None = None
        self._resources: dict[tuple[str, str, str], list[Resource]] = {}
        self._marks: dict[int, tuple[Any, str]] = {}
        #: called after a PolicyException changes
        self.listeners: list[Callable[[], None]] = []

    # -- what the scans read besides the resource ----------------------------------------------------------
    def informers(self) -> list[Informer]:
        """The cluster's ``policies.kyverno.io`` PolicyExceptions (none when it does not serve them)."""
        try:
            res = self.kube.served(EXCEPTION_GROUP, "PolicyException", CLUSTER_VERSIONS)
        except APIError as exc:
            if not exc.not_found:
                raise
            return []
        return [Informer(self.kube, res, self._exception_event, self.stop_event, watch_seconds=self.watch_seconds)]

    def _exception_event(self, kind: str, obj: dict[str, Any]) -> None:
        key = object_key(obj)
        with self._lock:
            exceptions = dict(self._exceptions)
            if kind == "DELETED":
                exceptions.pop(key, None)
            else:
                exceptions[key] = {**obj, "kind": obj.get("kind") or "PolicyException"}
            self._exceptions, self._inputs = exceptions, None
        for listener in self.listeners:
            listener()

    def namespace_event(self, kind: str, obj: dict[str, Any]) -> None:
        name = str((obj.get("metadata") or {}).get("name") or "")
        with self._lock:
            namespaces = dict(self._namespaces)
            if kind == "DELETED":
                namespaces.pop(name, None)
            else:
                namespaces[name] = obj
            self._namespaces, self._inputs = namespaces, None

    def inputs(self) -> KindInputs:
        """The inputs of every evaluation until an exception or a namespace changes (what the kinds compile
        once per run, the exceptions among it, is kept with them)."""
        with self._lock:
            if self._inputs is None:
                self._inputs = KindInputs(self.sources, {EXCEPTIONS: [self._exceptions[k]
                                                                     for k in sorted(self._exceptions)]},
                                          namespaces=self._namespaces, engine=self.engine)
            return self._inputs

    # -- which policies, which resources -------------------------------------------------------------------
    def all(self) -> list[Any]:
        return [p for p in self.policies.all() if scanned(p)]

    def resources(self, policy: Any) -> list[Resource]:
        """The served resources the policy's resource rules select (a wildcard resource or a subresource is
        not scanned, as for ClusterPolicies)."""
        out: list[Resource] = []
        for rule in resource_rules(policy):
            group, version, plural = rule
            if "*" in plural or "/" in plural:
                log.warning("resource not scanned in background (a wildcard or a subresource)",
                            extra={"policy": policy.key, "resource": plural})
                continue
            if rule not in self._resources:
                try:
                    self._resources[rule] = self.kube.resources_matching(group, version, plural)
                except APIError as exc:
                    log.warning("resource not resolved", extra={"policy": policy.key, "error": str(exc)})
                    continue
            for res in self._resources[rule]:
                if res not in out:
                    out.append(res)
        return out

    def applicable(self, res: Resource, namespace: str) -> list[Any]:
        """The scanned policies whose resource rules select ``res`` and that may apply in ``namespace``."""
        return sorted((p for p in self.all() if (p.namespace or "") in ("", namespace)
                       and any(r.group == res.group and r.plural == res.plural for r in self.resources(p))),
                      key=lambda p: p.key)

    def mark(self, policy: Any) -> str:
        with self._lock:
            found = self._marks.get(id(policy))
        if found is None or found[0] is not policy:
            found = (policy, mark(policy))
            with self._lock:
                self._marks[id(policy)] = found
        return found[1]

    def policy_changed(self) -> None:
        """Forget what was worked out from the policies as they were (resolved resources, label values)."""
        with self._lock:
            current = {id(p) for p in self.policies.all()}
            self._marks = {k: v for k, v in self._marks.items() if k in current}
            self._resources = {}

    # -- evaluation ----------------------------------------------------------------------------------------
    def evaluate(self, resource: dict[str, Any], policies: list[Any], now: int) -> list[dict[str, Any]]:
        """The report results of one resource for ``policies``."""
        if not policies:
            return []
        request = Request(resource, None, "CREATE")
        results: list[dict[str, Any]] = []
        for response in self.engine.evaluate_kinds(policies, request, self.inputs()):
            for rule in response.rules:
                results.append(report_entry(response, rule, report_result(response, rule), now, resources=False,
                                            process=BACKGROUND_SCAN))
        return results
