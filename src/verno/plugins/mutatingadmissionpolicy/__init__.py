"""The built-in ``admissionregistration.k8s.io`` MutatingAdmissionPolicy kind (with its bindings), at stage
``mutating-admission-policy``.

Offline it behaves as Kyverno's CLI evaluates MAPs; at admission as the Kubernetes API server does
(see :mod:`verno.plugins.mutatingadmissionpolicy.policy`).
"""
from __future__ import annotations

from typing import Any

from verno.core.hookspecs import hookimpl
from verno.core.policykinds import PolicyKind

from verno.plugins.mutatingadmissionpolicy.policy import BINDING, GROUP, KIND, check_binding, load_policy

POLICY_KIND = PolicyKind(GROUP, frozenset({KIND}), "mutating-admission-policy", load_policy,
                         companions=frozenset({BINDING}), check_companion=check_binding)


@hookimpl
def verno_register_policy_kinds(register: Any) -> None:
    register(POLICY_KIND)
