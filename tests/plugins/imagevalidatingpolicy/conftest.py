from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).parent.parent.parent / "verifyimages"
for helpers in (HERE, Path(__file__).parent):  # the registry, cosign and PKI helpers are imported by name
    if str(helpers) not in sys.path:
        sys.path.insert(0, str(helpers))

from vi_fixtures import pusher, registry  # noqa: E402,F401
