"""mutateExisting targets read from the cluster: a :class:`verno.core.sources.TargetFinder` for one request.

A target spec (variables substituted by the engine) names ``apiVersion`` and ``kind`` (wildcards resolved
through discovery; ``Kind/status`` for a subresource), ``namespace`` and ``name`` (wildcards; empty: any),
``uid`` and a label ``selector``. Every object found is remembered with its resource and subresource, so the
patched copy is written back where it came from, with the resourceVersion it was read at. A namespaced
Policy reaches only its own namespace (no cluster-scoped objects). A 403 is remembered as
``PermissionDenied`` (the request then fails with it) and reported to the engine as an error.
"""
from __future__ import annotations

import copy
from typing import Any

from verno.controller.downstream import PermissionDenied
from verno.controller.kube import APIError, Kube, Resource
from verno.core import wildcard
from verno.core.errors import VernoError
from verno.core.selectors import selector_matches

#: objects one target spec may select (a broader spec is an error naming the limit)
MAX_TARGETS = 5000


class TargetError(VernoError):
    pass


def _wild(text: str) -> bool:
    return "*" in text or "?" in text


class ClusterTargets:
    def __init__(self, kube: Kube, policy_namespace: str = ""):
        self.kube, self.policy_namespace = kube, policy_namespace
        #: uid -> (resource, subresource, the object as read)
        self.found: dict[str, tuple[Resource, str, dict[str, Any]]] = {}
        self.denied: list[PermissionDenied] = []
        self._served: list[Resource] | None = None

    def __call__(self, selector: dict[str, Any]) -> list[dict[str, Any]]:
        api_version = str(selector.get("apiVersion") or "")
        kind, _, subresource = str(selector.get("kind") or "").partition("/")
        if not kind:
            raise TargetError("a target names no kind")
        namespace = str(selector.get("namespace") or "")
        name = str(selector.get("name") or "")
        uid = str(selector.get("uid") or "")
        labels = selector.get("selector")
        out: list[dict[str, Any]] = []
        for res in self._resources(api_version, kind):
            if not res.namespaced and self.policy_namespace:
                continue  # a namespaced Policy reaches its own namespace only
            for obj in self._read(res, namespace, name):
                meta = obj.get("metadata") or {}
                if res.namespaced and namespace and not wildcard.match(namespace, str(meta.get("namespace") or "")):
                    continue
                if name and not wildcard.match(name, str(meta.get("name") or "")):
                    continue
                if uid and meta.get("uid") != uid:
                    continue
                if labels is not None and not selector_matches(labels, meta.get("labels") or {}):
                    continue
                if meta.get("deletionTimestamp"):
                    continue
                obj.setdefault("apiVersion", res.api_version)
                obj.setdefault("kind", res.kind)
                out.append(obj)
                if len(out) > MAX_TARGETS:
                    raise TargetError(f"a target selects more than {MAX_TARGETS} objects of {kind}; narrow it "
                                      "with namespace, name or selector")
                self.found[str(meta.get("uid") or "")] = (res, subresource, copy.deepcopy(obj))
        return out

    # -- discovery ------------------------------------------------------------------------------------------
    def _resources(self, api_version: str, kind: str) -> list[Resource]:
        if api_version and not _wild(api_version) and not _wild(kind):
            try:
                return [self.kube.resource(api_version, kind)]
            except APIError as exc:
                raise TargetError(f"target {api_version}/{kind}: {exc}") from None
        found = [r for r in self._all_served() if wildcard.match(kind, r.kind)
                 and (not api_version or wildcard.match(api_version, r.api_version))]
        if not found and not _wild(kind):
            raise TargetError(f'no matches for kind "{kind}"' + (f' in version "{api_version}"' if api_version
                                                                  else ""))
        return found

    def _all_served(self) -> list[Resource]:
        if self._served is None:
            versions = ["v1"]
            try:
                for group in self.kube.request("GET", "/apis").get("groups") or []:
                    preferred = str((group.get("preferredVersion") or {}).get("groupVersion") or "")
                    if preferred:
                        versions.append(preferred)
                served: list[Resource] = []
                for gv in versions:
                    group, _, version = gv.rpartition("/")
                    path = f"/apis/{gv}" if group else f"/api/{gv}"
                    for entry in self.kube.request("GET", path).get("resources") or []:
                        if "/" not in str(entry.get("name")):
                            served.append(Resource(group, version, str(entry["name"]), str(entry.get("kind")),
                                                   bool(entry.get("namespaced"))))
            except APIError as exc:
                raise TargetError(f"discovery failed: {exc}") from None
            self._served = served
        return self._served

    # -- reading --------------------------------------------------------------------------------------------
    def _read(self, res: Resource, namespace: str, name: str) -> list[dict[str, Any]]:
        ns = namespace if res.namespaced and namespace and not _wild(namespace) else ""
        try:
            if ns and name and not _wild(name):
                one = self.kube.get(res, ns, name)
                return [one] if one is not None else []
            return list(self.kube.list(res, ns).get("items") or [])
        except APIError as exc:
            if exc.code == 403:
                verb = "get" if ns and name and not _wild(name) else "list"
                denial = PermissionDenied(verb, res.kind, ns, exc.message)
                self.denied.append(denial)
                raise TargetError(str(denial)) from None
            raise TargetError(f"cannot read targets {res.kind}: {exc}") from None
