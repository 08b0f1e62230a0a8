from __future__ import annotations

import sys
from pathlib import Path

TESTS = str(Path(__file__).resolve().parent.parent)
if TESTS not in sys.path:
    sys.path.insert(0, TESTS)

from apiserver.fixtures import api_client, apiserver, kubectl  # noqa: E402,F401
from controller.harness import cluster, controllers  # noqa: E402,F401
