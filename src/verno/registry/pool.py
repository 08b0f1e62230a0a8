"""``Registries``: one pooled :class:`RegistryClient` per registry, credentials and TLS settings.

This is the object the CLI and the webhook put in ``Sources.registry_client``: the verifyImages plugin
and the ``imageRegistry`` context loader both reach registries through it.
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Mapping

from verno.core.egress import STRICT, EgressPolicy
from verno.core.images import parse_image_reference
from verno.registry.auth import ANONYMOUS, Credentials, load_docker_config
from verno.registry.client import DEFAULT_TIMEOUT, RegistryClient
from verno.registry.errors import RegistryError


class Registries:
    """Clients by registry host, created on first use and kept (their connections pooled).

    :param credentials: host -> credentials; by default the user's docker ``config.json``.
    :param ca: a PEM string or file trusted in addition to the system roots (a private registry CA).
    :param allow_insecure: plain HTTP (and unverified TLS) for every registry, as
        ``--allow-insecure-registry``; a policy's ``allowInsecureRegistry`` allows it per call.
    :param egress: the egress fence (``--allow-egress``): public addresses, plus what it allows.
    """

    def __init__(self, *, credentials: Mapping[str, Credentials] | None = None, ca: str | Path | None = None,
                 allow_insecure: bool = False, timeout: float = DEFAULT_TIMEOUT, egress: EgressPolicy = STRICT):
        self.credentials = dict(load_docker_config() if credentials is None else credentials)
        self.ca = ca
        self.allow_insecure = allow_insecure
        self.timeout = timeout
        self.egress = egress
        self._clients: dict[tuple[str, bool], RegistryClient] = {}
        self._lock = threading.Lock()

    def client(self, registry: str, *, insecure: bool = False) -> RegistryClient:
        insecure = insecure or self.allow_insecure
        key = (registry, insecure)
        c = self._clients.get(key)
        if c is None:
            with self._lock:
                c = self._clients.get(key)
                if c is None:
                    c = RegistryClient(registry, credentials=self.credentials.get(registry, ANONYMOUS),
                                       ca=self.ca, insecure=insecure, timeout=self.timeout, egress=self.egress)
                    self._clients[key] = c
        return c

    def close(self) -> None:
        with self._lock:
            for c in self._clients.values():
                c.close()
            self._clients.clear()

    def __enter__(self) -> "Registries":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def with_credentials(self, credentials: Mapping[str, Credentials]) -> "Registries":
        """A new pool with this one's settings (CA, insecure, timeout, egress) and ``credentials``."""
        return Registries(credentials=credentials, ca=self.ca, allow_insecure=self.allow_insecure,
                          timeout=self.timeout, egress=self.egress)

    # -- the imageRegistry context loader ----------------------------------------------------------------
    def image_data(self, reference: str, credentials: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Kyverno's ``imageData``: image, resolvedImage, registry, repository, identifier, manifest,
        configData. An index resolves to its linux/amd64 image (else its first entry) for the config."""
        info = parse_image_reference(reference)
        insecure = bool((credentials or {}).get("allowInsecureRegistry"))
        client = self.client(info.registry, insecure=insecure)
        identifier = info.digest or info.tag
        manifest = client.manifest(info.path, identifier)
        image_manifest = manifest
        if manifest.is_index:
            entries = manifest.json.get("manifests") or []
            chosen = next((e for e in entries if (e.get("platform") or {}).get("os") == "linux"
                           and (e.get("platform") or {}).get("architecture") == "amd64"), entries[0] if entries else None)
            if chosen is not None:
                image_manifest = client.manifest(info.path, chosen["digest"])
        config: Any = {}
        config_desc = image_manifest.json.get("config") or {}
        if config_desc.get("digest"):
            import json

            try:
                config = json.loads(client.blob(info.path, config_desc["digest"]))
            except ValueError:
                raise RegistryError(info.registry, reference, "the image config is not JSON") from None
        return {
            "image": reference,
            "resolvedImage": f"{info.registry}/{info.path}@{manifest.digest}",
            "registry": info.registry,
            "repository": info.path,
            "identifier": identifier,
            "manifest": manifest.json,
            "configData": config,
        }
