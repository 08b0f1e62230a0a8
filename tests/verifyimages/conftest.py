from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
if str(HERE) not in sys.path:  # helpers (vi_regserver, vi_pki, vi_cosign) import each other by name
    sys.path.insert(0, str(HERE))

from vi_fixtures import pusher, registry, tls_registry  # noqa: E402,F401

from verno.core.engine import Engine  # noqa: E402
from verno.core.sources import Sources  # noqa: E402
from verno.registry import Registries  # noqa: E402
from vi_regserver import allow_loopback  # noqa: E402


@pytest.fixture
def engine() -> Engine:
    """A fresh engine per test: its verification cache starts empty."""
    return Engine()


@pytest.fixture(scope="session")
def sources(registry) -> Sources:
    egress = allow_loopback()
    return Sources(registry_access=True, registry_client=Registries(credentials={}, allow_insecure=True, egress=egress),
                   egress=egress)
