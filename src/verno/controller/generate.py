"""Processing one generate UpdateRequest: for each rule context, the trigger read live (by uid), the rule
evaluated by the engine, the downstream written; or, for a deletion, the downstream found and deleted.

``process`` returns the generated references, or raises ``GenerateFailed`` (the request is retried).
"""
from __future__ import annotations

import dataclasses
import logging
from typing import Any

from verno.controller import downstream
from verno.controller.denials import Denials
from verno.controller.events import EventRecorder
from verno.controller.kube import APIError, Kube
from verno.controller.metrics import Metrics
from verno.controller.policies import PolicyCache
from verno.controller.recent import RecentSet
from verno.controller.sources import KubeDataSource
from verno.core.engine import Engine
from verno.core.prepare import PreparedPolicy, PreparedRule
from verno.core.request import Request
from verno.core.results import Status
from verno.core.sources import Sources
from verno.core.updaterequest import RuleContext, TriggerRef, admission_of, contexts_of

log = logging.getLogger("verno.controller.generate")


class GenerateFailed(Exception):
    pass


def split_kind(text: str) -> tuple[str, str]:
    """``v1/Secret`` -> (``v1``, ``Secret``); ``apps/v1/Deployment`` -> (``apps/v1``, ``Deployment``)."""
    api_version, _, kind = text.rpartition("/")
    return api_version, kind


def _patterns(rule: Any) -> list[Any]:
    generation = rule.generate
    return list(generation.foreach) if generation.foreach else [generation]


def generated_kinds(rule: Any) -> list[tuple[str, str]]:
    """(apiVersion, kind) of what a generate rule makes, where written without variables."""
    out: list[tuple[str, str]] = []
    for pattern in _patterns(rule):
        if pattern.clone_list is not None and pattern.clone_list.kinds:
            pairs = [split_kind(k) for k in pattern.clone_list.kinds]
        else:
            pairs = [(pattern.api_version, pattern.kind)]
        for pair in pairs:
            if pair[1] and "{{" not in "".join(pair) and "*" not in pair[1] and pair not in out:
                out.append(pair)
    return out


def generate_rules(prepared: PreparedPolicy) -> list[PreparedRule]:
    return [r for r in prepared.rules if r.kind == "generate"]


def rule_of(prepared: PreparedPolicy, name: str) -> PreparedRule | None:
    return next((r for r in generate_rules(prepared) if r.base_name == name or r.name == name), None)


def one_rule(prepared: PreparedPolicy, rule: PreparedRule) -> PreparedPolicy:
    return dataclasses.replace(prepared, rules=[rule], by_kind={"generate": [rule]}, kinds=frozenset({"generate"}))


def owner_labels(policy: Any, rule: str, trigger: TriggerRef) -> dict[str, str]:
    """The selector of one trigger's downstream of one policy (Kyverno's, trigger by uid or by name)."""
    group, _, version = trigger.api_version.rpartition("/")
    labels = {downstream.MANAGED_BY: "kyverno", downstream.POLICY_NAME: policy.name,
              downstream.POLICY_NAMESPACE: policy.namespace or "", downstream.TRIGGER_KIND: trigger.kind,
              downstream.TRIGGER_NAMESPACE: trigger.namespace, downstream.TRIGGER_GROUP: group,
              downstream.TRIGGER_VERSION: version}
    if rule:
        labels[downstream.RULE_NAME] = rule
    return labels


def _check_scope(prepared: PreparedPolicy, desired: dict[str, Any]) -> None:
    """A namespaced Policy generates only in its own namespace (Kyverno refuses such a policy at admission)."""
    own = prepared.policy.namespace
    target = str((desired.get("metadata") or {}).get("namespace") or "")
    if own and target != own:
        raise GenerateFailed(f"a namespaced policy cannot generate resources in other namespaces, expected: {own}, "
                             f"received: {target or '(cluster scope)'}")


