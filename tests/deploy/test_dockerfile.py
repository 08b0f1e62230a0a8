"""The Dockerfile (no Docker daemon here): its instructions, that its arguments are ``verno serve``
options, and that the build context it copies builds the package's wheel."""
from __future__ import annotations

import fnmatch
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import click
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
CHART_VALUES = ROOT / "deploy" / "helm" / "verno" / "values.yaml"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for line in DOCKERFILE.read_text().splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        full = pending + stripped
        pending = ""
        word, _, rest = full.partition(" ")
        out.append((word.upper(), rest.strip()))
    assert not pending, "dangling line continuation"
    return out


def final_stage() -> list[tuple[str, str]]:
    ins = instructions()
    last_from = max(i for i, (word, _) in enumerate(ins) if word == "FROM")
    return ins[last_from:]


def command_options(name: str) -> dict[str, click.Option]:
    from verno.cli.main import cli

    command = cli.get_command(click.Context(cli), name)
    if command is None:
        pytest.skip(f"verno {name} is not registered")
    return {opt: p for p in command.params if isinstance(p, click.Option)
            for opt in (*p.opts, *p.secondary_opts)}


def serve_options() -> dict[str, click.Option]:
    return command_options("serve")


def test_base_image_and_entrypoint():
    ins = instructions()
    assert [a.split()[0] for w, a in ins if w == "FROM"] == ["python:3.11-slim", "python:3.11-slim"]
    stage = dict(final_stage())
    assert json.loads(stage["ENTRYPOINT"]) == ["verno"]
    cmd = json.loads(stage["CMD"])
    assert cmd[0] == "serve"
    assert stage["EXPOSE"] == str(yaml.safe_load(CHART_VALUES.read_text())["server"]["port"])


def test_runs_as_a_non_root_user_after_installing():
    stage = final_stage()
    words = [w for w, _ in stage]
    users = [a for w, a in stage if w == "USER"]
    assert len(users) == 1
    uid, _, gid = users[0].partition(":")
    assert uid.isdigit() and int(uid) != 0 and gid.isdigit() and int(gid) != 0
    runs = " ".join(a for w, a in stage if w == "RUN")
    assert f"--uid {uid}" in runs and f"--gid {gid}" in runs
    assert "pip install" in runs
    assert words.index("USER") > max(i for i, w in enumerate(words) if w == "RUN")  # nothing runs as root after
    assert words.index("USER") < words.index("ENTRYPOINT")


def _split(args: list[str], command: str = "serve") -> list[tuple[str, str | None]]:
    """(--option, value) pairs of ``--opt value`` / ``--opt=value`` / ``--flag`` arguments."""
    out: list[tuple[str, str | None]] = []
    options = command_options(command)
    i = 0
    while i < len(args):
        arg = args[i]
        assert arg.startswith("--"), f"unexpected argument {arg!r}"
        name, eq, value = arg.partition("=")
        assert name in options, f"{name} is not an option of verno {command}"
        if eq or options[name].is_flag:
            out.append((name, value if eq else None))
            i += 1
        else:
            out.append((name, args[i + 1]))
            i += 2
    return out


def test_image_command_uses_serve_options():
    cmd = json.loads(dict(final_stage())["CMD"])
    pairs = dict(_split(cmd[1:]))
    assert pairs["--tls-cert"] == "/etc/verno/tls/tls.crt" and pairs["--tls-key"] == "/etc/verno/tls/tls.key"
    assert pairs["--host"] == "0.0.0.0"


def test_chart_arguments_are_serve_options(render):
    docs = render({"policies": {"inCluster": False}, "server": {"excludeNamespaces": ["x"]}})
    (deployment,) = [d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "verno"]
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[0] == "serve"
    options = serve_options()
    for name, value in _split(args[1:]):
        param = options[name]
        if value is not None and not isinstance(param.type, click.Path):
            param.type.convert(value, param, None)  # raises on a value serve would refuse
    (deployment,) = [d for d in render() if d["kind"] == "Deployment" and d["metadata"]["name"] == "verno"]
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--in-cluster" in args and dict(_split(args[1:]))["--in-cluster"] is None


def _ignored(rel: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatch(rel, p) or fnmatch.fnmatch(rel, p.removeprefix("**/"))
               or rel.startswith(p.rstrip("/") + "/") or rel == p for p in patterns)


def test_build_context_builds_the_wheel(tmp_path):
    """Copy what the build stage COPYs (less .dockerignore) and build the wheel as the image does."""
    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    context = tmp_path / "context"
    build_stage = instructions()[: [w for w, _ in instructions()].index("FROM", 1)]
    for word, args in build_stage:
        if word != "COPY":
            continue
        *sources, _dest = args.split()
        for source in sources:
            src = ROOT / source
            assert src.exists(), f"COPY {source}: missing from the repository"
            assert not _ignored(source, patterns), f"COPY {source}: excluded by .dockerignore"
            if src.is_dir():
                shutil.copytree(src, context / source, ignore=shutil.ignore_patterns(
                    "__pycache__", "*.pyc", "*.egg-info"))
            else:
                context.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, context / source)
    wheels = tmp_path / "wheels"
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                           "--wheel-dir", str(wheels), str(context)], check=False, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (wheel,) = wheels.glob("verno-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        entry_points = next(zf.read(n).decode() for n in names if n.endswith("entry_points.txt"))
    assert "verno = verno.cli.main:main" in entry_points
    for module in ("verno/cli/main.py", "verno/cli/webhookconfig.py", "verno/cli/certs.py", "verno/server/__init__.py"):
        assert module in names, module
