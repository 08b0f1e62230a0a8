from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).parent
if str(HERE) not in sys.path:  # helpers (certs, serverproc, fakeapi) import each other by name
    sys.path.insert(0, str(HERE))
