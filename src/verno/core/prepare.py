"""Turning a loaded policy into what the pipeline runs: autogen rules, compiled matchers, hooks.

Everything here happens once per policy load, never per resource.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from verno.core.hookspecs import RULE_HOOKS
from verno.core.models.policy import Policy, Rule

if TYPE_CHECKING:  # pragma: no cover
    from verno.core.match import RuleMatcher


@dataclass
class PreparedRule:
    rule: Rule
    #: the name results carry (``autogen-<rule>`` for a generated controller rule)
    name: str
    #: the rule as written in the policy (Values and exceptions refer to it)
    base_name: str
    kind: str
    hook: str
    matcher: RuleMatcher
    #: whether a PASS with a patched resource changes the resource later rules see (a mutateExisting rule
    #: patches its targets; the trigger itself stays as it is)
    chains: bool = True
    #: what rule-kind plugins compiled for this rule at load (``verno_prepare_rule``), by plugin key
    compiled: dict[str, Any] = field(default_factory=dict)


@dataclass
class PreparedPolicy:
    policy: Policy
    rules: list[PreparedRule] = field(default_factory=list)
    #: rule kinds present, for skipping whole phases quickly
    kinds: frozenset[str] = frozenset()
    source: str = ""
    #: whether any rule refers to the ``images`` variable (it is only computed for such policies)
    uses_images: bool = False
    #: rule kind -> its rules, in policy order
    by_kind: dict[str, list[PreparedRule]] = field(default_factory=dict)
    _candidates: dict[tuple[str, str], list[PreparedRule]] = field(default_factory=dict, init=False, repr=False,
                                                                  compare=False)

    @property
    def name(self) -> str:
        return self.policy.name

    def rules_of(self, kind: str) -> list[PreparedRule]:
        return self.by_kind.get(kind, [])

    def candidates(self, phase: str, resource_kind: str) -> list[PreparedRule]:
        """The rules of ``phase`` whose match could select a plain resource of ``resource_kind``.

        Rules naming only other plain kinds are left out; the list is computed once per kind.
        """
        key = (phase, resource_kind)
        found = self._candidates.get(key)
        if found is None:
            found = [r for r in self.by_kind.get(phase, ())
                     if r.matcher.kinds is None or resource_kind in r.matcher.kinds]
            self._candidates[key] = found
        return found


def prepare_policy(policy: Policy, source: str = "") -> PreparedPolicy:
    from verno.core.autogen import expand_rules
    from verno.core.match import RuleMatcher

    prepared = PreparedPolicy(policy, source=source)
    for rule, base_name in expand_rules(policy):
        kind = rule.kind
        prepared.rules.append(
            PreparedRule(rule, rule.name, base_name, kind, RULE_HOOKS[kind], RuleMatcher(rule, policy),
                         chains=not (rule.mutate is not None and rule.mutate.targets))
        )
    prepared.kinds = frozenset(r.kind for r in prepared.rules)
    for r in prepared.rules:
        prepared.by_kind.setdefault(r.kind, []).append(r)
    prepared.uses_images = any("images" in r.rule.model_dump_json(by_alias=True, exclude_none=True)
                               for r in prepared.rules)
    return prepared
