"""``--registry``, ``--allow-insecure-registry``, ``--registry-ca``, ``--docker-config`` and
``--allow-egress`` for apply and test.

verno never reaches a registry unless asked: CI runs must not go to the network silently, so a
verifyImages rule without ``--registry`` is an error that names the flag (Kyverno's CLI always
creates a registry client). With ``--registry``, one :class:`verno.registry.Registries` pool serves
the whole run and is closed when the command ends. ``--allow-egress`` opens the egress fence
(:mod:`verno.core.egress`): addresses registries may have beyond public ones, and the apiCall services
verno may call at all.
"""
from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator
from typing import Any

import click

from verno.core.egress import EgressPolicy
from verno.core.errors import LoadError

REGISTRY_HELP = ("Allow verifyImages rules (and imageRegistry context entries) to reach OCI registries, "
                 "with credentials from docker config.json. Off by default so CI runs never reach the "
                 "network silently: without it a verifyImages rule is an error.")


EGRESS_HELP = ("Allow connections to this address range or host (repeatable): registries at loopback, "
               "link-local or private addresses, and apiCall service.url calls (none is made unless an entry "
               "names its host). CIDR, address, host[:port], or http://host[:port] to allow plain HTTP.")


def parse_egress(entries: tuple[str, ...] | list[str], flag: str = "--allow-egress") -> EgressPolicy:
    """The egress fence of ``--allow-egress`` values; a malformed entry is a usage error naming it."""
    try:
        return EgressPolicy.parse(entries)
    except ValueError as exc:
        raise click.BadParameter(str(exc).removeprefix("--allow-egress "), param_hint=flag) from None


def debug_egress_log() -> None:
    """With ``VERNO_DEBUG`` set, why a registry or service could not be reached is printed to stderr."""
    if not os.environ.get("VERNO_DEBUG"):
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("debug: %(name)s: %(message)s"))
    for name in ("verno.egress", "verno.registry"):
        logger = logging.getLogger(name)
        if not logger.handlers:
            logger.addHandler(handler)
            logger.setLevel(logging.DEBUG)


def registry_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The registry options, added to a click command (keyword arguments ``registry`` ...)."""
    options = [
        click.option("--registry", "registry", is_flag=True, help=REGISTRY_HELP),
        click.option("--allow-insecure-registry", "allow_insecure_registry", is_flag=True,
                     help="With --registry: plain HTTP (and unverified TLS) allowed for every registry."),
        click.option("--registry-ca", "registry_ca", default=None, type=click.Path(dir_okay=False),
                     help="With --registry: a PEM file of CA certificates trusted for registries."),
        click.option("--docker-config", "docker_config", default=None, type=click.Path(dir_okay=False),
                     help="With --registry: the docker config.json to read credentials from "
                          "(default: $DOCKER_CONFIG/config.json or ~/.docker/config.json)."),
        click.option("--allow-egress", "allow_egress", multiple=True, metavar="CIDR|HOST",
                     help=EGRESS_HELP),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def registry_notice(policies: list[Any], registry: bool) -> str:
    """A notice when verifyImages rules are loaded without ``--registry`` (they will be errors)."""
    if registry:
        return ""
    names = [p.name for p in policies if "verifyImages" in p.kinds]
    if not names:
        return ""
    return (f"policies {', '.join(names)} have verifyImages rules: pass --registry to let verno reach image "
            "registries; without it those rules are errors")


@contextlib.contextmanager
def registry_sources(registry: bool, allow_insecure_registry: bool = False, registry_ca: str | None = None,
                     docker_config: str | None = None, allow_egress: tuple[str, ...] = ()) -> Iterator[dict[str, Any]]:
    """``Sources`` keyword arguments for the registry options; the pool is closed on exit."""
    egress = parse_egress(allow_egress)
    debug_egress_log()
    if not registry:
        for flag, given in (("--allow-insecure-registry", allow_insecure_registry),
                            ("--registry-ca", registry_ca), ("--docker-config", docker_config)):
            if given:
                raise click.UsageError(f"{flag} needs --registry")
        yield {"egress": egress}
        return
    from verno.registry import Registries, load_docker_config

    try:
        credentials = load_docker_config(docker_config) if docker_config else load_docker_config()
    except (OSError, ValueError) as exc:
        raise LoadError(docker_config or "docker config.json", f"cannot read credentials: {exc}") from None
    if registry_ca:
        try:
            with open(registry_ca, encoding="utf-8") as fh:
                ca: str | None = fh.read()
        except OSError as exc:
            raise LoadError(registry_ca, f"cannot read the registry CA: {exc.strerror}") from None
        if "-----BEGIN CERTIFICATE-----" not in (ca or ""):
            raise LoadError(registry_ca, "holds no PEM certificate")
    else:
        ca = None
    pool = Registries(credentials=credentials, ca=ca, allow_insecure=allow_insecure_registry, egress=egress)
    try:
        yield {"registry_access": True, "registry_client": pool, "allow_insecure_registry": allow_insecure_registry,
               "egress": egress}
    finally:
        pool.close()
