"""mutateExistingOnPolicyUpdate: a policy created or changed (and every scan interval) makes a mutate
UpdateRequest for each existing object of its match kinds that a flagged rule matches (the rule's
``mutate.mutateExistingOnPolicyUpdate`` overrides the policy's ``spec.mutateExistingOnPolicyUpdate``). A
namespaced Policy lists its own namespace only. A request already waiting for the same rule and trigger is
not made again."""
from __future__ import annotations

import logging
from typing import Any

from verno.controller.kube import Kube
from verno.controller.mutate_existing import mutate_existing_rules
from verno.controller.policies import PolicyCache
from verno.controller.triggers import Triggers, match_kinds
from verno.core.prepare import PreparedPolicy, PreparedRule
from verno.core.request import Request
from verno.core.updaterequest import (
    MUTATE_POLICY_LABEL, TriggerRef, mutate_labels, mutate_request, request_type, resource_of,
)

log = logging.getLogger("verno.controller.mutate")


def on_policy_update(prepared: PreparedPolicy, rule: PreparedRule) -> bool:
    own = rule.rule.mutate.mutate_existing_on_policy_update if rule.rule.mutate is not None else None
    return bool(own if own is not None else prepared.policy.spec.mutate_existing_on_policy_update)


class MutateTriggers:
    def __init__(self, kube: Kube, policies: PolicyCache, namespace: str, triggers: Triggers):
        self.kube, self.policies, self.namespace, self.triggers = kube, policies, namespace, triggers
        self.ur_res = kube.resource("kyverno.io/v2", "UpdateRequest")
        #: policy key -> metadata.generation last acted on
        self._generations: dict[str, int] = {}

    def on_policy(self, kind: str, key: str, new: PreparedPolicy | None, old: PreparedPolicy | None) -> None:
        if kind == "DELETED" or new is None:
            self._generations.pop(key, None)
            return
        generation = int(getattr(new.policy.metadata, "generation", 0) or 0)
        if generation and self._generations.get(key) == generation:
            return
        self._generations[key] = generation
        self.mutate_existing(key, new)

    def scan(self) -> None:
        for prepared in self.policies.all():
            self.mutate_existing(prepared.policy.key, prepared)

    def _waiting(self, prepared: PreparedPolicy) -> set[tuple[str, TriggerRef]]:
        """(rule, trigger) of the mutate requests of this policy not processed yet."""
        name = mutate_labels(prepared.policy.key, TriggerRef("", "", "", ""))[MUTATE_POLICY_LABEL]
        selector = f"{MUTATE_POLICY_LABEL}={name}"
        listed = self.kube.list(self.ur_res, self.namespace, selector).get("items") or []
        return {(str((ur.get("spec") or {}).get("rule") or ""), resource_of(ur)) for ur in listed
                if request_type(ur) == "mutate" and (ur.get("spec") or {}).get("policy") == prepared.policy.key}

    def mutate_existing(self, key: str, prepared: PreparedPolicy) -> None:
        rules = [r for r in mutate_existing_rules(prepared) if on_policy_update(prepared, r)]
        if not rules:
            return
        labels = self.triggers.namespace_labels()
        waiting = self._waiting(prepared)
        made = 0
        for rule in rules:
            for text in match_kinds(rule.rule):
                res = self.triggers.find_kind(text)
                if res is None:
                    continue
                namespace = prepared.policy.namespace if res.namespaced else ""
                for obj in self.kube.list(res, namespace or "").get("items") or []:
                    obj.setdefault("apiVersion", res.api_version)
                    obj.setdefault("kind", res.kind)
                    meta: dict[str, Any] = obj.get("metadata") or {}
                    if meta.get("deletionTimestamp") or prepared.policy.namespace and not res.namespaced:
                        continue
                    ns_labels = dict(meta.get("labels") or {}) if res.kind == "Namespace" else \
                        labels.get(str(meta.get("namespace") or ""), {})
                    if not rule.matcher.matches(Request(obj, None, "CREATE", None, namespace_labels=ns_labels)):
                        continue
                    trigger = TriggerRef.of(obj)
                    if (rule.name, trigger) in waiting:
                        continue
                    self.kube.create(self.ur_res, self.namespace, mutate_request(key, rule.name, trigger,
                                                                                 self.namespace))
                    waiting.add((rule.name, trigger))
                    made += 1
        if made:
            log.info("mutate existing", extra={"policy": key, "requests": made})
