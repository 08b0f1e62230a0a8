"""Helpers for the mutatingpolicy plugin's tests: an engine running the plugin, policies from YAML text."""
from __future__ import annotations

from importlib.metadata import entry_points

import pytest
import yaml

import verno.plugins.mutatingpolicy as mpol
from verno.core.engine import Engine
from verno.core.loading import Document
from verno.core.policykinds import KindInputs
from verno.core.request import Request
from verno.core.sources import Sources


@pytest.fixture(scope="module")
def engine() -> Engine:
    if any(ep.name == "mutatingpolicy" for ep in entry_points(group="verno")):
        return Engine()
    return Engine([("mutatingpolicy", mpol)])


class Harness:
    def __init__(self, engine: Engine):
        self.engine = engine

    def load(self, text: str):
        return mpol.load(Document("policy.yaml", 0, yaml.safe_load(text)), self.engine)

    def run(self, policy, resource, *, exceptions=(), targets=(), operation="CREATE"):
        companions = {"policies.kyverno.io/PolicyException": [yaml.safe_load(e) for e in exceptions]} \
            if exceptions else {}
        inputs = KindInputs(Sources(), companions, engine=self.engine, targets=list(targets))
        out = self.engine.evaluate_kinds([policy], Request(resource, None, operation), inputs)
        return out[0] if out else None


@pytest.fixture
def mp(engine) -> Harness:
    return Harness(engine)
