"""``verno apply --cluster``: the policies (files, or the cluster's own) against the resources that live in a
cluster, as Kyverno's ``kyverno apply --cluster`` reads them.

- Resources: every kind the policies select (:mod:`verno.core.kube.selection`), listed through discovery;
  ``-n`` keeps the namespaced ones of one namespace and leaves cluster-scoped ones out unless
  ``--cluster-wide-resources``; ``-r NAME`` keeps the resources of that name (each name must exist).
  Kinds in discovery order, objects by namespace and name within a kind.
- Policies: the files given; with none, the cluster's ClusterPolicies, Policies and kyverno.io
  PolicyExceptions and, for every plugin-registered policy kind the cluster serves, its policies and
  companions (bindings, CEL PolicyExceptions). One that does not load is an error naming it.
- What rules read besides the resource: Namespace labels (``namespaceSelector``) and Namespace objects
  (``namespaceObject``) from the cluster, a Values file's entries winning; ``configMap`` and ``apiCall``
  context entries, ``paramRef`` and CEL ``resource`` functions read the cluster itself.

Whatever the cluster refuses or cannot answer is an error naming the request and the server (no traceback).
"""
from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator, Sequence
from typing import Any

from verno.core.errors import VernoError
from verno.core.kube.datasource import KubeDataSource
from verno.core.kube.discovery import Served, served_resources
from verno.core.kube.rest import APIError, Kube, Resource, api_client
from verno.core.kube.selection import resource_rules, rule_kind_selectors, selected_resources
from verno.core.loading import Document
from verno.core.policyset import PolicySet

#: the kyverno.io documents read when no policy file is given: (group, Kind), preferred version
KYVERNO_KINDS = (("kyverno.io", "ClusterPolicy"), ("kyverno.io", "Policy"), ("kyverno.io", "PolicyException"))
NAMESPACES = Resource("", "v1", "namespaces", "Namespace", False)
#: seconds one API request may take
TIMEOUT = 30.0


class ClusterError(VernoError):
    """The cluster cannot be reached, refused a request, or lacks what was asked for."""


class ResourceNotFound(ClusterError):
    """A ``-r`` name no listed resource has."""


def _reason(exc: APIError) -> str:
    """A refusal or failure in a few words: the Status's message, or the connection error's cause."""
    if exc.code == 0:
        found = re.search(r"\[Errno -?\d+\] [^'\")]+|timed out|Name or service not known|certificate verify failed"
                          r"[^'\")]*", exc.message)
        return found.group(0).strip() if found else exc.message
    text = exc.message or exc.reason or "no message"
    return f"{text} (HTTP {exc.code}{' ' + exc.reason if exc.reason and exc.reason not in text else ''})"


