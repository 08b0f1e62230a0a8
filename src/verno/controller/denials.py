"""The 403s the controller met while writing each policy's downstream objects, for the policy's status.

The generator records a denied (verb, kind, namespace) and, after a write of the policy succeeds, the verbs it
was allowed; the status writer reads the set when it builds the ``PermissionDenied`` condition. A policy has
an entry once a write of it was denied or allowed since this process started (None: nothing known, the
condition on the policy is kept as it is); an empty entry means every denial was since allowed. At most
``MAX_PER_POLICY`` denials are remembered per policy (the oldest go first); a deleted policy's entry goes.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Callable

#: denials remembered per policy
MAX_PER_POLICY = 16

Denial = tuple[str, str, str]  # verb, kind, namespace ("" at the cluster scope)


def describe(denial: Denial) -> str:
    verb, kind, namespace = denial
    where = f"in namespace {namespace}" if namespace else "at the cluster scope"
    return f"verno lacks permission to {verb} {kind} {where}"


class Denials:
    def __init__(self) -> None:
        self._by_policy: dict[str, OrderedDict[Denial, None]] = {}
        self._lock = threading.Lock()
        #: called with a policy key (``name`` or ``namespace/name``) when its set changed
        self.listeners: list[Callable[[str], None]] = []

    def denied(self, policy: str, verb: str, kind: str, namespace: str) -> None:
        denial = (verb, kind, namespace)
        with self._lock:
            entry = self._by_policy.setdefault(policy, OrderedDict())
            changed = denial not in entry
            entry[denial] = None
            entry.move_to_end(denial)
            while len(entry) > MAX_PER_POLICY:
                entry.popitem(last=False)
        if changed:
            self._notify(policy)

    def allowed(self, policy: str, verbs: tuple[str, ...], kind: str, namespace: str) -> None:
        with self._lock:
            entry = self._by_policy.get(policy)
            if entry is None:
                self._by_policy[policy] = OrderedDict()
                changed = True
            else:
                gone = [d for d in entry if d[0] in verbs and d[1] == kind and d[2] == namespace]
                for denial in gone:
                    del entry[denial]
                changed = bool(gone)
        if changed:
            self._notify(policy)

    def of(self, policy: str) -> list[Denial] | None:
        """The policy's remembered denials, oldest first; None when nothing is known of it."""
        with self._lock:
            entry = self._by_policy.get(policy)
            return None if entry is None else list(entry)

    def forget(self, policy: str) -> None:
        with self._lock:
            self._by_policy.pop(policy, None)

    def _notify(self, policy: str) -> None:
        for listener in list(self.listeners):
            listener(policy)
