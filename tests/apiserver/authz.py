"""Denials a test sets (`APIServer.deny`): the stand-in has no RBAC, so a test that needs a 403 names the verb,
resource and namespace to refuse, and the reply is the API server's own Forbidden Status."""
from __future__ import annotations

import threading
from dataclasses import dataclass

from .status import APIError, forbidden


@dataclass(frozen=True)
class Denial:
    verb: str
    group: str
    plural: str
    namespace: str = ""  # "" = every namespace (and the cluster scope)
    user: str = ""  # "" = every user


def verb_of(method: str, name: str, watch: bool) -> str:
    if method == "GET":
        return "get" if name else ("watch" if watch else "list")
    if method == "DELETE":
        return "delete" if name else "deletecollection"
    return {"POST": "create", "PUT": "update", "PATCH": "patch"}.get(method, method.lower())


class Authorizer:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.denials: list[Denial] = []

    def deny(self, verb: str, group: str, plural: str, namespace: str = "", user: str = "") -> Denial:
        denial = Denial(verb, group, plural, namespace, user)
        with self._lock:
            self.denials.append(denial)
        return denial

    def allow(self, denial: Denial) -> None:
        with self._lock:
            self.denials = [d for d in self.denials if d != denial]

    def denial(self, user: str, verb: str, group: str, plural: str, namespace: str) -> str | None:
        """The API server's reason when ``user`` may not ``verb`` ``group``/``plural`` in ``namespace``."""
        with self._lock:
            denials = list(self.denials)
        for d in denials:
            if (d.verb == verb and d.group == group and d.plural == plural and d.namespace in ("", namespace)
                    and d.user in ("", user)):
                where = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
                return f'User "{user}" cannot {verb} resource "{plural}" in API group "{group}" {where}'
        return None

    def check(self, user: str, verb: str, group: str, plural: str, namespace: str, name: str) -> None:
        reason = self.denial(user, verb, group, plural, namespace)
        if reason is not None:
            raise forbidden(plural, group, name, reason)

    def review(self, review: dict) -> dict:
        """A SubjectAccessReview answered: allowed unless a denial set by the test covers it (the stand-in
        has no RBAC of its own; a non-resource path is always allowed)."""
        spec = review.get("spec") or {}
        attrs = spec.get("resourceAttributes")
        reason = None
        if attrs is not None:
            reason = self.denial(str(spec.get("user") or ""), str(attrs.get("verb") or ""),
                                 str(attrs.get("group") or ""), str(attrs.get("resource") or ""),
                                 str(attrs.get("namespace") or ""))
        status = {"allowed": reason is None}
        if reason is not None:
            status["reason"] = reason
        return {**review, "metadata": review.get("metadata") or {}, "status": status}
