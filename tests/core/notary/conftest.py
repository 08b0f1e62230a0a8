from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
VERIFYIMAGES = HERE.parent.parent / "verifyimages"
for helpers in (HERE, VERIFYIMAGES):  # the signer here, and the registry fixtures of tests/verifyimages
    if str(helpers) not in sys.path:
        sys.path.insert(0, str(helpers))

from vi_fixtures import pusher, registry  # noqa: E402,F401  (the real docker-registry, shared)
from vi_regserver import allow_loopback  # noqa: E402

from verno.registry import Registries  # noqa: E402


@pytest.fixture(scope="session")
def registries(registry):
    regs = Registries(credentials={}, allow_insecure=True, egress=allow_loopback())
    yield regs
    regs.close()
