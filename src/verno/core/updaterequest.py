"""The hand-off record between the admission webhook and the controller: Kyverno's ``kyverno.io/v2``
UpdateRequest (generate and mutate requests), as plain dicts.

The webhook writes one for each admission request a generate rule is concerned with, and one per
mutateExisting rule (``mutate.targets``) the request matches; the controller writes them for policy events
and downstream changes; the controller's workers process them. Only the shape lives
here (no API access), so both sides agree on it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

GROUP = "kyverno.io"
VERSION = "v2"
API_VERSION = f"{GROUP}/{VERSION}"
KIND = "UpdateRequest"
PLURAL = "updaterequests"
#: label naming the policy of a generate request (the name only, also for a namespaced Policy)
POLICY_LABEL = "generate.kyverno.io/policy-name"

#: labels of a mutate request (Kyverno's): policy name, trigger name (63 characters at most), namespace, kind
#: and apiVersion (``/`` written ``-``)
MUTATE_PREFIX = "mutate.updaterequest.kyverno.io/"
MUTATE_POLICY_LABEL = MUTATE_PREFIX + "policy-name"
#: ``spec.requestType`` values (``cel-generate``: a ``policies.kyverno.io`` GeneratingPolicy's, whose
#: ``spec.policy`` is ``name`` or, for a NamespacedGeneratingPolicy, ``namespace/name``)
GENERATE, MUTATE, CEL_GENERATE = "generate", "mutate", "cel-generate"
#: a MutatingPolicy's mutateExisting for one trigger (``spec.policy`` the policy's key, ``spec.rule`` empty)
CEL_MUTATE = "cel-mutate"

PENDING, COMPLETED, FAILED = "Pending", "Completed", "Failed"
#: retries before a failing request is given up (Kyverno: "retry up to three times")
MAX_RETRIES = 3


@dataclass(frozen=True)
class TriggerRef:
    api_version: str
    kind: str
    namespace: str
    name: str
    uid: str = ""

    @classmethod
    def of(cls, obj: dict[str, Any]) -> "TriggerRef":
        meta = obj.get("metadata") or {}
        return cls(str(obj.get("apiVersion") or ""), str(obj.get("kind") or ""), str(meta.get("namespace") or ""),
                   str(meta.get("name") or ""), str(meta.get("uid") or ""))

    @classmethod
    def from_dict(cls, doc: dict[str, Any] | None) -> "TriggerRef":
        doc = doc or {}
        return cls(str(doc.get("apiVersion") or ""), str(doc.get("kind") or ""), str(doc.get("namespace") or ""),
                   str(doc.get("name") or ""), str(doc.get("uid") or ""))

    def to_dict(self) -> dict[str, str]:
        return {"apiVersion": self.api_version, "kind": self.kind, "namespace": self.namespace,
                "name": self.name, "uid": self.uid}


@dataclass(frozen=True)
class RuleContext:
    """One rule's work for one trigger (Kyverno's ``ruleContext`` entry)."""

    rule: str
    trigger: TriggerRef
    delete_downstream: bool = False
    synchronize: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "deleteDownstream": self.delete_downstream, "synchronize": self.synchronize,
                "trigger": self.trigger.to_dict(), "cacheRestore": False}

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> "RuleContext":
        return cls(str(doc.get("rule") or ""), TriggerRef.from_dict(doc.get("trigger")),
                   bool(doc.get("deleteDownstream")), bool(doc.get("synchronize")))


def policy_key(name: str, namespace: str = "") -> str:
    """``name`` for a ClusterPolicy, ``namespace/name`` for a Policy."""
    return f"{namespace}/{name}" if namespace else name


def generate_request(policy: str, contexts: list[RuleContext], namespace: str, *,
                     admission_request: dict[str, Any] | None = None,
                     generated: list[dict[str, str]] | None = None,
                     kind: str = GENERATE) -> dict[str, Any]:
    """A generate UpdateRequest for ``policy`` (its key) in ``namespace`` (the controller's).

    ``kind`` is the ``requestType``: ``generate`` (a ClusterPolicy's or Policy's rules) or ``cel-generate``
    (a GeneratingPolicy's; its one rule context names the policy as its rule).

    ``admission_request`` is the AdmissionRequest that caused it (absent for policy and downstream events);
    ``generated`` prefills ``status.generatedResources`` (a policy deletion names what to delete).
    """
    name = policy.rpartition("/")[2]
    user = (admission_request or {}).get("userInfo") or {}
    context: dict[str, Any] = {"userInfo": {"roles": [], "clusterRoles": [], "userInfo": user}}
    if admission_request is not None:
        context["admissionRequestInfo"] = {"admissionRequest": admission_request,
                                           "operation": admission_request.get("operation") or ""}
    body: dict[str, Any] = {
        "apiVersion": API_VERSION, "kind": KIND,
        "metadata": {"generateName": "ur-", "namespace": namespace, "labels": {POLICY_LABEL: name[:63]}},
        "spec": {"requestType": kind, "policy": policy, "rule": "", "resource": {},
                 "ruleContext": [c.to_dict() for c in contexts], "context": context},
    }
    if generated is not None:
        body["status"] = {"state": PENDING, "generatedResources": generated}
    return body


def contexts_of(ur: dict[str, Any]) -> list[RuleContext]:
    return [RuleContext.from_dict(c) for c in ((ur.get("spec") or {}).get("ruleContext") or [])
            if isinstance(c, dict)]


def state_of(ur: dict[str, Any]) -> str:
    """The record's state; one that never got a status is Pending."""
    return str((ur.get("status") or {}).get("state") or PENDING)


def admission_of(ur: dict[str, Any]) -> dict[str, Any] | None:
    info = ((ur.get("spec") or {}).get("context") or {}).get("admissionRequestInfo") or {}
    request = info.get("admissionRequest")
    return request if isinstance(request, dict) else None


def awaiting_status(ur: dict[str, Any]) -> bool:
    """A policy-deletion request (its contexts name no trigger) whose ``status.generatedResources`` was not
    written yet: the create and the status write are two requests, and it must not run in between."""
    contexts = contexts_of(ur)
    if not contexts or not all(c.delete_downstream and not c.trigger.kind for c in contexts):
        return False
    return "generatedResources" not in (ur.get("status") or {})


def _label_value(text: str) -> str:
    """``text`` as a label value: at most 63 characters, ending in an alphanumeric."""
    text = text[:63]
    while text and not text[-1].isalnum():
        text = text[:-1]
    return text


def mutate_labels(policy: str, trigger: TriggerRef) -> dict[str, str]:
    """The labels of a mutate request: what tells one (policy, trigger) apart."""
    return {MUTATE_POLICY_LABEL: _label_value(policy.rpartition("/")[2]),
            MUTATE_PREFIX + "trigger-name": _label_value(trigger.name),
            MUTATE_PREFIX + "trigger-namespace": _label_value(trigger.namespace),
            MUTATE_PREFIX + "trigger-kind": _label_value(trigger.kind),
            MUTATE_PREFIX + "trigger-apiversion": _label_value(trigger.api_version.replace("/", "-"))}


def mutate_request(policy: str, rule: str, trigger: TriggerRef, namespace: str, *,
                   admission_request: dict[str, Any] | None = None) -> dict[str, Any]:
    """A mutate UpdateRequest: one mutateExisting ``rule`` of ``policy`` (its key) for one trigger, in
    ``namespace`` (the controller's); ``admission_request`` as for :func:`generate_request`."""
    body = generate_request(policy, [], namespace, admission_request=admission_request)
    body["metadata"]["labels"] = mutate_labels(policy, trigger)
    body["spec"].update(requestType=MUTATE, rule=rule, resource=trigger.to_dict())
    del body["spec"]["ruleContext"]
    return body


def cel_mutate_request(policy: str, trigger: TriggerRef, namespace: str, *,
                       admission_request: dict[str, Any] | None = None) -> dict[str, Any]:
    """A ``cel-mutate`` UpdateRequest: a MutatingPolicy's (``policy`` its key, ``namespace/name`` for a
    NamespacedMutatingPolicy) mutateExisting for one trigger; the labels as for :func:`mutate_request`."""
    body = mutate_request(policy, "", trigger, namespace, admission_request=admission_request)
    body["spec"]["requestType"] = CEL_MUTATE
    return body


def request_type(ur: dict[str, Any]) -> str:
    return str((ur.get("spec") or {}).get("requestType") or GENERATE)


def resource_of(ur: dict[str, Any]) -> TriggerRef:
    """The trigger of a mutate request (``spec.resource``)."""
    return TriggerRef.from_dict((ur.get("spec") or {}).get("resource"))
