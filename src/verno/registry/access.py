"""The registry pool a verification uses: the run's (``Sources.registry_client``), or one built from its
flags (``registry_access``, ``allow_insecure_registry``, ``egress``) and kept per caller; and that pool with
credentials from Kubernetes pull Secrets merged over it for one verification (kept per credential set)."""
from __future__ import annotations

import json
import threading
from typing import Any

from verno.core.egress import STRICT
from verno.core.errors import VernoError
from verno.registry.auth import Credentials, load_docker_config
from verno.registry.pool import Registries

_MAX_POOLS = 64
_pools_lock = threading.Lock()


def registries_for(sources: Any, pools: dict[Any, Registries], what: str) -> Registries:
    """The run's pool; ``pools`` keeps the ones built from flags. ``what`` names the caller in the error."""
    client = getattr(sources, "registry_client", None)
    if isinstance(client, Registries):
        return client
    if client is None and getattr(sources, "registry_access", False):
        insecure = bool(getattr(sources, "allow_insecure_registry", False))
        egress = getattr(sources, "egress", None) or STRICT
        with _pools_lock:
            if (insecure, egress) not in pools:
                pools[(insecure, egress)] = Registries(allow_insecure=insecure, egress=egress)
            return pools[(insecure, egress)]
    raise VernoError(f"{what} needs registry access: pass --registry to verno apply or verno test "
                     "(registries are never reached unless asked)")


def configured_pool(*, docker_config: str | None, registry_ca: str | None, allow_insecure: bool, egress: Any,
                    timeout: float | None = None) -> Registries:
    """The pool a long-running process builds from its flags: credentials from ``docker_config`` (else the
    default docker config), the CA file ``registry_ca``, plain HTTP allowed or not, behind ``egress``."""
    credentials = load_docker_config(docker_config) if docker_config else load_docker_config()
    ca = None
    if registry_ca:
        with open(registry_ca, encoding="utf-8") as fh:
            ca = fh.read()
    extra = {"timeout": timeout} if timeout is not None else {}
    return Registries(credentials=credentials, ca=ca, allow_insecure=allow_insecure, egress=egress, **extra)


def docker_credentials(data: dict[str, bytes], what: str, ref: str) -> dict[str, Credentials]:
    """Registry host -> credentials of a ``kubernetes.io/dockerconfigjson`` (or ``dockercfg``) Secret's data."""
    try:
        if ".dockerconfigjson" in data:
            return load_docker_config(json.loads(data[".dockerconfigjson"]))
        if ".dockercfg" in data:
            return load_docker_config({"auths": json.loads(data[".dockercfg"])})
    except (ValueError, AttributeError, UnicodeDecodeError) as exc:
        raise VernoError(f"{what}: Secret {ref} holds no valid docker config: {exc}") from None
    raise VernoError(f"{what}: Secret {ref} has no .dockerconfigjson")


def named_secret_credentials(cluster: Any, named: list[tuple[str, str]]) -> dict[str, Credentials]:
    """Registry host -> credentials of the docker-config Secrets ``named`` (``(field, "[namespace/]name")``,
    a bare name in verno's own namespace, ``cluster.namespace``; later entries win). A Secret that is missing
    or holds no docker config is an error naming the field."""
    from verno.core.signatures.secrets import secret_data

    out: dict[str, Credentials] = {}
    own = getattr(cluster, "namespace", "") or ""
    for what, entry in named:
        ns, _, name = str(entry).rpartition("/")
        ns = ns or own
        if not ns:
            raise VernoError(f"{what}: Secret {entry}: verno's own namespace is unknown (set POD_NAMESPACE) "
                             "or name it as <namespace>/<name>")
        data = secret_data(cluster, ns, name, what)
        assert data is not None
        out.update(docker_credentials(data, what, f"{ns}/{name}"))
    return out


def with_credentials(base: Registries, extra: dict[str, Credentials], pools: dict[Any, Registries]) -> Registries:
    """A pool using ``base``'s settings and credentials with ``extra`` merged over them (kept per set)."""
    if not extra:
        return base
    key = (id(base), tuple(sorted(extra.items())))
    with _pools_lock:
        pool = pools.get(key)
        if pool is None:
            if len(pools) >= _MAX_POOLS:  # dropped, not closed: another thread may still be using it
                pools.pop(next(iter(pools)))
            pool = pools[key] = base.with_credentials({**base.credentials, **extra})
    return pool
