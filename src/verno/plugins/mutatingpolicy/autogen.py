"""Autogen of a MutatingPolicy for Pod controllers (Kyverno's ``pkg/cel/policies/mpol/autogen``).

A policy eligible for autogen (see :mod:`verno.core.cel.autogen`) also mutates the controllers that create
Pods. Unlike a ValidatingPolicy, only the ``matchConditions`` and the ApplyConfiguration expressions are
rewritten, as text, as Kyverno does: ``object.spec``/``Object.spec`` move under the Pod template's spec,
``object.metadata.labels``/``annotations`` (and ``Object.*``) under its metadata, and an expression that
starts with ``Object{`` has its fields wrapped into the template (``Object{spec: Object.spec{template:
Object.spec.template{...}}}``). JSONPatch expressions are left as written. The variants' constraints select
the controllers with the policy's operations only.
"""
from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

__all__ = ["convert_expression", "rewrite_for_controllers"]

_TEMPLATES = {
    "defaults": ("spec.template", "Object{spec: Object.spec{template: Object.spec.template{", "}}}"),
    "cronjobs": ("spec.jobTemplate.spec.template",
                 "Object{spec: Object.spec{jobTemplate: Object.spec.jobTemplate{spec: Object.spec.jobTemplate.spec"
                 "{template: Object.spec.jobTemplate.spec.template{", "}}}}}"),
}


def convert_expression(expression: str, config: str) -> str:
    """A Pod expression rewritten for the controllers of ``config`` (``defaults`` or ``cronjobs``)."""
    template, wrapper, closing = _TEMPLATES[config]
    for root in ("object", "Object"):
        expression = expression.replace(f"{root}.spec", f"{root}.{template}.spec")
    for root in ("object", "Object"):
        for part in ("labels", "annotations"):
            expression = expression.replace(f"{root}.metadata.{part}", f"{root}.{template}.metadata.{part}")
    stripped = expression.strip()
    if not stripped.startswith("Object{"):
        return expression
    content = stripped[len("Object{"):]
    depth = 1
    for i, char in enumerate(content):
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                if i == 0:
                    return expression
                return wrapper + content[:i] + closing + content[i + 1:]
    return expression


def rewrite_for_controllers(spec: dict[str, Any],
                            variants: Callable[[dict[str, Any]], list[tuple[str, dict[str, Any]]]]) \
        -> list[tuple[str, dict[str, Any]]]:
    """``[(config, spec)]`` of the controller variants; ``variants`` gives the core's (whose constraints
    are kept; their text rewriting is the ValidatingPolicy's, not used here)."""
    out = []
    for config, generic in variants(spec):
        variant = copy.deepcopy(spec)
        constraints = dict(generic["matchConstraints"])
        constraints.pop("namespaceSelector", None)
        variant["matchConstraints"] = constraints
        for condition in variant.get("matchConditions") or []:
            if isinstance(condition, dict) and isinstance(condition.get("expression"), str):
                condition["expression"] = convert_expression(condition["expression"], config)
        for mutation in variant.get("mutations") or []:
            apply = mutation.get("applyConfiguration") if isinstance(mutation, dict) else None
            if isinstance(apply, dict) and isinstance(apply.get("expression"), str):
                apply["expression"] = convert_expression(apply["expression"], config)
        out.append((config, variant))
    return out
