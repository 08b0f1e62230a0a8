"""Debian's ``docker-registry`` (CNCF distribution) started on 127.0.0.1 for tests, plain or TLS + htpasswd.

Imported by name (the tests directory is not a package). The registry listens on loopback only, with a
config written to a temp dir; it is stopped when the fixture ends.
"""
from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

BINARY = "docker-registry"
#: the registries listen on loopback, which the egress fence refuses unless allowed: tests allow it
#: explicitly, as a user would with ``--allow-egress 127.0.0.1``
LOOPBACK = "127.0.0.1"


def allow_loopback():
    from verno.core.egress import EgressPolicy

    return EgressPolicy.parse([LOOPBACK])


def require_binary() -> str:
    path = shutil.which(BINARY)
    if path is None:
        pytest.skip("docker-registry is not installed (apt-get install docker-registry; .ci/run does it)")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bcrypt_hash(password: str) -> str:
    try:
        import bcrypt  # type: ignore[import-not-found]

        return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=5)).decode()
    except ImportError:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import crypt  # Python <= 3.12; libxcrypt does bcrypt

        hashed = crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=32))
        if not hashed or not hashed.startswith("$2"):
            pytest.skip("no bcrypt implementation for htpasswd")
        return hashed


@dataclass
class RunningRegistry:
    host: str  # 127.0.0.1:PORT
    process: subprocess.Popen
    tls: bool
    ca_pem: str | None = None
    user: str = ""
    password: str = ""

    @property
    def base_url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_registry(workdir: Path, *, tls: tuple[Path, Path, str] | None = None,
                   user: str = "", password: str = "") -> RunningRegistry:
    """Start one registry. ``tls`` = (server cert file, key file, CA PEM); ``user`` enables htpasswd."""
    binary = require_binary()
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    lines = ["version: 0.1", "log: {level: error, accesslog: {disabled: true}}",
             f"storage: {{filesystem: {{rootdirectory: {workdir / 'data'}}}, delete: {{enabled: true}}}}",
             "http:", f"  addr: 127.0.0.1:{port}", "  secret: test-only"]
    if tls:
        lines.append(f"  tls: {{certificate: {tls[0]}, key: {tls[1]}}}")
    if user:
        (workdir / "htpasswd").write_text(f"{user}:{bcrypt_hash(password)}\n")
        lines.append(f"auth: {{htpasswd: {{realm: test-realm, path: {workdir / 'htpasswd'}}}}}")
    config = workdir / "config.yml"
    config.write_text("\n".join(lines) + "\n")
    log = open(workdir / "registry.log", "wb")
    proc = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT)
    reg = RunningRegistry(f"127.0.0.1:{port}", proc, bool(tls), tls[2] if tls else None, user, password)
    _wait_ready(reg, workdir)
    return reg


def _wait_ready(reg: RunningRegistry, workdir: Path) -> None:
    verify: object = False
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if reg.process.poll() is not None:
            raise RuntimeError(f"docker-registry exited: {(workdir / 'registry.log').read_text()}")
        try:
            httpx.get(f"{reg.base_url}/v2/", verify=verify, timeout=1)  # any answer (200/401) means up
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    reg.stop()
    raise RuntimeError(f"docker-registry did not start: {(workdir / 'registry.log').read_text()}")
