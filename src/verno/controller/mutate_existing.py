"""Processing one mutate UpdateRequest (a mutateExisting rule for one trigger), as Kyverno's background
controller does (K: ``pkg/background/mutate/mutate.go``):

1. the trigger: the admission request's object for an UPDATE, its old object for a DELETE, else (CREATE, policy
   events) the live object with the recorded uid;
2. the one rule evaluated by the engine (``phases=("mutate",)``) with the PolicyExceptions of the cluster; the
   mutate plugin substitutes variables in each target spec and reads the targets through
   :class:`~verno.controller.targets.ClusterTargets`, puts each as ``target`` in the context, evaluates the
   target's ``context`` and ``preconditions`` and patches it in memory;
3. each patched target written back whole with PUT carrying the resourceVersion it was read at (``Kind/status``
   targets through ``/status``). A target the patch leaves as it is is not written. A 409 (someone wrote the
   target meanwhile) fails the request, which is retried with backoff and reads the target again: no update is
   lost. A 403 becomes the policy's Event, PermissionDenied condition and metric, as for generate.

``process`` returns nothing to record (Kyverno records no resources for mutate requests) or raises
``MutateFailed``.
"""
from __future__ import annotations

import dataclasses
import logging
from typing import Any, Callable

from verno.controller.denials import Denials
from verno.controller.downstream import PermissionDenied, reference
from verno.controller.events import EventRecorder
from verno.controller.generate import GenerateFailed
from verno.controller.kube import APIError, Kube, Resource
from verno.controller.metrics import Metrics
from verno.controller.policies import PolicyCache
from verno.controller.recent import RecentSet
from verno.controller.sources import KubeDataSource
from verno.controller.targets import ClusterTargets
from verno.core.engine import Engine
from verno.core.prepare import PreparedPolicy, PreparedRule
from verno.core.request import Request
from verno.core.results import Status
from verno.core.sources import Sources
from verno.core.updaterequest import admission_of, resource_of

log = logging.getLogger("verno.controller.mutate")


class MutateFailed(GenerateFailed):
    """The request failed and is retried (the controller treats it as a failed generate request)."""


def mutate_existing_rules(prepared: PreparedPolicy) -> list[PreparedRule]:
    return [r for r in prepared.rules
            if r.kind == "mutate" and r.rule.mutate is not None and bool(r.rule.mutate.targets)]


def rule_of(prepared: PreparedPolicy, name: str) -> PreparedRule | None:
    rules = mutate_existing_rules(prepared)
    return next((r for r in rules if r.name == name), None) or next((r for r in rules if r.base_name == name), None)


def one_rule(prepared: PreparedPolicy, rule: PreparedRule) -> PreparedPolicy:
    return dataclasses.replace(prepared, rules=[rule], by_kind={"mutate": [rule]}, kinds=frozenset({"mutate"}))


