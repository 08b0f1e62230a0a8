"""Kyverno's own CLI test suites, run through `verno test` (skipped when ../shared is absent).

One parametrized test: each suite listed in legacy-subset.txt must pass every result row. Suites that
need the public internet are left out; suites using a rule type whose plugin is not installed are
skipped, naming it.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from verno.cli.main import cli
from verno.core.engine import Engine

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "conformance"
LIST = SHARED / "legacy-subset.txt"
SUMMARY = re.compile(r"Test Summary: (\d+) tests passed and (\d+) tests failed")
#: rule types of the list -> the rule kind whose handler runs them (None: not a kind verno handles yet)
TYPE_KIND = {
    "validate.pattern": "validate", "validate.deny": "validate", "validate.foreach": "validate",
    "mutate": "mutate", "mutate.foreach": "mutate", "mutate.existing": "mutate",
    "generate": "generate", "verifyImages": "verifyImages",
    "validate.podSecurity": "validate", "validate.manifests": None, "validate.cel": None,
}


def _suites() -> list[tuple[str, list[str]]]:
    if not LIST.exists():
        return []
    out = []
    for line in LIST.read_text().splitlines():
        parts = line.split("\t")
        if not parts[0] or "needs-registry" in parts[2:]:
            continue
        types = [t for t in (parts[1] if len(parts) > 1 else "").split(",") if t and t != "-"]
        out.append((parts[0], types))
    return out


SUITES = _suites()
_ENGINE: list[Engine] = []


def _missing_kind(types: list[str]) -> str | None:
    if not _ENGINE:
        _ENGINE.append(Engine())
    for t in types:
        kind = TYPE_KIND.get(t, t)
        if kind is None:
            return f"{t} is not supported yet"
        if not _ENGINE[0].handlers(kind):
            return f"no plugin handles {kind} rules yet"
    return None


@pytest.mark.skipif(not SUITES, reason="../shared/conformance is absent")
@pytest.mark.parametrize("suite,types", SUITES, ids=[s for s, _ in SUITES] or None)
def test_kyverno_suite(suite: str, types: list[str]) -> None:
    why = _missing_kind(types)
    if why:
        pytest.skip(why)
    result = CliRunner().invoke(cli, ["test", str(SHARED / "kyverno-cli" / suite)])
    if "not supported yet:" in result.output:
        pytest.skip(result.output.split("not supported yet:", 1)[1].splitlines()[0].strip() + " is not supported yet")
    found = SUMMARY.findall(result.output)
    assert found, result.output[-2000:]
    passed, failed = (int(x) for x in found[-1])
    assert failed == 0, result.output[-4000:]
    assert passed > 0
