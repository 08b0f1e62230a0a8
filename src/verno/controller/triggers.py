"""UpdateRequests that do not come from admission: policy events and downstream changes.

- a policy created or changed (and every scan interval): rules with ``generateExisting`` get a request for each
  existing object of their match kinds that they match; synchronized ``data`` rules re-sync their downstream;
- a policy deleted: the downstream of its synchronized rules (unless ``orphanDownstreamOnPolicyDelete``) is
  listed and a request naming it in ``status.generatedResources`` deletes it;
- a downstream object deleted or changed by someone else: a request for its trigger restores it.
"""
from __future__ import annotations

import logging
import threading
from typing import Any, Callable

from verno.controller import downstream
from verno.controller.generate import generate_rules, generated_kinds, split_kind
from verno.controller.informer import Informer
from verno.controller.kube import APIError, Kube, Resource
from verno.controller.policies import PolicyCache
from verno.controller.recent import RecentSet
from verno.core.prepare import PreparedPolicy, PreparedRule
from verno.core.request import Request
from verno.core.updaterequest import RuleContext, TriggerRef, generate_request

log = logging.getLogger("verno.controller.triggers")

#: rule contexts per request (Kyverno splits policy-event requests the same way: etcd's request size)
BATCH = 100


def _generate_existing(prepared: PreparedPolicy, rule: PreparedRule) -> bool:
    own = rule.rule.generate.generate_existing
    return bool(own if own is not None else prepared.policy.spec.generate_existing)


def _clones(rule: Any) -> bool:
    patterns = rule.generate.foreach or [rule.generate]
    return any(p.clone is not None and p.clone.name or p.clone_list is not None and p.clone_list.kinds
               for p in patterns)


def match_kinds(rule: Any) -> list[str]:
    block = rule.match
    kinds: list[str] = []
    for f in [*(block.any or []), *(block.all or []), block]:
        for kind in f.resources.kinds:
            if kind not in kinds:
                kinds.append(kind)
    return kinds


