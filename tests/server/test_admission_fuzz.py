"""A bounded fuzz run against the ASGI app: every answer is an AdmissionReview or a 4xx for an unreadable body."""
from __future__ import annotations

import asyncio
import random
from collections import Counter
from pathlib import Path

from admission_fuzz import call, check, make_case, signature

from verno.server.app import App
from verno.server.settings import Settings

DATA = Path(__file__).parent / "data"
CASES = 600


def test_fuzzed_reviews_get_admission_reviews_or_4xx():
    app = App(Settings(policies=[str(DATA / "policies")], exclude_namespaces=[], poll_interval=60, evaluators=2,
                       timeout=10))
    problems: Counter[str] = Counter()
    examples: dict[str, str] = {}
    statuses: Counter[int] = Counter()

    async def run() -> None:
        await app.startup()
        try:
            rng = random.Random(20261207)
            cases = [make_case(rng, i) for i in range(CASES)]
            for start in range(0, CASES, 8):
                batch = cases[start:start + 8]
                answers = await asyncio.gather(*(call(app, c.path, c.body) for c in batch))
                for case, (status, body) in zip(batch, answers):
                    statuses[status] += 1
                    problem = check(case, status, body)
                    if problem:
                        problems[signature(problem)] += 1
                        examples.setdefault(signature(problem), f"{case.how} {case.path}: {problem}")
        finally:
            await app.aclose()

    asyncio.run(run())
    assert not problems, examples
    assert statuses[200] > CASES // 2 and statuses[400] > 0, statuses
