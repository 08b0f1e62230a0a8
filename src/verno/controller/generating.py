"""GeneratingPolicies in the cluster (Kyverno's background controller for ``policies.kyverno.io``
GeneratingPolicy and NamespacedGeneratingPolicy).

* Policies are watched (a cluster that does not serve the kinds has none) and loaded through the engine's
  policy-kind registry (the controller imports no plugin); one verno cannot load gets a ``PolicyError`` Event.
* Work comes as ``requestType: cel-generate`` UpdateRequests (``spec.policy``: ``name``, or ``namespace/name``
  for a NamespacedGeneratingPolicy; one rule context per trigger, its rule the policy's name), written by the
  webhook (``server/gpol_handoff.py``) and by this module (generateExisting, synchronize).
* Processing one context: the trigger read live and checked by uid (the admission request's old object only
  for a DELETE); the policy evaluated by the engine with the trigger's namespace as ``namespaceObject``, the
  cluster's ``policies.kyverno.io`` PolicyExceptions and ``resource.*`` reading the cluster; each generated
  object gets Kyverno's labels (``app.kubernetes.io/managed-by: kyverno``, ``generate.kyverno.io/policy-name``,
  ``trigger-{kind,group,version,namespace,name,uid}``, and ``policy-namespace`` for a namespaced policy) and is
  created when missing, replaced with the live resourceVersion when ``synchronize`` and different, left alone
  otherwise (``controller/downstream.py``). A NamespacedGeneratingPolicy writes only in its own namespace.
* ``deleteDownstream`` (the trigger deleted, or no longer matching, under ``synchronize``): the objects of the
  kinds the policy generates for the old trigger (and of every kind gpols wrote since the start) carrying the
  policy's and the trigger's labels are deleted; a deleted policy's records name the objects to delete.
* ``synchronize``: each kind a synchronized policy writes is watched (label ``app.kubernetes.io/managed-by=
  kyverno``); a downstream deleted or changed by someone else, whose trigger is alive, makes a record that
  restores it. Downstream of ClusterPolicy rules (label ``generate.kyverno.io/rule-name``) is not ours.
* ``generateExisting``: a policy created or changed makes records for every existing object of its
  ``matchConstraints`` resources that it applies to (a namespaced policy: its namespace only).
* A deleted synchronized policy without ``orphanDownstreamOnPolicyDelete`` has its downstream (of the kinds
  known since the start) deleted.
"""
from __future__ import annotations

import copy
import logging
import threading
from typing import Any

from verno.controller import downstream
from verno.controller.denials import Denials
from verno.controller.events import EventRecorder
from verno.controller.generate import GenerateFailed
from verno.controller.informer import Informer
from verno.controller.kindpolicies import KindPolicies, cel_exceptions, constraint_resources
from verno.controller.kube import APIError, Kube
from verno.controller.metrics import Metrics
from verno.controller.recent import RecentSet
from verno.controller.sources import KubeDataSource
from verno.core.cel.cluster_data import ClusterCelData
from verno.core.errors import VernoError
from verno.core.policykinds import KindInputs
from verno.core.request import Request
from verno.core.results import Status
from verno.core.sources import Sources
from verno.core.updaterequest import (
    API_VERSION, CEL_GENERATE, KIND, RuleContext, TriggerRef, admission_of, contexts_of, generate_request,
)

log = logging.getLogger("verno.controller.generating")

GROUP, VERSION = "policies.kyverno.io", "v1"
#: selects the objects GeneratingPolicies wrote (a ClusterPolicy rule's also carry its rule name)
GPOL_DOWNSTREAM = f"{downstream.DOWNSTREAM_SELECTOR},!{downstream.RULE_NAME}"
KINDS = ("GeneratingPolicy", "NamespacedGeneratingPolicy")
#: rule contexts per request (as for ClusterPolicy events: etcd's request size)
BATCH = 100


def _meta(obj: dict[str, Any] | None) -> dict[str, Any]:
    meta = (obj or {}).get("metadata")
    return meta if isinstance(meta, dict) else {}


def policy_key(labels: dict[str, str]) -> str:
    """The key of the GeneratingPolicy a downstream object's labels name."""
    ns, name = labels.get(downstream.POLICY_NAMESPACE, ""), labels.get(downstream.POLICY_NAME, "")
    return f"{ns}/{name}" if ns else name