class Triggers:
    def __init__(self, kube: Kube, policies: PolicyCache, namespace: str, stop: threading.Event,
                 written: RecentSet, deleted: RecentSet, watch_seconds: int = 60):
        self.kube, self.policies, self.namespace, self.stop_event = kube, policies, namespace, stop
        self.written, self.deleted = written, deleted
        self.watch_seconds = watch_seconds
        self.ur_res = kube.resource("kyverno.io/v2", "UpdateRequest")
        self.watched: dict[tuple[str, str], Informer] = {}
        self._lock = threading.Lock()
        #: policy key -> metadata.generation last acted on
        self._generations: dict[str, int] = {}
        self._kinds: dict[str, Resource | None] = {}

    # -- writing requests ----------------------------------------------------------------------------------
    def submit(self, policy: str, contexts: list[RuleContext], generated: list[dict[str, str]] | None = None) -> None:
        for start in range(0, max(len(contexts), 1), BATCH):
            chunk = contexts[start:start + BATCH]
            if not chunk:
                return
            body = generate_request(policy, chunk, self.namespace, generated=generated)
            made = self.kube.create(self.ur_res, self.namespace, body)
            if generated is not None:  # the status subresource: written after the create, as Kyverno does
                self.kube.replace(self.ur_res, self.namespace, {**made, "status": body["status"]}, "status")

    # -- policies ------------------------------------------------------------------------------------------
    def on_policy(self, kind: str, key: str, new: PreparedPolicy | None, old: PreparedPolicy | None) -> None:
        if kind == "DELETED":
            if old is not None:
                self._policy_deleted(key, old)
            self._generations.pop(key, None)
            return
        if new is None:
            return
        generation = int(getattr(new.policy.metadata, "generation", 0) or 0)
        if generation and self._generations.get(key) == generation:
            return
        changed = key in self._generations
        self._generations[key] = generation
        self.watch_downstream(new)
        self.generate_existing(key, new)
        if changed:
            self._resync_data(key, new)

    def scan(self) -> None:
        """The periodic pass: generateExisting again for every policy."""
        for prepared in self.policies.all():
            self.generate_existing(prepared.policy.key, prepared)

    def find_kind(self, text: str) -> Resource | None:
        """The resource of a match kind (``Pod``, ``v1/Pod``, ``apps/v1/Deployment``), by discovery."""
        if text in self._kinds:
            return self._kinds[text]
        api_version, kind = split_kind(text)
        found: Resource | None = None
        try:
            if api_version:
                found = self.kube.resource(api_version, kind)
            else:
                for candidate in ["v1", *self._group_versions()]:
                    try:
                        found = self.kube.resource(candidate, kind)
                        break
                    except APIError as exc:
                        if not exc.not_found:
                            raise
        except APIError as exc:
            log.warning("match kind not found", extra={"kind": text, "error": str(exc)})
        self._kinds[text] = found
        return found

    def _group_versions(self) -> list[str]:
        groups = self.kube.request("GET", "/apis").get("groups") or []
        return [str((g.get("preferredVersion") or {}).get("groupVersion") or "") for g in groups
                if (g.get("preferredVersion") or {}).get("groupVersion")]

    def namespace_labels(self) -> dict[str, dict[str, str]]:
        listed = self.kube.list(self.kube.resource("v1", "Namespace"))
        return {str((n.get("metadata") or {}).get("name")): dict((n.get("metadata") or {}).get("labels") or {})
                for n in listed.get("items") or []}

    def generate_existing(self, key: str, prepared: PreparedPolicy) -> None:
        rules = [r for r in generate_rules(prepared) if _generate_existing(prepared, r)]
        if not rules:
            return
        labels = self.namespace_labels()
        contexts: list[RuleContext] = []
        policy_ns = prepared.policy.namespace
        for rule in rules:
            for text in match_kinds(rule.rule):
                res = self.find_kind(text)
                if res is None:
                    continue
                for obj in self.kube.list(res, policy_ns if res.namespaced else "").get("items") or []:
                    obj.setdefault("apiVersion", res.api_version)
                    obj.setdefault("kind", res.kind)
                    meta = obj.get("metadata") or {}
                    if meta.get("deletionTimestamp"):
                        continue
                    ns_labels = dict(meta.get("labels") or {}) if res.kind == "Namespace" else \
                        labels.get(str(meta.get("namespace") or ""), {})
                    if rule.matcher.matches(Request(obj, None, "CREATE", None, namespace_labels=ns_labels)):
                        contexts.append(RuleContext(rule.base_name, TriggerRef.of(obj), False,
                                                    bool(rule.rule.generate.synchronize)))
        if contexts:
            log.info("generate existing", extra={"policy": key, "triggers": len(contexts)})
            self.submit(key, contexts)

    def _resync_data(self, key: str, prepared: PreparedPolicy) -> None:
        """A changed policy: its synchronized data rules' downstream are generated again."""
        contexts = []
        for rule in generate_rules(prepared):
            gen = rule.rule.generate
            if not gen.synchronize or gen.clone is not None and gen.clone.name:
                continue
            labels = {downstream.MANAGED_BY: "kyverno", downstream.POLICY_NAME: prepared.policy.name,
                      downstream.POLICY_NAMESPACE: prepared.policy.namespace or "",
                      downstream.RULE_NAME: rule.base_name}
            for _, obj in downstream.find(self.kube, generated_kinds(rule.rule), labels):
                trigger = self._trigger_of(obj)
                if trigger is not None:
                    contexts.append(RuleContext(rule.base_name, trigger, False, True))
        if contexts:
            self.submit(key, contexts)

    def _policy_deleted(self, key: str, old: PreparedPolicy) -> None:
        for rule in generate_rules(old):
            gen = rule.rule.generate
            if not gen.synchronize or gen.orphan_downstream_on_policy_delete:
                continue
            labels = {downstream.MANAGED_BY: "kyverno", downstream.POLICY_NAME: old.policy.name,
                      downstream.POLICY_NAMESPACE: old.policy.namespace or "", downstream.RULE_NAME: rule.base_name}
            found = [downstream.reference(obj) for _, obj in downstream.find(self.kube, generated_kinds(rule.rule),
                                                                             labels)]
            if found:
                log.info("policy deleted; deleting its downstream", extra={"policy": key, "rule": rule.base_name,
                                                                          "objects": len(found)})
                ctx = RuleContext(rule.base_name, TriggerRef("", "", "", ""), True, True)
                self.submit(key, [ctx], generated=found)

    # -- downstream ----------------------------------------------------------------------------------------
    def watch_downstream(self, prepared: PreparedPolicy) -> None:
        """Watch each kind the policy's synchronized rules generate (downstream objects, and clone sources
        for clone rules), once per kind."""
        for rule in generate_rules(prepared):
            if not rule.rule.generate.synchronize:
                continue
            for pair in generated_kinds(rule.rule):
                self._watch(("downstream", *pair), pair, downstream.DOWNSTREAM_SELECTOR, self._downstream_event)
                if _clones(rule.rule):
                    self._watch(("source", *pair), pair, downstream.CLONE_SOURCE, self._source_event)

    def _watch(self, key: tuple[str, ...], pair: tuple[str, str], selector: str,
               handler: Callable[[Resource], Callable[[str, dict[str, Any]], None]]) -> None:
        with self._lock:
            if key in self.watched:
                return
            try:
                res = self.kube.resource(*pair)
            except APIError as exc:
                log.warning("generated kind not served", extra={"kind": "/".join(pair), "error": str(exc)})
                return
            informer = Informer(self.kube, res, handler(res), self.stop_event, label_selector=selector,
                                watch_seconds=self.watch_seconds)
            self.watched[key] = informer
        informer.start()

    def _source_event(self, res: Resource) -> Callable[[str, dict[str, Any]], None]:
        """A clone source changed: its synchronized downstream re-synced; deleted: that downstream deleted."""
        def handle(kind: str, obj: dict[str, Any]) -> None:
            if kind not in ("DELETED", "MODIFIED"):
                return
            meta = obj.get("metadata") or {}
            if kind == "MODIFIED" and (str(meta.get("uid")), str(meta.get("resourceVersion"))) in self.written:
                return
            labels = {downstream.MANAGED_BY: "kyverno", downstream.SOURCE_KIND: res.kind,
                      downstream.SOURCE_NAMESPACE: str(meta.get("namespace") or ""),
                      downstream.SOURCE_NAME: str(meta.get("name") or "")}
            work: dict[str, list[RuleContext]] = {}
            for _, copy in downstream.find(self.kube, [(res.api_version, res.kind)], labels):
                copy_labels = (copy.get("metadata") or {}).get("labels") or {}
                ns = copy_labels.get(downstream.POLICY_NAMESPACE, "")
                name = copy_labels.get(downstream.POLICY_NAME, "")
                key = f"{ns}/{name}" if ns else name
                prepared = self.policies.get(key)
                rule = next((r for r in generate_rules(prepared) if r.base_name ==
                             copy_labels.get(downstream.RULE_NAME)), None) if prepared else None
                trigger = self._trigger_of(copy)
                if rule is None or not rule.rule.generate.synchronize or trigger is None:
                    continue
                work.setdefault(key, []).append(RuleContext(rule.base_name, trigger, kind == "DELETED", True))
            for key, contexts in work.items():
                log.info("clone source changed", extra={"policy": key, "event": kind,
                                                        "source": downstream.reference(obj)})
                self.submit(key, contexts)
        return handle

    @staticmethod
    def _trigger_of(obj: dict[str, Any]) -> TriggerRef | None:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        kind, name = labels.get(downstream.TRIGGER_KIND), labels.get(downstream.TRIGGER_NAME)
        if not kind or not name:
            return None
        group, version = labels.get(downstream.TRIGGER_GROUP, ""), labels.get(downstream.TRIGGER_VERSION, "")
        return TriggerRef(f"{group}/{version}" if group else version, kind,
                          labels.get(downstream.TRIGGER_NAMESPACE, ""), name, labels.get(downstream.TRIGGER_UID, ""))

    def _downstream_event(self, res: Resource) -> Callable[[str, dict[str, Any]], None]:
        def handle(kind: str, obj: dict[str, Any]) -> None:
            if kind not in ("DELETED", "MODIFIED"):
                return
            meta = obj.get("metadata") or {}
            if kind == "MODIFIED" and (meta.get("deletionTimestamp") or
                                       (str(meta.get("uid")), str(meta.get("resourceVersion"))) in self.written):
                return
            if kind == "DELETED" and str(meta.get("uid")) in self.deleted:
                return  # this controller deleted it (its trigger went, or stopped matching)
            labels = meta.get("labels") or {}
            ns = labels.get(downstream.POLICY_NAMESPACE, "")
            key = f"{ns}/{labels.get(downstream.POLICY_NAME, '')}" if ns else labels.get(downstream.POLICY_NAME, "")
            prepared = self.policies.get(key)
            if prepared is None:
                return
            rule = next((r for r in generate_rules(prepared)
                         if r.base_name == labels.get(downstream.RULE_NAME)), None)
            trigger = self._trigger_of(obj)
            if rule is None or not rule.rule.generate.synchronize or trigger is None:
                return
            if not downstream.trigger_alive(self.kube, trigger):
                return  # the trigger is gone: its deletion removes the downstream, nothing to restore
            log.info("downstream changed; restoring", extra={"policy": key, "event": kind,
                                                             "object": downstream.reference(obj)})
            self.submit(key, [RuleContext(rule.base_name, trigger, False, True)])
        return handle
