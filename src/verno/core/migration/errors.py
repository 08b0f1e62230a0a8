"""The one error of ``verno migrate``'s translations."""
from __future__ import annotations

__all__ = ["Untranslatable"]


class Untranslatable(Exception):
    """A construct with no faithful CEL form; the message says which and why."""
