from __future__ import annotations

import sys
from pathlib import Path

# the egress tests' server helper (egress_server) is imported by name
_HELPERS = Path(__file__).parents[2] / "registry"
if str(_HELPERS) not in sys.path:
    sys.path.insert(0, str(_HELPERS))
