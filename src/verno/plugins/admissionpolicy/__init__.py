"""The built-in ``admissionregistration.k8s.io`` ValidatingAdmissionPolicy kind (with its bindings).

Offline it behaves as Kyverno's CLI evaluates VAPs; at admission as the Kubernetes API server does
(see :mod:`verno.plugins.admissionpolicy.policy`).
"""
from __future__ import annotations

from verno.core.hookspecs import hookimpl
from verno.core.policykinds import PolicyKind

from verno.plugins.admissionpolicy.policy import BINDING, GROUP, KIND, check_binding, load_policy

POLICY_KIND = PolicyKind(GROUP, frozenset({KIND}), "validating-admission-policy", load_policy,
                         companions=frozenset({BINDING}), check_companion=check_binding)


@hookimpl
def verno_register_policy_kinds(register):
    register(POLICY_KIND)
