"""``validate.podSecurity``: the Pod Security Standards, evaluated as Kyverno's fork of
pod-security-admission does (15 controls, baseline and restricted, versioned checks, exclusions)."""
from __future__ import annotations

from verno.plugins.validate.podsecurity.handler import validate_pod_security

__all__ = ["validate_pod_security"]
