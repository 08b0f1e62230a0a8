from __future__ import annotations

import pytest

from verno.core.jmespath import JMESPath
from verno.core.jmespath.functions import verno_register_jmespath_functions
from verno.core.registry import Registry


def make_jmespath() -> JMESPath:
    registry: Registry = Registry("JMESPath function")
    verno_register_jmespath_functions(registry.registrar("jmespath-functions"))
    return JMESPath(registry)


@pytest.fixture(scope="session")
def jp() -> JMESPath:
    return make_jmespath()