class Generator:
    def __init__(self, kube: Kube, engine: Engine, policies: PolicyCache, events: EventRecorder,
                 metrics: Metrics | None = None, denials: Denials | None = None):
        self.kube, self.engine, self.policies, self.events = kube, engine, policies, events
        self.metrics = metrics or Metrics(lambda: 0, lambda: False)
        #: the 403s met per policy, for its PermissionDenied condition (read by the status writer)
        self.denials = denials or Denials()
        self.data_source = KubeDataSource(kube)
        #: (uid, resourceVersion) of objects this controller wrote, uids of those it deleted (their watch
        #: events are its own)
        self.written = RecentSet()
        self.deleted = RecentSet()

    # -- one request --------------------------------------------------------------------------------------
    def process(self, ur: dict[str, Any]) -> list[dict[str, str]]:
        spec = ur.get("spec") or {}
        key = str(spec.get("policy") or "")
        prepared = self.policies.get(key)
        out: list[dict[str, str]] = []
        errors: list[str] = []
        for ctx in contexts_of(ur):
            try:
                if prepared is None or ctx.delete_downstream:
                    self._delete_downstream(ur, key, prepared, ctx)
                else:
                    out.extend(self._generate(ur, prepared, ctx))
            except downstream.PermissionDenied as exc:
                errors.append(str(exc))
                self.metrics.denied.inc(exc.verb, exc.kind, exc.namespace)
                self.denials.denied(key, exc.verb, exc.kind, exc.namespace)
                self.events.policy_warning(key, str(exc))
            except (APIError, GenerateFailed) as exc:
                errors.append(f"rule {ctx.rule}: {exc}")
        if errors:
            raise GenerateFailed("; ".join(errors))
        return out

    # -- deletion -----------------------------------------------------------------------------------------
    def _delete_downstream(self, ur: dict[str, Any], key: str, prepared: PreparedPolicy | None,
                           ctx: RuleContext) -> None:
        listed = (ur.get("status") or {}).get("generatedResources")
        if prepared is None and listed:
            for ref in listed:
                res = self.kube.resource(str(ref.get("apiVersion") or ""), str(ref.get("kind") or ""))
                downstream.delete(self.kube, res, {"metadata": {"namespace": ref.get("namespace"),
                                                                "name": ref.get("name")}})
                self.deleted.add(str(ref.get("uid") or ""))
                self.metrics.writes.inc("deleted")
            return
        if prepared is None:
            if self.policies.error(key):
                raise GenerateFailed(f"policy {key} does not load: {self.policies.error(key)}")
            return  # the policy is gone and named nothing to delete
        rule = rule_of(prepared, ctx.rule)
        if rule is None:
            return
        kinds = generated_kinds(rule.rule)
        base = owner_labels(prepared.policy, rule.base_name, ctx.trigger)
        found = downstream.find(self.kube, kinds, {**base, downstream.TRIGGER_UID: ctx.trigger.uid}) \
            if ctx.trigger.uid else []
        if not found:
            found = downstream.find(self.kube, kinds, {**base, downstream.TRIGGER_NAME: ctx.trigger.name})
        for res, obj in found:
            self.deleted.add(str((obj.get("metadata") or {}).get("uid") or ""))
            downstream.delete(self.kube, res, obj)
            self.metrics.writes.inc("deleted")
            self.denials.allowed(key, ("delete",), res.kind, str((obj.get("metadata") or {}).get("namespace") or ""))
            log.info("downstream deleted", extra={"policy": key, "rule": ctx.rule,
                                                  "object": downstream.reference(obj)})

    # -- generation ---------------------------------------------------------------------------------------
    def _trigger(self, ur: dict[str, Any], ref: TriggerRef) -> tuple[dict[str, Any], dict[str, Any] | None, str]:
        """(object, old object, operation) for the trigger: the live object with the expected uid; the
        admission request's old object only for a DELETE."""
        admission = admission_of(ur) or {}
        operation = str(admission.get("operation") or "CREATE")
        res = self.kube.resource(ref.api_version, ref.kind)
        live = self.kube.get(res, ref.namespace if res.namespaced else "", ref.name)
        live_uid = str(((live or {}).get("metadata") or {}).get("uid") or "")
        terminating = bool(((live or {}).get("metadata") or {}).get("deletionTimestamp"))
        if live is not None and (not ref.uid or live_uid == ref.uid) and not terminating:
            live.setdefault("apiVersion", res.api_version)
            live.setdefault("kind", res.kind)
            return live, admission.get("oldObject") if operation == "UPDATE" else None, operation
        if operation == "DELETE" and isinstance(admission.get("oldObject"), dict):
            return {}, admission["oldObject"], operation
        where = "/".join(p for p in (ref.kind, ref.namespace, ref.name) if p)
        raise GenerateFailed(f"trigger {where} (uid {ref.uid or 'unknown'}) not found in the cluster")

    def _namespace_labels(self, trigger: dict[str, Any]) -> dict[str, str]:
        meta = trigger.get("metadata") or {}
        if trigger.get("kind") == "Namespace":
            return dict(meta.get("labels") or {})
        ns = meta.get("namespace") or ""
        if not ns:
            return {}
        namespace = self.kube.get(self.kube.resource("v1", "Namespace"), "", ns)
        return dict(((namespace or {}).get("metadata") or {}).get("labels") or {})

    def _clone_sources(self, rule: Any) -> list[dict[str, Any]]:
        """The objects a clone or cloneList may read, from the cluster (variables left: every namespace)."""
        pool: list[dict[str, Any]] = []
        for pattern in _patterns(rule):
            wanted: list[tuple[str, str, str, str]] = []
            if pattern.clone is not None and pattern.clone.name:
                wanted.append((pattern.api_version, pattern.kind, pattern.clone.namespace, ""))
            if pattern.clone_list is not None:
                for text in pattern.clone_list.kinds:
                    api_version, kind = split_kind(text)
                    wanted.append((api_version, kind, pattern.clone_list.namespace, ""))
            for api_version, kind, namespace, labels in wanted:
                if not kind or "{{" in api_version + kind:
                    continue
                res = self.kube.resource(api_version, kind)
                ns = "" if "{{" in namespace or not res.namespaced else namespace
                for item in self.kube.list(res, ns, labels).get("items") or []:
                    item.setdefault("apiVersion", res.api_version)
                    item.setdefault("kind", res.kind)
                    pool.append(item)
        return pool

    def _generate(self, ur: dict[str, Any], prepared: PreparedPolicy, ctx: RuleContext) -> list[dict[str, str]]:
        rule = rule_of(prepared, ctx.rule)
        if rule is None:
            raise GenerateFailed(f"policy {prepared.policy.key} has no generate rule {ctx.rule}")
        obj, old, operation = self._trigger(ur, ctx.trigger)
        admission = admission_of(ur) or {}
        user_info = admission.get("userInfo") if isinstance(admission.get("userInfo"), dict) else None
        request = Request(obj, old, operation, user_info, namespace_labels=self._namespace_labels(obj or old or {}))
        sources = Sources(cluster=self.data_source, cluster_resources=self._clone_sources(rule.rule))
        responses = self.engine.evaluate([one_rule(prepared, rule)], request, sources=sources, phases=("generate",))
        rules = [r for resp in responses for r in resp.rules]
        if not rules:
            raise GenerateFailed("policy does not apply to resource")
        synchronize = bool(rule.rule.generate.synchronize)
        out: list[dict[str, str]] = []
        for response in rules:
            if response.status == Status.SKIP:
                continue
            if response.status != Status.PASS:
                raise GenerateFailed(response.message or response.status.value)
            if response.message and not response.generated_resources:
                raise GenerateFailed(response.message)
            for desired in response.generated_resources:
                _check_scope(prepared, desired)
                out.append(self._write(prepared, rule, desired, synchronize))
            if response.message:
                raise GenerateFailed(response.message)
        return out

    def _write(self, prepared: PreparedPolicy, rule: PreparedRule, desired: dict[str, Any],
               synchronize: bool) -> dict[str, str]:
        server_side = prepared.policy.spec.use_server_side_apply
        written = downstream.write(self.kube, desired, synchronize, server_side)
        meta = written.obj.get("metadata") or {}
        verbs = {"created": ("get", "patch" if server_side else "create"),
                 "updated": ("get", "patch" if server_side else "update")}.get(written.action, ("get",))
        self.denials.allowed(prepared.policy.key, verbs, str(desired.get("kind") or ""),
                             str(meta.get("namespace") or ""))
        if written.action in ("created", "updated"):
            self.metrics.writes.inc(written.action)
            self.written.add((str(meta.get("uid") or ""), str(meta.get("resourceVersion") or "")))
        if written.taken_over and written.action == "updated":
            ref = downstream.reference(desired)
            self.events.policy_normal(prepared.policy.key, "TakenOver",
                                      f"rule {rule.base_name}: {ref['kind']} {ref['namespace']}/{ref['name']} "
                                      f"existed without verno's labels and is now synchronized by this rule")
        if written.action != "skipped":
            source = downstream.label_clone_source(self.kube, desired)
            if source is not None:
                source_meta = source.get("metadata") or {}
                self.written.add((str(source_meta.get("uid") or ""), str(source_meta.get("resourceVersion") or "")))
        log.info("downstream written", extra={"policy": prepared.policy.key, "rule": rule.base_name,
                                              "action": written.action, "object": downstream.reference(written.obj)})
        ref = downstream.reference(written.obj)
        ref["apiVersion"] = ref["apiVersion"] or str(desired.get("apiVersion") or "")
        ref["kind"] = ref["kind"] or str(desired.get("kind") or "")
        return ref
