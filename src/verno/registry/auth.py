"""Registry credentials: docker ``config.json`` entries, Basic and Bearer-token challenges."""
from __future__ import annotations

import base64
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DOCKER_HUB = "docker.io"
_HUB_ALIASES = ("docker.io", "index.docker.io", "registry-1.docker.io", "https://index.docker.io/v1/")
_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')


@dataclass(frozen=True)
class Credentials:
    username: str = ""
    password: str = ""
    #: a registry token (docker ``registrytoken``) used directly as a Bearer token
    token: str = ""

    @property
    def anonymous(self) -> bool:
        return not (self.username or self.password or self.token)

    def basic_header(self) -> str:
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode()


ANONYMOUS = Credentials()


def _normalize_host(key: str) -> str:
    host = re.sub(r"^https?://", "", key).split("/", 1)[0]
    return DOCKER_HUB if key in _HUB_ALIASES or host in _HUB_ALIASES else host


def default_config_path() -> Path:
    base = os.environ.get("DOCKER_CONFIG")
    return Path(base) / "config.json" if base else Path.home() / ".docker" / "config.json"


def _entry_credentials(entry: dict[str, Any]) -> Credentials:
    if entry.get("registrytoken"):
        return Credentials(token=entry["registrytoken"])
    if entry.get("auth"):
        user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
        return Credentials(user, password)
    return Credentials(entry.get("username", ""), entry.get("password", ""))


def load_docker_config(data: dict[str, Any] | str | Path | None = None) -> dict[str, Credentials]:
    """Registry host -> credentials from a docker ``config.json`` (a dict, a path, or the default file).

    Credential helpers (``credsStore``/``credHelpers``) are not run: only inline ``auths`` are read.
    """
    if data is None:
        path = default_config_path()
        if not path.is_file():
            return {}
        data = path
    if isinstance(data, (str, Path)):
        data = json.loads(Path(data).read_text())
    out: dict[str, Credentials] = {}
    for key, entry in (data.get("auths") or {}).items():
        if isinstance(entry, dict):
            out[_normalize_host(key)] = _entry_credentials(entry)
    return out


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """``Bearer realm="...",service="..."`` -> ("bearer", {realm, service, ...})."""
    scheme, _, rest = header.strip().partition(" ")
    return scheme.lower(), dict(_CHALLENGE_PARAM.findall(rest))
