"""OCI registry access: a pooled httpx client per registry behind the egress fence, docker credentials,
referrers."""
from __future__ import annotations

from verno.registry.auth import ANONYMOUS, Credentials, load_docker_config
from verno.registry.client import ACCEPT, Descriptor, Manifest, RegistryClient, sha256_digest
from verno.registry.errors import AuthError, NotFound, RegistryError, RegistryRefused, RegistryUnreachable
from verno.registry.pool import Registries

__all__ = ["ACCEPT", "ANONYMOUS", "AuthError", "Credentials", "Descriptor", "Manifest", "NotFound", "Registries",
           "RegistryClient", "RegistryError", "RegistryRefused", "RegistryUnreachable", "load_docker_config",
           "sha256_digest"]
