"""core/v1 Events on policies: what the controller could not do (a 403 names verb, kind and namespace) or did
that a user should know (an existing object taken over). Events of a ClusterPolicy go to ``default``, as
Kubernetes records events of cluster-scoped objects."""
from __future__ import annotations

import datetime as dt
import logging

from verno.controller.kube import APIError, Kube

log = logging.getLogger("verno.controller.events")

COMPONENT = "verno-controller"


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class EventRecorder:
    def __init__(self, kube: Kube):
        self.kube = kube

    def policy_warning(self, policy_key: str, message: str, reason: str = "PolicyError", *,
                       involved: tuple[str, str] | None = None) -> None:
        """``involved``: (apiVersion, kind) of a policy other than a ClusterPolicy/Policy (a DeletingPolicy)."""
        self._record(policy_key, "Warning", reason, message, involved)

    def policy_normal(self, policy_key: str, reason: str, message: str, *,
                      involved: tuple[str, str] | None = None) -> None:
        self._record(policy_key, "Normal", reason, message, involved)

    def _record(self, policy_key: str, type_: str, reason: str, message: str,
                involved: tuple[str, str] | None = None) -> None:
        namespace, _, name = policy_key.rpartition("/")
        api_version, kind = involved or ("kyverno.io/v1", "Policy" if namespace else "ClusterPolicy")
        event_ns = namespace or "default"
        now = _now()
        body = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"generateName": f"{name}.", "namespace": event_ns},
            "involvedObject": {"apiVersion": api_version, "kind": kind, "name": name,
                               **({"namespace": namespace} if namespace else {})},
            "reason": reason, "message": message[:1024], "type": type_,
            "source": {"component": COMPONENT}, "reportingComponent": COMPONENT,
            "firstTimestamp": now, "lastTimestamp": now, "count": 1,
        }
        try:
            self.kube.create(self.kube.resource("v1", "Event"), event_ns, body)
        except APIError as exc:  # an event is best effort: logged either way
            log.warning("event not recorded", extra={"policy": policy_key, "error": str(exc)})
        level = logging.WARNING if type_ == "Warning" else logging.INFO
        log.log(level, "policy event", extra={"policy": policy_key, "reason": reason, "event_message": message})
