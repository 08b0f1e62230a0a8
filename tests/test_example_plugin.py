"""The example third-party plugin (examples/plugins/verno-example), installed into a fresh venv.

The venv sees verno and its dependencies through ``--system-site-packages``; the plugin is installed
with ``--no-deps --no-build-isolation``, so no network is needed.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PLUGIN = ROOT / "examples" / "plugins" / "verno-example"
DATA = ROOT / "tests" / "data" / "example_plugin"


def _run(args: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("VERNO_DISABLE_PLUGINS", "PYTHONPATH")}
    return subprocess.run(args, check=False, capture_output=True, text=True, timeout=300, env=env, **kwargs)  # type: ignore[call-overload]


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("plugin-venv") / "venv"
    made = _run([sys.executable, "-m", "venv", "--system-site-packages", str(path)])
    assert made.returncode == 0, made.stderr
    # Build from a copy: setuptools writes build/ and *.egg-info next to the sources.
    source = tmp_path_factory.mktemp("plugin-src") / "verno-example"
    shutil.copytree(PLUGIN, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    installed = _run([str(path / "bin" / "python"), "-m", "pip", "install", "--no-deps", "--no-build-isolation",
                      "--no-index", "--disable-pip-version-check", "--quiet", str(source)], cwd=source.parent)
    assert installed.returncode == 0, (
        "installing the example plugin failed (building a wheel offline needs the 'wheel' package or "
        "setuptools>=70.1 in the base environment):\n" + installed.stdout + installed.stderr)
    return path


def test_engine_lists_the_plugin_and_registers_its_extensions(venv: Path) -> None:
    check = textwrap.dedent("""
        from verno.core.engine import Engine

        engine = Engine()
        summary = {p["name"]: p for p in engine.plugin_summary()}
        example = summary["example"]
        assert example["module"] == "verno_example", example
        assert example["operators"] == ["StartsWith"], example
        assert example["functions"] == ["reverse_string"], example
        assert sorted(example["hooks"]) == ["verno_register_jmespath_functions", "verno_register_operators"]

        op = engine.operators.get("startswith")  # operator names are case-insensitive
        assert op is not None and op.plugin == "example"
        assert op.value("web-test", "web-") and not op.value("web-test", "test")
        assert op.value("web-test", ["x", "web"]) and not op.value(12, "1")

        assert engine.jmespath.search("reverse_string(name)", {"name": "web-test"}) == "tset-bew"

        disabled = Engine(disabled=["example"])
        assert "StartsWith" not in disabled.operators and "example" not in [
            p["name"] for p in disabled.plugin_summary()]
        print("ok")
    """)
    result = _run([str(venv / "bin" / "python"), "-c", check], cwd=venv)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "ok"


def test_plugin_is_absent_outside_the_venv() -> None:
    """The example is not installed in the test interpreter itself (the venv is what adds it)."""
    from verno.core.engine import Engine

    assert "example" not in [p["name"] for p in Engine().plugin_summary()]


def test_verno_apply_uses_the_plugin_operator_and_function(venv: Path) -> None:
    """End to end: a deny rule using StartsWith on reverse_string(...) through ``verno apply``."""
    verno = venv / "bin" / "verno"
    if not verno.exists():  # the console script lives in the base environment; run it with the venv python
        args = [str(venv / "bin" / "python"), "-m", "verno"]
    else:
        args = [str(verno)]
    result = _run(args + ["apply", str(DATA / "policy.yaml"), "-r", str(DATA / "resources.yaml")], cwd=venv)
    lines = result.stdout.splitlines()
    assert "pass: 1, fail: 1, warn: 0, error: 0, skip: 0 " in lines, result.stdout + result.stderr
    assert result.returncode == 1, result.stdout + result.stderr
