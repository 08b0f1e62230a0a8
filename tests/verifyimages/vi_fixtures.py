"""Registry fixtures shared by tests/verifyimages and tests/registry (imported by their conftests)."""
from __future__ import annotations

from pathlib import Path

import pytest

from vi_cosign import Pusher
from vi_pki import server_tls
from vi_regserver import RunningRegistry, start_registry


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory):
    """A plain-HTTP registry on 127.0.0.1 (a free port), for the whole session."""
    reg = start_registry(tmp_path_factory.mktemp("registry-plain"))
    yield reg
    reg.stop()


@pytest.fixture(scope="session")
def tls_registry(tmp_path_factory: pytest.TempPathFactory):
    """A TLS registry (a private CA) with htpasswd basic auth (user ``ci``)."""
    workdir = tmp_path_factory.mktemp("registry-tls")
    reg = start_registry(workdir, tls=server_tls(workdir / "tls"), user="ci", password="s3cret")
    yield reg
    reg.stop()


@pytest.fixture(scope="session")
def pusher(registry: RunningRegistry) -> Pusher:
    return Pusher(registry.base_url)
