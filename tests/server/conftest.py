from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).parent
VERIFYIMAGES = HERE.parent / "verifyimages"
for helpers in (HERE, VERIFYIMAGES):  # server helpers, and the registry fixtures of tests/verifyimages
    if str(helpers) not in sys.path:
        sys.path.insert(0, str(helpers))

from vi_fixtures import pusher, registry  # noqa: F401  (the real docker-registry, shared)
