"""The built-in ``mutate`` rule kind: patchStrategicMerge (anchors, merge keys), patchesJson6902, foreach,
mutateExisting targets.

A passing response carries the mutated object in ``patched_resource`` ("mutated <Kind>/<name> in
namespace <ns>"); a patch that changes nothing is a ``skip`` ("no patches applied"); a patch that cannot
be applied is an ``error`` naming the rule and the path. For a mutateExisting rule (``mutate.targets``)
there is one response per target, each carrying the patched target.
"""
from __future__ import annotations

from typing import Any

from verno.core.hookspecs import hookimpl
from verno.plugins.mutate.rule import mutate_rule


@hookimpl(trylast=True)
def verno_mutate_rule(rc: Any) -> list[Any]:
    return mutate_rule(rc)
