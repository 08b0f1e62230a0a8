"""The example third-party plugin (examples/plugins/verno-example), really installed and used.

pip installs it (building its wheel) into a directory of its own with ``--target``; the interpreter
running these tests then runs verno with that directory on ``PYTHONPATH``, so the plugin's entry point is
found exactly as an installed distribution's would be, while verno and its dependencies come from this
same environment (a plain venv made as the README says, or the system interpreter). The build uses the
environment's setuptools offline when it has one (``--no-build-isolation``), else pip's isolated build.
"""
from __future__ import annotations

import importlib.util
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


def _env(site: Path | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("VERNO_DISABLE_PLUGINS", "PYTHONPATH")}
    paths = [str(site)] if site is not None else []
    paths += [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]  # e.g. PYTHONPATH=src
    if paths:
        env["PYTHONPATH"] = os.pathsep.join(os.path.abspath(p) for p in paths)
    return env


def _run(args: list[str], site: Path | None = None, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, check=False, capture_output=True, text=True, timeout=300, env=_env(site),  # type: ignore[call-overload]
                          **kwargs)


def _can_build_offline() -> bool:
    """setuptools builds wheels by itself from 70.1 on; before that it needs the ``wheel`` package."""
    if importlib.util.find_spec("setuptools") is None:
        return False
    from importlib.metadata import version

    major, minor = (int(x) for x in version("setuptools").split(".")[:2])
    return (major, minor) >= (70, 1) or importlib.util.find_spec("wheel") is not None


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory the example plugin is installed into (its package and its dist-info)."""
    target = tmp_path_factory.mktemp("plugin-site")
    # Build from a copy: setuptools writes build/ and *.egg-info next to the sources.
    source = tmp_path_factory.mktemp("plugin-src") / "verno-example"
    shutil.copytree(PLUGIN, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    offline = ["--no-build-isolation", "--no-index"] if _can_build_offline() else []
    installed = _run([sys.executable, "-m", "pip", "install", "--no-deps", *offline, "--target", str(target),
                      "--disable-pip-version-check", "--quiet", str(source)], cwd=source.parent)
    assert installed.returncode == 0, "installing the example plugin failed:\n" + installed.stdout + installed.stderr
    assert list(target.glob("verno_example-*.dist-info")), sorted(p.name for p in target.iterdir())
    return target


def test_engine_lists_the_plugin_and_registers_its_extensions(site: Path) -> None:
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
    result = _run([sys.executable, "-c", check], site, cwd=site)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "ok"


def test_plugin_is_absent_outside_the_venv() -> None:
    """The example is not installed in the test interpreter itself (its directory is what adds it)."""
    from verno.core.engine import Engine

    assert "example" not in [p["name"] for p in Engine().plugin_summary()]


def test_verno_apply_uses_the_plugin_operator_and_function(site: Path) -> None:
    """End to end: a deny rule using StartsWith on reverse_string(...) through ``verno apply``."""
    result = _run([sys.executable, "-m", "verno", "apply", str(DATA / "policy.yaml"), "-r",
                   str(DATA / "resources.yaml")], site, cwd=site)
    lines = result.stdout.splitlines()
    assert "pass: 1, fail: 1, warn: 0, error: 0, skip: 0 " in lines, result.stdout + result.stderr
    assert result.returncode == 1, result.stdout + result.stderr
    plugins = _run([sys.executable, "-m", "verno", "plugins"], site, cwd=site)
    assert "example (verno_example)" in plugins.stdout.splitlines(), plugins.stdout + plugins.stderr
