"""Helpers for the validatingpolicy plugin's tests: an engine running the plugin, policies from YAML text."""
from __future__ import annotations

from importlib.metadata import entry_points

import pytest
import yaml

import verno.plugins.validatingpolicy as vpol
from verno.core.engine import Engine
from verno.core.loading import Document
from verno.core.policykinds import KindInputs
from verno.core.request import Request
from verno.core.sources import Sources


def vpol_engine() -> Engine:
    """An engine with the plugin: from its entry point when installed, else registered here."""
    if any(ep.name == "validatingpolicy" for ep in entry_points(group="verno")):
        return Engine()
    return Engine([("validatingpolicy", vpol)])


@pytest.fixture(scope="module")
def engine() -> Engine:
    return vpol_engine()


class Harness:
    def __init__(self, engine: Engine):
        self.engine = engine

    def load(self, text: str, source: str = "policy.yaml"):
        return vpol.load(Document(source, 0, yaml.safe_load(text)), self.engine)

    def run(self, policy, resource, *, operation="CREATE", exceptions=(), namespaces=None, payload=False,
            user=None, old=None):
        companions = {"policies.kyverno.io/PolicyException": [yaml.safe_load(e) for e in exceptions]} \
            if exceptions else {}
        inputs = KindInputs(Sources(), companions, namespaces=namespaces or {}, engine=self.engine)
        if operation == "DELETE":
            request = Request({}, resource, "DELETE", user)
        else:
            request = Request(resource, old if operation == "UPDATE" else None, operation, user)
        out = self.engine.evaluate_kinds([policy], request, inputs, payload=payload)
        return out[0] if out else None


@pytest.fixture
def vp(engine) -> Harness:
    return Harness(engine)
