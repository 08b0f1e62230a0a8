from __future__ import annotations

import sys
from pathlib import Path


HERE = Path(__file__).parent.parent / "verifyimages"
if str(HERE) not in sys.path:  # helpers (vi_regserver, vi_pki, vi_cosign) import each other by name
    sys.path.insert(0, str(HERE))

from vi_fixtures import pusher, registry, tls_registry  # noqa: E402,F401
