from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from mutate_helpers import policy

from verno.core.engine import Engine
from verno.core.request import Request
from verno.core.sources import Sources


@pytest.fixture(scope="session")
def engine() -> Engine:
    return Engine()


@pytest.fixture
def run(engine: Engine):
    def _run(mutate: dict[str, Any], resource: dict[str, Any], *, sources: Sources | None = None,
             kinds: tuple[str, ...] = ("Pod",)):
        out = engine.evaluate([engine.prepare(policy(mutate, kinds=kinds))], Request(resource), sources=sources)
        return out[0]
    return _run
