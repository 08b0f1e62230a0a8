"""How batch commands (``apply``, ``test``) use Python's cyclic garbage collector.

Evaluating resources allocates many short-lived containers; with the default thresholds the cyclic
collector runs every few hundred allocations and re-scans whatever is still young, which cost about a
fifth of a 10,000-resource run. Almost nothing verno builds is cyclic (reference counting frees it), so a
batch run collects less often, and freezes what lives to the end of the run (plugins, policies,
documents held in memory) so that full collections skip it.
"""
from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

#: Allocations between young-generation collections in a batch run (CPython's default is 700).
BATCH_THRESHOLD = 20_000


def batch_mode() -> None:
    """Collect less often for the rest of this process."""
    _, second, third = gc.get_threshold()
    gc.set_threshold(BATCH_THRESHOLD, second, third)


def keep_for_run() -> None:
    """Everything alive now lives until the run ends: leave it out of later collections."""
    gc.freeze()


@contextmanager
def reading_for_run() -> Iterator[None]:
    """Read documents that will be held until the run ends (a JSON file is one document).

    Parsing allocates millions of containers and makes no cycles: the collector is off meanwhile, and
    what was read is frozen afterwards, so no later collection scans it either.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()
