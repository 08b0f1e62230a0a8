"""Kubernetes Secrets the signature checks read through the cluster client (``cluster.get_secret``): a key's
PEM in ``cosign.pub`` (as ``cosign generate-key-pair k8s://`` stores it), a registry pull secret's data.
Without a cluster a Secret is an error naming it, never ignored."""
from __future__ import annotations

import base64
import binascii
from typing import Any

from verno.core.errors import VernoError

COSIGN_PUB = "cosign.pub"


def needs_cluster(what: str, ref: str) -> VernoError:
    return VernoError(f"{what}: Secret {ref} needs cluster access (verno serve --kubeconfig or --in-cluster)")


def secret_data(cluster: Any, namespace: str, name: str, what: str, *, required: bool = True) -> dict[str, bytes] | None:
    """The Secret's decoded ``data`` (and ``stringData``); None when absent and not ``required``."""
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


def secret_public_key(cluster: Any, namespace: str, name: str, what: str) -> str:
    """The PEM in the Secret's ``cosign.pub``."""
    if cluster is None:
        raise needs_cluster(what, f"{namespace}/{name}")
    data = secret_data(cluster, namespace, name, what)
    assert data is not None
    pem = data.get(COSIGN_PUB)
    if not pem:
        raise VernoError(f"{what}: Secret {namespace}/{name} has no {COSIGN_PUB}")
    return pem.decode(errors="replace")
