"""The built-in ``validate`` rule kind: pattern, anyPattern, deny, foreach."""
from __future__ import annotations

from verno.core.hookspecs import hookimpl
from verno.plugins.validate.rule import validate_rule


@hookimpl(trylast=True)
def verno_validate_rule(rc):
    return [validate_rule(rc)]
