from __future__ import annotations

import sys
from pathlib import Path

# the egress tests' helpers (egress_server, vi_pki) are imported by name
for helpers in (Path(__file__).parents[2] / "registry", Path(__file__).parents[2] / "verifyimages"):
    if str(helpers) not in sys.path:
        sys.path.insert(0, str(helpers))
