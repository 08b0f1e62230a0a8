"""``verno migrate``: kyverno.io/v1 ClusterPolicies and Policies written as the equivalent CEL policies.

Each rule becomes one policy of the CEL kind that replaces it (a validate rule a ValidatingPolicy named
``<policy>-<rule>``, a generate rule a GeneratingPolicy), so that each keeps its own match. Rule kinds are
translated by plugins through ``verno_migrate_rule`` (the built-in ones: :mod:`.rules`); what the rule's
``match``/``exclude`` say is translated here (:mod:`.match`). A rule no plugin can translate is left out with
the reason, never half-translated.
"""
from __future__ import annotations

import re
from typing import Any

from verno.core.migration.expressions import Untranslatable
from verno.core.migration.match import translate_match
from verno.core.migration.model import Migration, RuleMigration

__all__ = ["Migration", "RuleMigration", "Untranslatable", "migrate_policy"]

GROUP_VERSION = "policies.kyverno.io/v1"
_CARRIED = ("policies.kyverno.io/title", "policies.kyverno.io/category", "policies.kyverno.io/severity",
            "policies.kyverno.io/description", "policies.kyverno.io/subject", "policies.kyverno.io/scored")
_AUTOGEN = "pod-policies.kyverno.io/autogen-controllers"
_CONTROLLERS = {"DaemonSet": "daemonsets", "Deployment": "deployments", "Job": "jobs", "StatefulSet": "statefulsets",
                "ReplicaSet": "replicasets", "CronJob": "cronjobs"}


def _name(policy: str, rule: str) -> str:
    name = re.sub(r"[^a-z0-9.-]+", "-", f"{policy}-{rule}".lower()).strip("-.")
    return name[:253] or "migrated"


def _document(policy: Any, rule: Any, translated: RuleMigration) -> dict[str, Any]:
    match = translate_match(rule, translated.default_operations)
    kind = translated.kind if policy.kind == "ClusterPolicy" else f"Namespaced{translated.kind}"
    annotations = {k: v for k, v in (policy.metadata.annotations or {}).items() if k in _CARRIED}
    metadata: dict[str, Any] = {"name": _name(policy.name, rule.name)}
    if policy.kind == "Policy":
        metadata["namespace"] = policy.metadata.namespace or "default"
    if annotations:
        metadata["annotations"] = annotations
    conditions = [*match.conditions, *translated.match_conditions]
    spec: dict[str, Any] = {"matchConstraints": match.constraints}
    if conditions:
        spec["matchConditions"] = [{"name": n if n not in [m[0] for m in conditions[:i]] else f"{n}-{i}",
                                    "expression": e} for i, (n, e) in enumerate(conditions)]
    spec.update(translated.spec)
    controllers = (policy.metadata.annotations or {}).get(_AUTOGEN)
    if controllers is not None and translated.kind in ("ValidatingPolicy", "ImageValidatingPolicy", "MutatingPolicy"):
        names = [] if controllers.strip() == "none" else \
            [_CONTROLLERS[c.strip()] for c in controllers.split(",") if c.strip() in _CONTROLLERS]
        spec["autogen"] = {"podControllers": {"controllers": names}}
    return {"apiVersion": GROUP_VERSION, "kind": kind, "metadata": metadata, "spec": spec}


def migrate_policy(engine: Any, policy: Any, source: str = "") -> Migration:
    """The CEL policies of ``policy`` (a loaded :class:`~verno.core.models.policy.Policy`)."""
    out = Migration(source, policy.name)
    for rule in policy.spec.rules:
        try:
            translated = engine.pm.hook.verno_migrate_rule(policy=policy, rule=rule)
            if translated is None:
                raise Untranslatable(f"no translation for {rule.kind} rules")
            doc = _document(policy, rule, translated)
        except Untranslatable as exc:
            out.untranslated.append((rule.name, str(exc)))
            continue
        out.documents.append(doc)
        out.names[rule.name] = doc["metadata"]["name"]
    return out
