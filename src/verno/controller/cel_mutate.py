"""Processing one ``cel-mutate`` UpdateRequest: a MutatingPolicy's (or NamespacedMutatingPolicy's)
mutateExisting for one trigger.

1. the policy is read from the cluster (``spec.policy``: ``name``, or ``namespace/name`` for a
   NamespacedMutatingPolicy) and loaded through the engine's policy-kind registry (once per generation); a
   policy that is gone, or no longer has ``evaluation.mutateExisting.enabled``, leaves nothing to do;
2. the trigger as for ClusterPolicy mutate requests (:meth:`Mutator.trigger`);
3. the candidate targets: every object of the resources ``spec.targetMatchConstraints.resourceRules`` name
   (else ``spec.matchConstraints.resourceRules``; ``*`` resolved through discovery), in the policy's
   namespace for a namespaced policy; with a ``targetMatchConstraints.expression`` the expression itself
   reads its targets (``resource.List``/``resource.Get``) and no candidates are listed;
4. the engine evaluates the policy for the trigger with the candidates (``KindInputs.targets``) and the
   cluster's ``policies.kyverno.io`` PolicyExceptions: the plugin selects the targets
   (``targetMatchConstraints``, ``targetMatchConditions``) and answers one rule per target with the patched
   target;
5. each patched target is written back whole with PUT at the resourceVersion it was read at (a target the
   mutations leave as it is is not written). A 409 fails the request, which is retried and reads the targets
   again; a 403 becomes the policy's Event, PermissionDenied condition and metric.
"""
from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from typing import Any

from verno.controller.denials import Denials
from verno.controller.downstream import PermissionDenied
from verno.controller.events import EventRecorder
from verno.controller.kindpolicies import KindPolicyCache, cel_exceptions
from verno.controller.kube import APIError, Kube, Resource
from verno.controller.metrics import Metrics
from verno.controller.mutate_existing import MutateFailed, Mutator, target_label
from verno.controller.sources import KubeDataSource
from verno.controller.targets import MAX_TARGETS
from verno.core.cel.cluster_data import ClusterCelData
from verno.core.engine import Engine
from verno.core.policykinds import CLUSTER_VERSIONS, KindInputs
from verno.core.results import Status
from verno.core.sources import Sources
from verno.core.updaterequest import resource_of

log = logging.getLogger("verno.controller.mutate")

GROUP, VERSION = "policies.kyverno.io", "v1"


def _spec(policy: Any) -> Mapping[str, Any]:
    spec = policy.document.get("spec") if isinstance(policy.document, Mapping) else None
    return spec if isinstance(spec, Mapping) else {}


def target_rules(policy: Any) -> list[Mapping[str, Any]]:
    """The resource rules the candidate targets are listed by (none: a target expression reads them)."""
    spec = _spec(policy)
    target = spec.get("targetMatchConstraints")
    if isinstance(target, Mapping):
        if target.get("resourceRules"):
            return [r for r in target["resourceRules"] if isinstance(r, Mapping)]
        if target.get("expression"):
            return []
    match = spec.get("matchConstraints")
    rules = match.get("resourceRules") if isinstance(match, Mapping) else None
    return [r for r in rules or () if isinstance(r, Mapping)]


