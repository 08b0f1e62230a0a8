"""Kubernetes Secrets in verifyImages (cluster mode), read through ``Sources.cluster.get_secret``.

- ``imageRegistryCredentials.secrets``: ``name`` (in verno's own namespace, as Kyverno reads them from
  its namespace) or ``namespace/name``; each a ``kubernetes.io/dockerconfigjson`` (or ``dockercfg``)
  Secret. The Pod's own ``spec.imagePullSecrets`` (in the Pod's namespace) are added, as Kyverno does.
  They are merged over the docker config credentials for that one verification.
- attestor keys ``publicKeys: k8s://ns/name`` and ``secret: {name, namespace}``: the PEM in the
  Secret's ``cosign.pub`` (as ``cosign generate-key-pair k8s://`` stores it).

Without a cluster, policy entries naming a Secret are a rule error naming it, never ignored; a Pod's
``imagePullSecrets`` are then not read (offline, the docker config is the credential source).
"""
from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import threading
from typing import Any

from verno.core.errors import VernoError
from verno.plugins.verifyimages.spec import Attestor, AttestorSet, ImageVerification
from verno.registry import Registries
from verno.registry.auth import Credentials, load_docker_config

COSIGN_PUB = "cosign.pub"
_MAX_POOLS = 64
_pools_lock = threading.Lock()


def _secret_data(cluster: Any, namespace: str, name: str, what: str, *, required: bool = True) -> dict[str, bytes] | None:
    secret = cluster.get_secret(namespace, name)
    if secret is None:
        if required:
            raise VernoError(f"{what}: Secret {namespace}/{name} not found")
        return None
    out: dict[str, bytes] = {}
    for key, value in (secret.get("data") or {}).items():
        try:
            out[key] = base64.b64decode(value or "", validate=True)
        except (binascii.Error, ValueError):
            raise VernoError(f"{what}: Secret {namespace}/{name} key {key} is not base64") from None
    for key, value in (secret.get("stringData") or {}).items():
        out.setdefault(key, str(value).encode())
    return out


def _needs_cluster(what: str, ref: str) -> VernoError:
    return VernoError(f"{what}: Secret {ref} needs cluster access (verno serve --kubeconfig or --in-cluster)")


# -- keys --------------------------------------------------------------------------------------------------
def _resolve_entry(entry: Attestor, cluster: Any) -> Attestor:
    if entry.nested is not None:
        return dataclasses.replace(entry, nested=_resolve_set(entry.nested, cluster))
    if entry.key_secret is None:
        return entry
    ns, name = entry.key_secret
    if cluster is None:
        raise _needs_cluster(entry.where, f"{ns}/{name}")
    data = _secret_data(cluster, ns, name, entry.where)
    assert data is not None
    pem = data.get(COSIGN_PUB)
    if not pem:
        raise VernoError(f"{entry.where}: Secret {ns}/{name} has no {COSIGN_PUB}")
    return dataclasses.replace(entry, key=pem.decode(errors="replace"))


def _resolve_set(aset: AttestorSet, cluster: Any) -> AttestorSet:
    return dataclasses.replace(aset, entries=[_resolve_entry(e, cluster) for e in aset.entries])


def _uses_secrets(aset: AttestorSet) -> bool:
    return any(e.key_secret is not None or (e.nested is not None and _uses_secrets(e.nested)) for e in aset.entries)


def resolve_keys(iv: ImageVerification, cluster: Any) -> tuple[ImageVerification, tuple[str, ...]]:
    """``iv`` with Secret-held keys read (a copy; the parsed entry is shared), and those PEMs (for cache keys)."""
    sets = [*iv.attestors, *(a for att in iv.attestations for a in att.attestors)]
    if not any(_uses_secrets(s) for s in sets):
        return iv, ()
    attestors = [_resolve_set(s, cluster) for s in iv.attestors]
    attestations = [dataclasses.replace(att, attestors=[_resolve_set(s, cluster) for s in att.attestors])
                    for att in iv.attestations]
    pems: list[str] = []

    def collect(aset: AttestorSet) -> None:
        for e in aset.entries:
            if e.nested is not None:
                collect(e.nested)
            elif e.key_secret is not None:
                pems.append(e.key)

    for s in [*attestors, *(a for att in attestations for a in att.attestors)]:
        collect(s)
    return dataclasses.replace(iv, attestors=attestors, attestations=attestations), tuple(pems)


# -- registry credentials ------------------------------------------------------------------------------------
def _docker_credentials(data: dict[str, bytes], what: str, ref: str) -> dict[str, Credentials]:
    try:
        if ".dockerconfigjson" in data:
            return load_docker_config(json.loads(data[".dockerconfigjson"]))
        if ".dockercfg" in data:
            return load_docker_config({"auths": json.loads(data[".dockercfg"])})
    except (ValueError, AttributeError, UnicodeDecodeError) as exc:
        raise VernoError(f"{what}: Secret {ref} holds no valid docker config: {exc}") from None
    raise VernoError(f"{what}: Secret {ref} has no .dockerconfigjson")


def secret_credentials(iv: ImageVerification, resource: dict[str, Any], cluster: Any) -> dict[str, Credentials]:
    """Registry host -> credentials from the policy's and the Pod's Secrets (later entries win)."""
    what = "imageRegistryCredentials.secrets"
    entries = list((iv.raw.get("imageRegistryCredentials") or {}).get("secrets") or [])
    out: dict[str, Credentials] = {}
    if entries and cluster is None:
        raise _needs_cluster(what, ", ".join(str(e) for e in entries))
    if cluster is None:
        return out
    own = getattr(cluster, "namespace", "") or ""
    for entry in entries:
        ns, _, name = str(entry).rpartition("/")
        ns = ns or own
        if not ns:
            raise VernoError(f"{what}: Secret {entry}: verno's own namespace is unknown (set POD_NAMESPACE) "
                             "or name it as <namespace>/<name>")
        data = _secret_data(cluster, ns, name, what)
        assert data is not None
        out.update(_docker_credentials(data, what, f"{ns}/{name}"))
    spec = resource.get("spec") or {}
    pod_ns = (resource.get("metadata") or {}).get("namespace") or ""
    if pod_ns and resource.get("kind") == "Pod":
        for ref in spec.get("imagePullSecrets") or []:
            name = (ref or {}).get("name") if isinstance(ref, dict) else None
            if not name:
                continue
            # a Pod may name pull secrets that do not exist (the kubelet tolerates it): skip those
            data = _secret_data(cluster, pod_ns, name, "imagePullSecrets", required=False)
            if data is not None:
                out.update(_docker_credentials(data, "imagePullSecrets", f"{pod_ns}/{name}"))
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
