"""The built-in ``generate`` rule kind: data, clone, cloneList and foreach.

The handler computes the resources a trigger generates and returns them on a passing response
(``generated_resources``); creating and synchronizing them in a cluster is the controller's job.
As in Kyverno, a generation that cannot complete (a missing clone source, a failed substitution) does
not change the rule's ``pass`` result: the response carries no resource and says why.
"""
from __future__ import annotations

from typing import Any

from verno.core.hookspecs import hookimpl
from verno.core.results import RuleResponse, Status
from verno.plugins.generate.foreach import generate_foreach
from verno.plugins.generate.pattern import GenerateError, generate_pattern


def generate_rule(rc: Any) -> RuleResponse:
    generation = rc.rule.rule.generate
    if generation.foreach:
        generated, errors = generate_foreach(rc, generation.foreach)
        if errors:
            return rc.response(Status.PASS, f"failed to generate resources: {'; '.join(errors)}",
                               generated_resources=generated)
        return rc.response(Status.PASS, "", generated_resources=generated)
    try:
        generated = generate_pattern(rc, generation)
    except GenerateError as exc:
        return rc.response(Status.PASS, f"failed to generate resource: {exc}")
    return rc.response(Status.PASS, "", generated_resources=generated)


@hookimpl(trylast=True)
def verno_generate_rule(rc: Any) -> list[RuleResponse]:
    return [generate_rule(rc)]
