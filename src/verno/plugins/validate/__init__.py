"""The built-in ``validate`` rule kind: pattern, anyPattern, deny, foreach, podSecurity, cel."""
from __future__ import annotations

from verno.core.hookspecs import hookimpl
from verno.plugins.validate.rule import validate_rule


@hookimpl
def verno_prepare_rule(policy, rule):
    if rule.kind == "validate":
        from verno.plugins.validate.cel import prepare

        prepare(policy, rule)


@hookimpl(trylast=True)
def verno_validate_rule(rc):
    response = validate_rule(rc)
    return [] if response is None else [response]
