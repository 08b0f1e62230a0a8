"""Autogen of CEL policies for Pod controllers (Kyverno's ``pkg/cel/autogen``).

A policy whose ``matchConstraints`` select exactly Pods (one resource rule for ``""``/``v1``/``pods``, no
resource names, no exclusions, no object selector) also applies to the controllers that create Pods. Two
variants are derived from its spec:

* ``defaults``: ``apps/v1`` daemonsets, deployments, replicasets, statefulsets and ``batch/v1`` jobs, whose
  Pod is at ``spec.template``;
* ``cronjobs``: ``batch/v1`` cronjobs, whose Pod is at ``spec.jobTemplate.spec.template``.

Each variant keeps the policy's name and kind and gets new ``matchConstraints`` (the same operations and
namespace selector, one rule per group/version). ValidatingPolicy and ImageValidatingPolicy rewrite their
whole spec as text, as Kyverno does: ``object.spec`` becomes ``object.spec.template.spec`` and
``object.metadata`` becomes ``object.spec.template.metadata`` (the same for ``oldObject``), except
``object.metadata.namespace``, which stays. Every string is rewritten, messages included.

``spec.autogen.podControllers.controllers`` chooses the controllers; a present empty list disables autogen.
"""
from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["CONTROLLERS", "eligible", "controllers_of", "pod_controller_variants", "rewrite_pod_paths"]

#: controller resource -> (group, version)
CONTROLLERS: dict[str, tuple[str, str]] = {
    "daemonsets": ("apps", "v1"),
    "deployments": ("apps", "v1"),
    "replicasets": ("apps", "v1"),
    "statefulsets": ("apps", "v1"),
    "jobs": ("batch", "v1"),
    "cronjobs": ("batch", "v1"),
}
#: the Pod template's path in each variant
TEMPLATE_PATHS = {"defaults": "spec.template", "cronjobs": "spec.jobTemplate.spec.template"}

_PATH = re.compile(r"(oldObject|object)\.(spec|metadata)(?!\.namespace\b)")


def eligible(match_constraints: Mapping[str, Any] | None) -> bool:
    """Whether ``matchConstraints`` select exactly Pods, as Kyverno requires for autogen."""
    if not match_constraints:
        return False
    rules = match_constraints.get("resourceRules") or []
    if len(rules) != 1 or match_constraints.get("excludeResourceRules"):
        return False
    selector = match_constraints.get("objectSelector") or {}
    if selector.get("matchLabels") or selector.get("matchExpressions"):
        return False
    rule = rules[0]
    return (list(rule.get("apiGroups") or []) == [""] and list(rule.get("apiVersions") or []) == ["v1"]
            and list(rule.get("resources") or []) == ["pods"] and not rule.get("resourceNames"))


def controllers_of(spec: Mapping[str, Any]) -> list[str]:
    """The controllers autogen covers: ``spec.autogen.podControllers.controllers`` if present, else all."""
    pod_controllers = ((spec.get("autogen") or {}).get("podControllers") or {})
    if "controllers" in pod_controllers and pod_controllers["controllers"] is not None:
        return [c for c in pod_controllers["controllers"] if c in CONTROLLERS]
    return list(CONTROLLERS)


def rewrite_pod_paths(text: str, variant: str) -> str:
    """``object.spec``/``object.metadata`` (and ``oldObject.*``) moved under the variant's Pod template."""
    template = TEMPLATE_PATHS[variant]
    return _PATH.sub(lambda m: f"{m.group(1)}.{template}.{m.group(2)}", text)


def _match_constraints(original: Mapping[str, Any], resources: Iterable[str]) -> dict[str, Any]:
    rule = (original.get("resourceRules") or [{}])[0]
    by_gv: dict[tuple[str, str], list[str]] = {}
    for resource in resources:
        by_gv.setdefault(CONTROLLERS[resource], []).append(resource)
    rules = []
    for (group, version), names in by_gv.items():
        new_rule: dict[str, Any] = {"apiGroups": [group], "apiVersions": [version], "resources": names}
        if rule.get("operations"):
            new_rule["operations"] = list(rule["operations"])
        if rule.get("scope"):
            new_rule["scope"] = rule["scope"]
        rules.append(new_rule)
    out: dict[str, Any] = {"resourceRules": rules}
    if original.get("namespaceSelector"):
        out["namespaceSelector"] = copy.deepcopy(original["namespaceSelector"])
    return out


def pod_controller_variants(spec: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """``[(config, spec)]`` for the ``defaults`` and ``cronjobs`` variants of a Pod policy's spec (empty
    when the policy is not eligible or autogen is disabled)."""
    constraints = spec.get("matchConstraints")
    if not eligible(constraints):
        return []
    controllers = controllers_of(spec)
    out: list[tuple[str, dict[str, Any]]] = []
    groups = [("defaults", [c for c in controllers if c != "cronjobs"]),
              ("cronjobs", [c for c in controllers if c == "cronjobs"])]
    body = {k: v for k, v in spec.items() if k != "matchConstraints"}
    text = json.dumps(body)
    for config, resources in groups:
        if not resources:
            continue
        variant = json.loads(rewrite_pod_paths(text, config))
        variant["matchConstraints"] = _match_constraints(constraints, resources)  # type: ignore[arg-type]
        out.append((config, variant))
    return out