def owner_labels(policy: Any, trigger: TriggerRef) -> dict[str, str]:
    """Kyverno's labels of a GeneratingPolicy's downstream object for one trigger."""
    group, _, version = trigger.api_version.rpartition("/")
    labels = {downstream.MANAGED_BY: "kyverno", downstream.POLICY_NAME: policy.name,
              downstream.TRIGGER_KIND: trigger.kind, downstream.TRIGGER_GROUP: group,
              downstream.TRIGGER_VERSION: version, downstream.TRIGGER_NAMESPACE: trigger.namespace,
              downstream.TRIGGER_NAME: trigger.name[:63], downstream.TRIGGER_UID: trigger.uid}
    if policy.namespace:
        labels[downstream.POLICY_NAMESPACE] = policy.namespace
    return labels


def trigger_of(obj: dict[str, Any]) -> TriggerRef | None:
    """The trigger a downstream object's ``trigger-*`` labels name."""
    labels = _meta(obj).get("labels") or {}
    kind, name = labels.get(downstream.TRIGGER_KIND), labels.get(downstream.TRIGGER_NAME)
    if not kind or not name:
        return None
    group, version = labels.get(downstream.TRIGGER_GROUP, ""), labels.get(downstream.TRIGGER_VERSION, "")
    return TriggerRef(f"{group}/{version}" if group else version, kind, labels.get(downstream.TRIGGER_NAMESPACE, ""),
                      name, labels.get(downstream.TRIGGER_UID, ""))


class GeneratingPolicies(KindPolicies):
    """The cluster's GeneratingPolicies, each loaded once per ``metadata.generation``."""

    def __init__(self, kube: Kube, engine: Any, events: EventRecorder):
        super().__init__(kube, engine, events, GROUP, KINDS)


