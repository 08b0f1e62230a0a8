"""Errors the registry client raises; each names the image (or repository) and the registry."""
from __future__ import annotations

from verno.core.errors import ArtifactNotFound, VernoError


class RegistryError(VernoError):
    """A registry answered with an error, or its answer was invalid."""

    def __init__(self, registry: str, subject: str, message: str):
        self.registry = registry
        self.subject = subject
        super().__init__(f"{subject}: registry {registry}: {message}")


class RegistryUnreachable(RegistryError):
    """The registry gave no usable answer (refused, reset, DNS, TLS handshake, timeout).

    One message for all of them, so that it does not tell whether a port is open; ``hint`` is a
    suffix that depends only on the configuration (never on what happened)."""

    def __init__(self, registry: str, subject: str, hint: str = ""):
        self.registry = registry
        self.subject = subject
        VernoError.__init__(self, f"{subject}: could not reach registry {registry}{hint}")


class RegistryRefused(RegistryError):
    """The egress fence refused a connection the registry (or its redirect, or its token service) needs."""


class NotFound(RegistryError, ArtifactNotFound):
    """The manifest, tag or blob does not exist (404)."""


class AuthError(RegistryError):
    """The registry refused the credentials (401/403)."""
