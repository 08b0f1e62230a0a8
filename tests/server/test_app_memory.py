"""What a worker builds at start-up is frozen out of the cyclic collector's passes."""
from __future__ import annotations

import asyncio
import gc
from pathlib import Path

from verno.server.app import App
from verno.server.settings import Settings

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "policies"


def test_startup_freezes_what_it_built() -> None:
    before = gc.get_freeze_count()
    app = App(Settings(policies=[str(EXAMPLES)], exclude_namespaces=[], poll_interval=60, evaluators=1))

    async def run() -> None:
        try:
            await app.startup()
            assert app.evaluator is not None
            assert gc.get_freeze_count() > before
        finally:
            await app.aclose()
            gc.unfreeze()

    asyncio.run(run())
