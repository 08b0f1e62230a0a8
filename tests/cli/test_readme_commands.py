"""README's command table is true: every command and option it shows exists, and the webhook's health
paths it names are the ones the server answers."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def _command_cells() -> list[str]:
    return [line.split("|")[1] for line in README.splitlines() if line.startswith("| `verno ")]


def test_every_command_and_option_in_the_table_exists(run):
    cells = _command_cells()
    assert any("verno jp parse" in c for c in cells)
    for cell in cells:
        for usage in re.findall(r"`(verno [^`]+)`", cell):
            words = usage.split()
            command = [w for w in words[1:3] if re.fullmatch(r"[a-z][a-z-]*", w)]
            r = run(*command, "--help")
            assert r.exit_code == 0, (usage, r.output)
            for option in re.findall(r"(--[a-z][a-z-]*|-[a-zA-Z])\b", usage):
                assert re.search(rf"(^|[\s,/]){re.escape(option)}\b", r.stdout, re.M), (usage, option)


def test_health_paths_documented_are_served(run):
    served = set(re.findall(r'"(/health/[a-z]+|/metrics)"', (ROOT / "src/verno/server/app.py").read_text()))
    documented = set(re.findall(r"`GET (/[a-z/]+)`", README))
    assert served and documented == served
