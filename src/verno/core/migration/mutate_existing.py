"""``mutate.targets`` (mutateExisting) written as a MutatingPolicy's ``targetMatchConstraints`` and
``targetMatchConditions``.

Kyverno (K: ``load_targets.go``) selects, for each target entry, the known resources of its apiVersion and
kind whose namespace and name match the entry's (wildcards; empty: any), whose uid is the entry's and whose
labels its ``selector`` selects (a namespaced Policy only reaches its own namespace); then, per target, its
``preconditions`` with ``target`` the target, and the rule's patch applied to the target. In a MutatingPolicy
with ``evaluation.mutateExisting.enabled`` the targets are the resources ``targetMatchConstraints`` selects
(its resource rules; operations ignored) and ``targetMatchConditions`` keeps (``object`` the target), and
the mutations see ``object`` as the target.

One target entry with literal fields translates; variables in the entry, target ``context`` entries, target
preconditions that can fail on a missing key, and patches that read the trigger (``request.object``, ``@``)
raise :class:`Untranslatable`.
"""
from __future__ import annotations

import json
import re
from typing import Any

from verno.core.kinds import kind_entries
from verno.core.migration.errors import Untranslatable
from verno.core.migration.expressions import condition_block
from verno.core.migration.jmespath_cel import Scope
from verno.core.migration.literals import glob_regex

__all__ = ["check_patch_reads_only_the_target", "target_selection"]


def _matches(field: str, pattern: str) -> str:
    if any(c in pattern for c in "*?"):
        return f"string({field}).matches({json.dumps(glob_regex(pattern))})"
    return f"{field} == {json.dumps(pattern)}"


def check_patch_reads_only_the_target(mutate: Any) -> None:
    """A patch of a mutateExisting rule may read ``target`` only: the mutations' ``object`` is the target."""
    text = json.dumps([mutate.patch_strategic_merge, mutate.patches_json6902])
    for m in re.finditer(r"\{\{(.*?)\}\}", text):
        if re.search(r"(?<![A-Za-z0-9_])(request|@)", m.group(1)):
            raise Untranslatable(f"the mutateExisting patch variable {{{{{m.group(1).strip()}}}}} (the mutations of a "
                                 "MutatingPolicy see only the target)")


def target_selection(policy: Any, rule: Any, scope: Scope) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """(``targetMatchConstraints``, ``targetMatchConditions``) for the rule's one target entry."""
    targets = rule.mutate.targets
    if len(targets) != 1:
        raise Untranslatable("several mutateExisting targets (a MutatingPolicy has one target selection)")
    [t] = targets
    fields = [t.api_version, t.kind, t.namespace, t.name, t.uid]
    if any("{{" in f for f in fields) or (t.selector is not None and "{{" in json.dumps(
            t.selector.model_dump(by_alias=True, exclude_none=True))):
        raise Untranslatable("variables in a mutateExisting target")
    if t.context:
        raise Untranslatable("context entries in a mutateExisting target")
    if not t.kind or not t.api_version or any(c in t.kind + t.api_version for c in "*?"):
        raise Untranslatable("a mutateExisting target without a literal apiVersion and kind")
    group, version, resource, _ = kind_entries(f"{t.api_version}/{t.kind}")
    if f"{group}/{version}".lstrip("/") != t.api_version:
        raise Untranslatable(f"the mutateExisting target apiVersion {t.api_version!r} (not the kind's)")
    constraints: dict[str, Any] = {"resourceRules": [{"apiGroups": [group], "apiVersions": [version],
                                                      "operations": ["*"], "resources": [resource]}]}
    if t.selector is not None:
        constraints["objectSelector"] = t.selector.model_dump(by_alias=True, exclude_none=True)
    conditions: list[dict[str, str]] = []
    namespace = policy.metadata.namespace if policy.kind == "Policy" else ""
    namespace = namespace or t.namespace
    if namespace:
        conditions.append({"name": "target-namespace", "expression": _matches("object.metadata[?\"namespace\"]"
                                                                              ".orValue(\"\")", namespace)})
    if t.name:
        conditions.append({"name": "target-name", "expression": _matches("object.metadata.name", t.name)})
    if t.uid:
        conditions.append({"name": "target-uid", "expression": f"object.metadata[?\"uid\"].orValue(\"\") == "
                                                               f"{json.dumps(t.uid)}"})
    if t.preconditions is not None:
        strict = Scope({**scope.names, "target": "object"}, None, scope.counter, [])
        expression = condition_block(t.preconditions, strict)
        if strict.errors:
            raise Untranslatable("mutateExisting target preconditions that read a key that may be missing")
        conditions.append({"name": "target-preconditions", "expression": expression})
    return constraints, conditions
