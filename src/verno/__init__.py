"""verno: a Kubernetes policy engine that runs Kyverno policies unchanged."""
from __future__ import annotations

__version__ = "0.1.0"