class Cluster:
    """One API server, read through the official client."""

    def __init__(self, kube: Kube, where: str):
        self.kube = kube
        self.where = where  # the server and how it was named, for messages
        self._served: list[Served] | None = None

    @classmethod
    def connect(cls, kubeconfig: str | None, context: str | None) -> Cluster:
        # urllib3 logs each retry of a refused connection as a warning; the error below says it once
        logging.getLogger("urllib3").setLevel(logging.ERROR)
        kube = Kube(api_client(kubeconfig, False, context), timeout=TIMEOUT)
        named = f"kubeconfig {kubeconfig}" if kubeconfig else "the default kubeconfig"
        if context:
            named += f", context {context}"
        return cls(kube, f"{kube.host} ({named})")

    @contextlib.contextmanager
    def asking(self, what: str) -> Iterator[None]:
        """Turn an API failure while doing ``what`` into a :class:`ClusterError` naming it."""
        try:
            yield
        except APIError as exc:
            if exc.code == 0:
                raise ClusterError(f"cannot reach the cluster at {self.where} to {what}: {_reason(exc)}") from None
            hint = ""
            if exc.code == 401:
                hint = "; check the credentials of the kubeconfig"
            elif exc.code == 403:
                hint = f"; grant the user permission to {what}"
            raise ClusterError(f"cannot {what} in the cluster at {self.where}: {_reason(exc)}{hint}") from None

    def served(self) -> list[Served]:
        if self._served is None:
            with self.asking("read its API resources (discovery)"):
                self._served = served_resources(self.kube)
        return self._served

    def find(self, group: str, kind: str) -> Resource | None:
        """The resource serving ``group``'s ``kind`` (its preferred version), None when not served."""
        found = [s for s in self.served() if s.resource.group == group and s.resource.kind == kind]
        found.sort(key=lambda s: not s.preferred)
        return found[0].resource if found else None

    def items(self, res: Resource, namespace: str = "") -> list[dict[str, Any]]:
        where = f" in namespace {namespace}" if namespace and res.namespaced else ""
        group = f".{res.group}" if res.group else ""
        with self.asking(f"list {res.plural}{group}{where}"):
            found = list(self.kube.list_items(res, namespace if res.namespaced else ""))
        return sorted(found, key=_namespace_name)

    # -- policies -----------------------------------------------------------------------------------------
    def policy_documents(self, engine: Any, namespace: str) -> list[Document]:
        """The cluster's policies, PolicyExceptions and companion documents (``-n``: namespaced ones of that
        namespace only), as documents named ``<resource>/[<namespace>/]<name>``."""
        wanted: dict[tuple[str, str], None] = dict.fromkeys(KYVERNO_KINDS)
        for entry in engine.policy_kinds.kinds:
            for key in (entry.name, *sorted(entry.value.companions)):
                group, _, kind = key.partition("/")
                wanted.setdefault((group, kind), None)
        docs: list[Document] = []
        for group, kind in wanted:
            res = self.find(group, kind)
            if res is None:
                continue  # not served: the cluster holds none
            for obj in self.items(res, namespace):
                meta = obj.get("metadata") or {}
                ns = meta.get("namespace") or ""
                source = f"{res.plural}/{ns + '/' if ns else ''}{meta.get('name') or ''}"
                docs.append(Document(source, 0, _without_server_fields(obj)))
        return docs

    # -- resources and namespaces -------------------------------------------------------------------------
    def resources(self, policy_set: PolicySet, namespace: str, cluster_wide: bool,
                  names: Sequence[str]) -> list[dict[str, Any]]:
        selectors = rule_kind_selectors(r.rule for p in policy_set.policies for r in p.rules)
        admission = [rule for kp in policy_set.kind_policies for rule in resource_rules(kp.document)]
        out: list[dict[str, Any]] = []
        for res in selected_resources(self.served(), selectors, admission):
            if namespace and not res.namespaced and not cluster_wide:
                continue
            out.extend(self.items(res, namespace))
        if names:
            out = _named(out, names)
        return out

    def namespaces(self, namespace: str) -> dict[str, dict[str, Any]]:
        """Namespace objects by name: all of them, or (``-n``) the one asked for, which must exist."""
        if not namespace:
            return {str((ns.get("metadata") or {}).get("name") or ""): ns for ns in self.items(NAMESPACES)}
        with self.asking(f"get namespace {namespace}"):
            found = self.kube.get(NAMESPACES, "", namespace)
        if found is None:
            raise ClusterError(f'namespace "{namespace}" not found in the cluster at {self.where}; '
                               "check the name given with -n/--namespace")
        return {namespace: {"apiVersion": "v1", "kind": "Namespace", **found}}

    def data_source(self) -> KubeDataSource:
        return KubeDataSource(self.kube)

    def before_fork(self) -> None:
        """Close pooled connections, so processes forked to evaluate open their own."""
        self.kube.api.rest_client.pool_manager.clear()


def _namespace_name(obj: dict[str, Any]) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


def _without_server_fields(obj: dict[str, Any]) -> dict[str, Any]:
    meta = dict(obj.get("metadata") or {})
    meta.pop("managedFields", None)
    return {**obj, "metadata": meta}


def _named(resources: list[dict[str, Any]], names: Sequence[str]) -> list[dict[str, Any]]:
    """The resources named by ``-r`` (Kyverno reads ``-r`` as resource names with ``--cluster``), in the
    order of the names; a name no resource has is an error."""
    out: list[dict[str, Any]] = []
    for name in names:
        found = [r for r in resources if _namespace_name(r)[1] == name]
        if not found:
            raise ResourceNotFound(f"{name} not found in cluster: with --cluster, -r names resources of the kinds "
                                   "the policies select")
        out.extend(found)
    return out


class HeldResources:
    """Resources already read (from a cluster), offered as :class:`~verno.cli.session.ResourceFiles` offers
    files: counted, iterated as documents, or split into units for worker processes."""

    def __init__(self, objects: list[dict[str, Any]], source: str):
        self.objects, self.source = objects, source

    def count(self) -> int:
        return len(self.objects)

    def units(self) -> list[tuple[Any, ...]]:
        return [("resource", obj) for obj in self.objects]

    def __iter__(self) -> Iterator[Document]:
        for i, obj in enumerate(self.objects):
            yield Document(self.source, i, obj)
