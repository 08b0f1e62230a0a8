"""Helpers for the CLI tests: run ``verno`` in-process (click's CliRunner) or as the installed executable."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from verno.cli.main import cli

DATA = Path(__file__).resolve().parent.parent / "data" / "cli"


def verno_executable() -> list[str]:
    exe = shutil.which("verno")
    if exe:
        return [exe]
    return [sys.executable, "-m", "verno"]


@pytest.fixture
def data() -> Path:
    return DATA


@pytest.fixture
def run():
    """``run(*args, input=None)`` -> click Result (stdout in ``.stdout``, stderr in ``.stderr``)."""
    def _run(*args: str, input: str | None = None):
        runner = CliRunner()
        return runner.invoke(cli, [str(a) for a in args], input=input, catch_exceptions=False)
    return _run


@pytest.fixture
def run_exe():
    """Run the real ``verno`` executable; returns CompletedProcess (text)."""
    def _run(*args: str, input: str | None = None, timeout: float = 60, cwd: str | None = None):
        env = dict(os.environ)
        env.pop("VERNO_DEBUG", None)
        return subprocess.run(verno_executable() + [str(a) for a in args], input=input, capture_output=True,
                              text=True, timeout=timeout, cwd=cwd, env=env)
    return _run