class Mutator:
    def __init__(self, kube: Kube, engine: Engine, policies: PolicyCache, events: EventRecorder, metrics: Metrics,
                 denials: Denials, exceptions: Callable[[], list[Any]] = list, written: RecentSet | None = None):
        self.kube, self.engine, self.policies, self.events = kube, engine, policies, events
        self.metrics, self.denials, self.exceptions = metrics, denials, exceptions
        #: (uid, resourceVersion) of objects this controller wrote (shared with the generator's watches)
        self.written = written if written is not None else RecentSet()
        self.data_source = KubeDataSource(kube)

    def process(self, ur: dict[str, Any]) -> list[dict[str, str]]:
        spec = ur.get("spec") or {}
        key, name = str(spec.get("policy") or ""), str(spec.get("rule") or "")
        prepared = self.policies.get(key)
        if prepared is None:
            if self.policies.error(key):
                raise MutateFailed(f"policy {key} does not load: {self.policies.error(key)}")
            log.info("mutate request of a policy that is gone", extra={"policy": key, "rule": name})
            return []
        rule = rule_of(prepared, name)
        if rule is None:
            log.info("mutate request of a rule that is gone", extra={"policy": key, "rule": name})
            return []
        try:
            self._mutate(ur, prepared, rule)
        except PermissionDenied as exc:
            self.metrics.denied.inc(exc.verb, exc.kind, exc.namespace)
            self.denials.denied(key, exc.verb, exc.kind, exc.namespace)
            self.events.policy_warning(key, str(exc))
            raise MutateFailed(str(exc)) from None
        except APIError as exc:
            raise MutateFailed(f"rule {name}: {exc}") from None
        return []

    # -- the trigger ----------------------------------------------------------------------------------------
    def trigger(self, ur: dict[str, Any]) -> Request:
        """The trigger of a mutate request, as the engine sees it (see the module's step 1)."""
        admission = admission_of(ur) or {}
        operation = str(admission.get("operation") or "CREATE")
        user_info = admission.get("userInfo") if isinstance(admission.get("userInfo"), dict) else None
        if operation == "UPDATE" and isinstance(admission.get("object"), dict):
            obj, old = admission["object"], admission.get("oldObject")
            return Request(obj, old if isinstance(old, dict) else None, operation, user_info,
                           namespace_labels=self._namespace_labels(obj))
        if operation == "DELETE" and isinstance(admission.get("oldObject"), dict):
            old = admission["oldObject"]  # the deleted object is the trigger (Kyverno: new = old)
            return Request(old, old, operation, user_info, namespace_labels=self._namespace_labels(old))
        ref = resource_of(ur)
        res = self.kube.resource(ref.api_version, ref.kind)
        live = self.kube.get(res, ref.namespace if res.namespaced else "", ref.name)
        meta = (live or {}).get("metadata") or {}
        if live is None or ref.uid and meta.get("uid") != ref.uid or meta.get("deletionTimestamp"):
            where = "/".join(p for p in (ref.kind, ref.namespace, ref.name) if p)
            raise MutateFailed(f"trigger {where} (uid {ref.uid or 'unknown'}) not found in the cluster")
        live.setdefault("apiVersion", res.api_version)
        live.setdefault("kind", res.kind)
        return Request(live, None, "CREATE" if operation not in ("CREATE", "UPDATE") else operation, user_info,
                       namespace_labels=self._namespace_labels(live))

    def _namespace_labels(self, trigger: dict[str, Any]) -> dict[str, str]:
        meta = trigger.get("metadata") or {}
        if trigger.get("kind") == "Namespace":
            return dict(meta.get("labels") or {})
        if not meta.get("namespace"):
            return {}
        namespace = self.kube.get(self.kube.resource("v1", "Namespace"), "", str(meta["namespace"]))
        return dict(((namespace or {}).get("metadata") or {}).get("labels") or {})

    # -- the rule -------------------------------------------------------------------------------------------
    def _mutate(self, ur: dict[str, Any], prepared: PreparedPolicy, rule: PreparedRule) -> None:
        key = prepared.policy.key
        request = self.trigger(ur)
        targets = ClusterTargets(self.kube, prepared.policy.namespace or "")
        sources = Sources(cluster=self.data_source, targets=targets)
        responses = self.engine.evaluate([one_rule(prepared, rule)], request, sources=sources,
                                         exceptions=self.exceptions(), phases=("mutate",))
        if targets.denied:
            raise targets.denied[0]
        errors: list[str] = []
        for response in (r for resp in responses for r in resp.rules):
            if response.status == Status.SKIP:  # no change, preconditions not met, a PolicyException
                self.metrics.mutations.inc("skipped")
                log.info("mutate rule skipped", extra={"policy": key, "rule": rule.name, "reason": response.message})
                continue
            if response.status != Status.PASS or response.patched_resource is None:
                errors.append(response.message or response.status.value)
                continue
            try:
                self._write(key, rule, targets, response.patched_resource)
            except APIError as exc:
                if not exc.conflict:
                    raise
                self.metrics.mutations.inc("conflict")
                errors.append(f"target {target_label(response.patched_resource)} changed while being patched: "
                              f"{exc.message or exc.reason}")
        if errors:
            raise MutateFailed(f"rule {rule.name}: " + "; ".join(errors))

    def _write(self, key: str, rule: PreparedRule, targets: ClusterTargets, patched: dict[str, Any]) -> None:
        meta = patched.get("metadata") or {}
        uid = str(meta.get("uid") or "")
        if uid not in targets.found:
            raise MutateFailed(f"rule {rule.name}: the patch changed the target's identity ({target_label(patched)})")
        res, subresource, original = targets.found[uid]
        self.put_target(key, res, subresource, (original.get("metadata") or {}).get("resourceVersion"), patched,
                        original, rule.name)

    def put_target(self, key: str, res: Resource, subresource: str, version: Any, patched: dict[str, Any],
                   original: dict[str, Any], rule: str = "") -> None:
        """Write a patched target back whole with PUT at ``version`` (a concurrent change is the API server's
        409); unchanged, it is not written. A 403 is :class:`PermissionDenied`; a target deleted meanwhile is
        left alone."""
        if patched == original:
            self.metrics.mutations.inc("skipped")
            return
        meta = patched.get("metadata") or {}
        namespace = str(meta.get("namespace") or "") if res.namespaced else ""
        body = {**patched, "metadata": {**meta, "resourceVersion": version}}
        try:
            written = self.kube.replace(res, namespace, body, subresource=subresource)
        except APIError as exc:
            if exc.code == 403:
                kind = f"{res.kind}/{subresource}" if subresource else res.kind
                raise PermissionDenied("update", kind, namespace, exc.message) from None
            if exc.not_found:  # deleted meanwhile: nothing left to patch
                log.info("target gone before it was patched", extra={"policy": key, "object": reference(patched)})
                return
            raise
        written_meta = written.get("metadata") or {}
        self.written.add((str(written_meta.get("uid") or ""), str(written_meta.get("resourceVersion") or "")))
        self.metrics.mutations.inc("patched")
        self.denials.allowed(key, ("get", "list", "update"), res.kind, namespace)
        log.info("target patched", extra={"policy": key, "rule": rule, "object": reference(patched),
                                          "subresource": subresource})

def target_label(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    return "/".join(str(p) for p in (obj.get("kind"), meta.get("namespace"), meta.get("name")) if p)
