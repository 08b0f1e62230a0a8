"""What a rule translation hands back (``verno_migrate_rule``), and what a policy's migration is."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Migration", "RuleMigration"]


@dataclass
class RuleMigration:
    """One rule written as a CEL policy: its ``kind`` (``ValidatingPolicy``, ``GeneratingPolicy`` ...), the
    ``spec`` fields besides matching, and match conditions the rule's own semantics need (preconditions,
    top-level anchors) as ``(name, expression)``."""

    kind: str
    spec: dict[str, Any]
    match_conditions: list[tuple[str, str]] = field(default_factory=list)
    #: the operations the migrated policy is registered for when the rule names none
    default_operations: list[str] = field(default_factory=lambda: ["CREATE", "UPDATE"])


@dataclass
class Migration:
    """The CEL policies of one ClusterPolicy/Policy, and what could not be translated."""

    source: str
    policy: str
    documents: list[dict[str, Any]] = field(default_factory=list)
    #: (rule, why) for each rule left out
    untranslated: list[tuple[str, str]] = field(default_factory=list)
    #: original rule name -> the migrated policy's name
    names: dict[str, str] = field(default_factory=dict)

    @property
    def whole(self) -> bool:
        return not self.untranslated
