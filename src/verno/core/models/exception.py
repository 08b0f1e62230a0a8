"""PolicyException (kyverno.io/v2, v2beta1)."""
from __future__ import annotations

from typing import Any, Literal

from verno.core.models.base import Metadata, Model
from verno.core.models.conditions import AnyAllConditions
from verno.core.models.match import MatchResources


class Exception_(Model):
    policy_name: str
    rule_names: list[str]


class ExceptionSpec(Model):
    background: bool = True
    match: MatchResources
    conditions: AnyAllConditions | None = None
    exceptions: list[Exception_]
    pod_security: list[dict[str, Any]] | None = None


class PolicyException(Model):
    api_version: Literal["kyverno.io/v2", "kyverno.io/v2beta1", "kyverno.io/v2alpha1"]
    kind: Literal["PolicyException"]
    metadata: Metadata
    spec: ExceptionSpec

    @property
    def key(self) -> str:
        ns = self.metadata.namespace
        return f"{ns}/{self.metadata.name}" if ns else self.metadata.name

    def applies_to(self, policy_key: str, rule_name: str) -> bool:
        """Whether this exception names the policy (``name`` or ``ns/name``) and the rule.

        A rule name matches itself and the autogen rules derived from it.
        """
        from verno.core.wildcard import match as wildcard

        for exc in self.spec.exceptions:
            if not wildcard(exc.policy_name, policy_key):
                continue
            for name in exc.rule_names:
                for candidate in (rule_name, _base_rule_name(rule_name)):
                    if wildcard(name, candidate):
                        return True
        return False


def _base_rule_name(rule_name: str) -> str:
    for prefix in ("autogen-cronjob-", "autogen-"):
        if rule_name.startswith(prefix):
            return rule_name[len(prefix):]
    return rule_name
