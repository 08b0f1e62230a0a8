"""Errors the registry client raises; each names the image (or repository) and the registry."""
from __future__ import annotations

from verno.core.errors import VernoError


class RegistryError(VernoError):
    """A registry answered with an error, or its answer was invalid."""

    def __init__(self, registry: str, subject: str, message: str):
        self.registry = registry
        self.subject = subject
        super().__init__(f"{subject}: registry {registry}: {message}")


class RegistryUnreachable(RegistryError):
    """The registry could not be reached (refused, DNS, TLS handshake, timeout)."""


class NotFound(RegistryError):
    """The manifest, tag or blob does not exist (404)."""


class AuthError(RegistryError):
    """The registry refused the credentials (401/403)."""