class CelMutator:
    def __init__(self, kube: Kube, engine: Engine, mutator: Mutator, events: EventRecorder, metrics: Metrics,
                 denials: Denials):
        self.kube, self.engine, self.mutator, self.events = kube, engine, mutator, events
        self.metrics, self.denials = metrics, denials
        self.data_source = KubeDataSource(kube)
        self._cache = KindPolicyCache(engine, GROUP)

    def process(self, ur: dict[str, Any]) -> list[dict[str, str]]:
        key = str((ur.get("spec") or {}).get("policy") or "")
        policy = self._policy(key)
        if policy is None:
            return []
        try:
            self._mutate(ur, key, policy)
        except PermissionDenied as exc:
            self.metrics.denied.inc(exc.verb, exc.kind, exc.namespace)
            self.denials.denied(key, exc.verb, exc.kind, exc.namespace)
            self.events.policy_warning(key, str(exc), involved=(f"{GROUP}/{VERSION}", policy.kind))
            raise MutateFailed(str(exc)) from None
        except APIError as exc:
            raise MutateFailed(f"policy {key}: {exc}") from None
        return []

    # -- the policy -----------------------------------------------------------------------------------------
    def _policy(self, key: str) -> Any:
        namespace, _, name = key.rpartition("/")
        kind = "NamespacedMutatingPolicy" if namespace else "MutatingPolicy"
        try:
            res = self.kube.served(GROUP, kind, CLUSTER_VERSIONS)
        except APIError as exc:
            if exc.not_found:
                log.info("mutate request of a kind the cluster does not serve", extra={"policy": key})
                return None
            raise
        obj = self.kube.get(res, namespace, name)
        if obj is None:
            log.info("mutate request of a policy that is gone", extra={"policy": key})
            return None
        doc = {**obj, "apiVersion": obj.get("apiVersion") or res.api_version, "kind": kind}
        policy, error, _ = self._cache.load(key, doc)
        if policy is None:
            raise MutateFailed(f"policy {key} does not load: {error}")
        if not getattr(policy, "mutate_existing", None):
            log.info("mutate request of a policy without mutateExisting", extra={"policy": key})
            return None
        return policy

    # -- targets --------------------------------------------------------------------------------------------
    def _candidates(self, policy: Any) -> dict[str, tuple[Resource, dict[str, Any]]]:
        """uid -> (resource, object as read) of every candidate target."""
        found: dict[tuple[str, str, str], Resource] = {}
        for rule in target_rules(policy):
            for group in rule.get("apiGroups") or [""]:
                for version in rule.get("apiVersions") or ["*"]:
                    for plural in rule.get("resources") or []:
                        base, _, sub = str(plural).partition("/")
                        if sub and sub != "*":
                            continue
                        for res in self.kube.resources_matching(str(group), str(version), base):
                            found.setdefault((res.group, res.kind, res.plural), res)
        out: dict[str, tuple[Resource, dict[str, Any]]] = {}
        for res in found.values():
            if policy.namespace and not res.namespaced:
                continue  # a namespaced policy reaches its own namespace only
            try:
                items = self.kube.list(res, policy.namespace if res.namespaced else "").get("items") or []
            except APIError as exc:
                if exc.code == 403:
                    raise PermissionDenied("list", res.kind, policy.namespace, exc.message) from None
                raise
            for item in items:
                meta = item.get("metadata") or {}
                if meta.get("deletionTimestamp"):
                    continue
                item = {**item, "apiVersion": res.api_version, "kind": res.kind}
                out[str(meta.get("uid") or "")] = (res, item)
                if len(out) > MAX_TARGETS:
                    raise MutateFailed(f"policy {policy.key}: its targets select more than {MAX_TARGETS} objects; "
                                       "narrow targetMatchConstraints")
        return out

    # -- one request ----------------------------------------------------------------------------------------
    def _mutate(self, ur: dict[str, Any], key: str, policy: Any) -> None:
        request = self.mutator.trigger(ur)
        candidates = self._candidates(policy)
        targets = [copy.deepcopy(obj) for _res, obj in candidates.values()]
        if not target_rules(policy):  # a target expression reads its targets; the trigger stands in
            targets = [request.resource or {}]
        elif not targets:
            log.info("no targets", extra={"policy": key, "trigger": str(resource_of(ur))})
            return
        namespaces: dict[str, dict[str, Any]] = {}
        if request.namespace:
            found = self.kube.get(self.kube.resource("v1", "Namespace"), "", request.namespace)
            if found is not None:
                namespaces[request.namespace] = found
        sources = Sources(cluster=self.data_source)
        sources.cel_data = ClusterCelData(self.data_source)
        inputs = KindInputs(sources, {"policies.kyverno.io/PolicyException": cel_exceptions(self.kube)},
                            namespaces=namespaces, engine=self.engine, targets=targets)
        errors: list[str] = []
        for response in self.engine.evaluate_kinds([policy], request, inputs):
            for rule in response.rules:
                if rule.status is Status.SKIP:
                    self.metrics.mutations.inc("skipped")
                    log.info("mutate policy skipped", extra={"policy": key, "reason": rule.message})
                    continue
                if rule.status is not Status.PASS or rule.patched_resource is None:
                    errors.append(rule.message or rule.status.value)
                    continue
                try:
                    self._write(key, candidates, rule.patched_resource)
                except APIError as exc:
                    if not exc.conflict:
                        raise
                    self.metrics.mutations.inc("conflict")
                    errors.append(f"target {target_label(rule.patched_resource)} changed while being patched: "
                                  f"{exc.message or exc.reason}")
        if errors:
            raise MutateFailed(f"policy {key}: " + "; ".join(errors))

    def _write(self, key: str, candidates: dict[str, tuple[Resource, dict[str, Any]]],
               patched: dict[str, Any]) -> None:
        meta = patched.get("metadata") or {}
        uid = str(meta.get("uid") or "")
        if uid in candidates:
            res, original = candidates[uid]
        else:  # read by a target expression: written at the resourceVersion the expression read
            res, original = self.kube.resource(str(patched.get("apiVersion") or ""), str(patched.get("kind") or "")), {}
            if not uid or not meta.get("resourceVersion"):
                raise MutateFailed(f"policy {key}: target {target_label(patched)} was not read from the cluster")
        version = (original.get("metadata") or {}).get("resourceVersion") if original else meta.get("resourceVersion")
        self.mutator.put_target(key, res, "", version, patched, original)