class CelGenerator:
    """Processes ``cel-generate`` UpdateRequests and makes them for policy and downstream events."""

    def __init__(self, kube: Kube, engine: Any, policies: GeneratingPolicies, events: EventRecorder,
                 metrics: Metrics, denials: Denials, namespace: str, stop: threading.Event, *,
                 watch_seconds: int = 60):
        self.kube, self.engine, self.policies, self.events = kube, engine, policies, events
        self.metrics, self.denials, self.namespace, self.stop_event = metrics, denials, namespace, stop
        self.watch_seconds = watch_seconds
        self.cel_data = ClusterCelData(KubeDataSource(kube))
        #: (uid, resourceVersion) written, uids deleted by this controller (their watch events are its own)
        self.written = RecentSet()
        self.deleted = RecentSet()
        #: (apiVersion, kind) of every object GeneratingPolicies wrote since the start
        self.kinds: set[tuple[str, str]] = set()
        self.watched: dict[tuple[str, str], Informer] = {}
        self._lock = threading.Lock()
        policies.listeners.append(self.on_policy)

    # -- records --------------------------------------------------------------------------------------------
    def submit(self, key: str, contexts: list[RuleContext], generated: list[dict[str, str]] | None = None) -> None:
        res = self.kube.resource(API_VERSION, KIND)
        for start in range(0, len(contexts), BATCH):
            body = generate_request(key, contexts[start:start + BATCH], self.namespace, generated=generated,
                                    kind=CEL_GENERATE)
            made = self.kube.create(res, self.namespace, body)
            if generated is not None:
                self.kube.replace(res, self.namespace, {**made, "status": body["status"]}, "status")

    # -- one request ----------------------------------------------------------------------------------------
    def process(self, ur: dict[str, Any]) -> list[dict[str, str]]:
        key = str((ur.get("spec") or {}).get("policy") or "")
        policy = self.policies.get(key)
        out: list[dict[str, str]] = []
        errors: list[str] = []
        for ctx in contexts_of(ur):
            try:
                if policy is None or ctx.delete_downstream:
                    self._delete_downstream(ur, key, policy, ctx)
                else:
                    out.extend(self._generate(ur, policy, ctx))
            except downstream.PermissionDenied as exc:
                errors.append(str(exc))
                self.metrics.denied.inc(exc.verb, exc.kind, exc.namespace)
                self.events.policy_warning(key, str(exc), involved=self.involved(key))
            except (APIError, GenerateFailed) as exc:
                errors.append(f"policy {key}: {exc}")
        if errors:
            raise GenerateFailed("; ".join(errors))
        return out

    @staticmethod
    def involved(key: str) -> tuple[str, str]:
        """(apiVersion, kind) of the policy a key names, for its Events."""
        return f"{GROUP}/{VERSION}", KINDS[1] if "/" in key else KINDS[0]

    def _trigger(self, ur: dict[str, Any], ref: TriggerRef) -> tuple[dict[str, Any], dict[str, Any] | None, str]:
        """(object, old object, operation): the live trigger with the recorded uid; for a DELETE the admission
        request's old object."""
        admission = admission_of(ur) or {}
        operation = str(admission.get("operation") or "CREATE")
        res = self.kube.resource(ref.api_version, ref.kind)
        live = self.kube.get(res, ref.namespace if res.namespaced else "", ref.name)
        meta = _meta(live)
        if live is not None and (not ref.uid or meta.get("uid") == ref.uid) and not meta.get("deletionTimestamp"):
            live.setdefault("apiVersion", res.api_version)
            live.setdefault("kind", res.kind)
            return live, admission.get("oldObject") if operation == "UPDATE" else None, operation
        if operation == "DELETE" and isinstance(admission.get("oldObject"), dict):
            return {}, admission["oldObject"], operation
        where = "/".join(p for p in (ref.kind, ref.namespace, ref.name) if p)
        raise GenerateFailed(f"trigger {where} (uid {ref.uid or 'unknown'}) not found in the cluster")

    def _inputs(self, namespace: str, exceptions: list[dict[str, Any]] | None = None,
                namespaces: dict[str, dict[str, Any]] | None = None) -> KindInputs:
        """What an evaluation reads; ``exceptions`` and ``namespaces`` (filled as read) shared by a batch."""
        namespaces = {} if namespaces is None else namespaces
        if namespace and namespace not in namespaces:
            namespaces[namespace] = self.kube.get(self.kube.resource("v1", "Namespace"), "", namespace) or {}
        sources = Sources()
        sources.cel_data = self.cel_data
        companions = {f"{GROUP}/PolicyException": cel_exceptions(self.kube) if exceptions is None else exceptions}
        return KindInputs(sources, companions, namespaces=namespaces, engine=self.engine)

    def _evaluate(self, policy: Any, request: Request, inputs: KindInputs | None = None) -> list[Any]:
        """The rule responses of ``policy`` for ``request`` (none: it does not apply)."""
        responses = self.engine.evaluate_kinds([policy], request, inputs or self._inputs(request.namespace))
        return [r for resp in responses for r in resp.rules]

    def _generate(self, ur: dict[str, Any], policy: Any, ctx: RuleContext) -> list[dict[str, str]]:
        obj, old, operation = self._trigger(ur, ctx.trigger)
        admission = admission_of(ur) or {}
        user_info = admission.get("userInfo") if isinstance(admission.get("userInfo"), dict) else None
        subject = obj or old or {}
        ns = str(_meta(subject).get("namespace") or "")
        ns_labels = dict(_meta(subject).get("labels") or {}) if subject.get("kind") == "Namespace" else {}
        request = Request(obj, old, operation, user_info, namespace_labels=ns_labels)
        trigger = TriggerRef.of(subject) if _meta(subject).get("uid") else ctx.trigger
        out: list[dict[str, str]] = []
        for rule in self._evaluate(policy, request):
            if rule.status is Status.SKIP:
                continue
            if rule.status is not Status.PASS:
                raise GenerateFailed(rule.message or rule.status.value)
            for desired in rule.generated_resources:
                out.append(self._write(policy, trigger, desired))
        if not out:
            log.info("generating policy made nothing", extra={"policy": policy.key, "namespace": ns,
                                                             "trigger": ctx.trigger.name})
        return out

    def _write(self, policy: Any, trigger: TriggerRef, desired: dict[str, Any]) -> dict[str, str]:
        body = copy.deepcopy(desired)
        res = self.kube.resource(str(body.get("apiVersion") or ""), str(body.get("kind") or ""))
        meta = body.setdefault("metadata", {})
        if not res.namespaced:
            if policy.namespace:
                raise GenerateFailed(f"a namespaced policy cannot generate cluster-scoped resources: "
                                     f"{res.kind} {meta.get('name')}")
            meta.pop("namespace", None)
        elif policy.namespace and meta.get("namespace") != policy.namespace:
            raise GenerateFailed(f"a namespaced policy cannot generate resources in other namespaces, expected: "
                                 f"{policy.namespace}, received: {meta.get('namespace') or '(cluster scope)'}")
        meta["labels"] = {**(meta.get("labels") or {}), **owner_labels(policy, trigger)}
        written = downstream.write(self.kube, body, bool(policy.synchronize),
                                   bool(getattr(policy, "server_side_apply", False)))
        wmeta = _meta(written.obj)
        if written.action in ("created", "updated"):
            self.metrics.writes.inc(written.action)
            self.written.add((str(wmeta.get("uid") or ""), str(wmeta.get("resourceVersion") or "")))
        if written.taken_over and written.action == "updated":
            self.events.policy_normal(policy.key, "TakenOver",
                                      f"{res.kind} {meta.get('namespace') or ''}/{meta.get('name')} existed "
                                      f"without verno's labels and is now synchronized by this policy",
                                      involved=self.involved(policy.key))
        pair = (res.api_version, res.kind)
        self.kinds.add(pair)
        if policy.synchronize:
            self.watch(pair)
        log.info("downstream written", extra={"policy": policy.key, "action": written.action,
                                              "object": downstream.reference(written.obj)})
        ref = downstream.reference(written.obj)
        ref["apiVersion"], ref["kind"] = res.api_version, res.kind
        return ref

    # -- deletion -------------------------------------------------------------------------------------------
    def _delete_downstream(self, ur: dict[str, Any], key: str, policy: Any, ctx: RuleContext) -> None:
        listed = (ur.get("status") or {}).get("generatedResources")
        if policy is None and listed:
            for ref in listed:
                res = self.kube.resource(str(ref.get("apiVersion") or ""), str(ref.get("kind") or ""))
                self.deleted.add(str(ref.get("uid") or ""))
                try:
                    downstream.delete(self.kube, res, {"metadata": {"namespace": ref.get("namespace"),
                                                                    "name": ref.get("name")}})
                except APIError as exc:
                    if not exc.not_found:
                        raise
                self.metrics.writes.inc("deleted")
            return
        if policy is None:
            if self.policies.error(key):
                raise GenerateFailed(f"policy {key} does not load: {self.policies.error(key)}")
            return  # the policy is gone and named nothing to delete
        kinds = set(self.kinds) | self._kinds_for_old(ur, policy)
        base = {downstream.MANAGED_BY: "kyverno", downstream.POLICY_NAME: policy.name,
                downstream.TRIGGER_KIND: ctx.trigger.kind, downstream.TRIGGER_NAMESPACE: ctx.trigger.namespace}
        if policy.namespace:
            base[downstream.POLICY_NAMESPACE] = policy.namespace
        found = downstream.find(self.kube, sorted(kinds), {**base, downstream.TRIGGER_UID: ctx.trigger.uid}) \
            if ctx.trigger.uid else []
        if not found:
            found = downstream.find(self.kube, sorted(kinds), {**base, downstream.TRIGGER_NAME: ctx.trigger.name[:63]})
        for res, obj in found:
            labels = _meta(obj).get("labels") or {}
            if downstream.RULE_NAME in labels or labels.get(downstream.POLICY_NAMESPACE, "") != policy.namespace:
                continue  # a ClusterPolicy rule's, or another policy's of the same name
            self.deleted.add(str(_meta(obj).get("uid") or ""))
            downstream.delete(self.kube, res, obj)
            self.metrics.writes.inc("deleted")
            log.info("downstream deleted", extra={"policy": key, "object": downstream.reference(obj)})

    def _kinds_for_old(self, ur: dict[str, Any], policy: Any) -> set[tuple[str, str]]:
        """The kinds the policy generates for the admission request's old object (what it made then)."""
        admission = admission_of(ur) or {}
        old = admission.get("oldObject")
        if not isinstance(old, dict):
            return set()
        kinds = set()
        try:
            for rule in self._evaluate(policy, Request(old, None, "CREATE")):
                for obj in rule.generated_resources:
                    kinds.add((str(obj.get("apiVersion") or ""), str(obj.get("kind") or "")))
        except (VernoError, APIError) as exc:
            log.info("generated kinds of the old trigger unknown", extra={"policy": policy.key, "error": str(exc)})
        return {k for k in kinds if k[0] and k[1]}

    # -- policy events ---------------------------------------------------------------------------------------
    def on_policy(self, kind: str, key: str, new: Any, old: Any) -> None:
        if kind == "DELETED":
            if old is not None and old.synchronize and not old.orphan_downstream:
                self._policy_deleted(key, old)
            return
        if new is not None and new.generate_existing:
            self.generate_existing(key, new)

    def scan(self) -> None:
        """The periodic pass (Kyverno's background scan interval): generateExisting again for every policy
        that asks for it, so triggers missed while no controller led are generated for; and the kinds holding
        downstream objects looked for again."""
        self.find_downstream_kinds()
        for policy in self.policies.all():
            if policy is not None and policy.generate_existing:
                self.generate_existing(policy.key, policy)

    def find_downstream_kinds(self) -> None:
        """The kinds holding GeneratingPolicy downstream objects, found in the cluster (a controller that has
        just started has written none yet, and CEL decides the kinds): one labelled list of at most one object
        per served kind. Each is watched when a policy synchronizes, and deleted policies look there."""
        seen: set[tuple[str, str]] = set()
        synchronized = any(p is not None and p.synchronize for p in self.policies.all())
        for res in self.kube.resources_matching("*", "*", "*"):
            if (res.group, res.plural) in seen or self.stop_event.is_set():
                continue
            seen.add((res.group, res.plural))
            pair = (res.api_version, res.kind)
            if pair in self.kinds:
                continue
            try:
                listed = self.kube.request("GET", res.path(), {"labelSelector": GPOL_DOWNSTREAM, "limit": 1})
            except APIError:
                continue  # not listable by verno (403) or gone: nothing verno wrote there
            if listed.get("items"):
                self.kinds.add(pair)
                if synchronized:
                    self.watch(pair)

    def generate_existing(self, key: str, policy: Any) -> None:
        """Records for every existing object the policy applies to."""
        contexts: list[RuleContext] = []
        exceptions = cel_exceptions(self.kube)  # read once for the whole pass
        namespaces: dict[str, dict[str, Any]] = {}
        for res in constraint_resources(self.kube, policy):
            listed = self.kube.list(res, policy.namespace if res.namespaced else "")
            for item in listed.get("items") or []:
                item = {**item, "apiVersion": res.api_version, "kind": res.kind}
                meta = _meta(item)
                if meta.get("deletionTimestamp"):
                    continue
                try:
                    request = Request(item, None, "CREATE")
                    rules = self._evaluate(policy, request, self._inputs(request.namespace, exceptions, namespaces))
                except (VernoError, APIError) as exc:
                    log.warning("generate existing: not evaluated", extra={"policy": key, "error": str(exc)})
                    continue
                if any(r.status is not Status.SKIP for r in rules):
                    contexts.append(RuleContext(policy.name, TriggerRef.of(item), False, bool(policy.synchronize)))
        if contexts:
            log.info("generate existing", extra={"policy": key, "triggers": len(contexts)})
            self.submit(key, contexts)

    def _policy_deleted(self, key: str, old: Any) -> None:
        labels = {downstream.MANAGED_BY: "kyverno", downstream.POLICY_NAME: old.name}
        found = []
        for _, obj in downstream.find(self.kube, sorted(self.kinds), labels):
            obj_labels = _meta(obj).get("labels") or {}
            if downstream.RULE_NAME not in obj_labels and obj_labels.get(downstream.POLICY_NAMESPACE, "") == \
                    old.namespace:
                found.append(downstream.reference(obj))
        if found:
            log.info("policy deleted; deleting its downstream", extra={"policy": key, "objects": len(found)})
            self.submit(key, [RuleContext(old.name, TriggerRef("", "", "", ""), True, True)], generated=found)

    # -- synchronize ----------------------------------------------------------------------------------------
    def watch(self, pair: tuple[str, str]) -> None:
        """Watch the downstream objects of one kind (once)."""
        with self._lock:
            if pair in self.watched:
                return
            res = self.kube.resource(*pair)
            informer = Informer(self.kube, res, self._downstream_event, self.stop_event,
                                label_selector=downstream.DOWNSTREAM_SELECTOR, watch_seconds=self.watch_seconds)
            self.watched[pair] = informer
        informer.start()

    def _downstream_event(self, kind: str, obj: dict[str, Any]) -> None:
        if kind not in ("DELETED", "MODIFIED"):
            return
        meta = _meta(obj)
        labels = meta.get("labels") or {}
        if downstream.RULE_NAME in labels:
            return  # a ClusterPolicy rule's downstream (controller/triggers.py)
        if kind == "MODIFIED" and (meta.get("deletionTimestamp") or
                                   (str(meta.get("uid")), str(meta.get("resourceVersion"))) in self.written):
            return
        if kind == "DELETED" and str(meta.get("uid")) in self.deleted:
            return
        key = policy_key(labels)
        policy = self.policies.get(key)
        trigger = trigger_of(obj)
        if policy is None or not policy.synchronize or trigger is None or \
                not downstream.trigger_alive(self.kube, trigger):
            return
        log.info("downstream changed; restoring", extra={"policy": key, "event": kind,
                                                         "object": downstream.reference(obj)})
        self.submit(key, [RuleContext(policy.name, trigger, False, True)])
