"""Kyverno's 51 custom JMESPath functions, as a built-in plugin.

Each family lives in its own module and lists its functions in ``FUNCTIONS``; this module registers
them all through ``verno_register_jmespath_functions``.
"""
from __future__ import annotations

from collections.abc import Callable

from verno.core.hookspecs import hookimpl
from verno.core.jmespath.functions import (
    arithmetic,
    collections,
    conversion,
    misc,
    regex,
    semver,
    strings,
    time,
)
from verno.core.jmespath.functions._spec import Spec

FAMILIES = (strings, regex, conversion, collections, arithmetic, semver, time, misc)


def all_functions() -> list[Spec]:
    return [spec for family in FAMILIES for spec in family.FUNCTIONS]


@hookimpl
def verno_register_jmespath_functions(register: Callable[..., None]) -> None:
    for spec in all_functions():
        register(spec.name, spec.fn, spec.arg_types, description=spec.description, returns=spec.returns)
