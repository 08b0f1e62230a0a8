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

import dataclasses
from typing import Any

from verno.core.signatures.secrets import needs_cluster, secret_data, secret_public_key
from verno.plugins.verifyimages.spec import Attestor, AttestorSet, ImageVerification
from verno.registry.access import docker_credentials, named_secret_credentials
from verno.registry.auth import Credentials


# -- keys --------------------------------------------------------------------------------------------------
def _resolve_entry(entry: Attestor, cluster: Any) -> Attestor:
    if entry.nested is not None:
        return dataclasses.replace(entry, nested=_resolve_set(entry.nested, cluster))
    if entry.key_secret is None:
        return entry
    ns, name = entry.key_secret
    return dataclasses.replace(entry, key=secret_public_key(cluster, ns, name, entry.where))


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
def secret_credentials(iv: ImageVerification, resource: dict[str, Any], cluster: Any) -> dict[str, Credentials]:
    """Registry host -> credentials from the policy's and the Pod's Secrets (later entries win)."""
    what = "imageRegistryCredentials.secrets"
    entries = list((iv.raw.get("imageRegistryCredentials") or {}).get("secrets") or [])
    out: dict[str, Credentials] = {}
    if entries and cluster is None:
        raise needs_cluster(what, ", ".join(str(e) for e in entries))
    if cluster is None:
        return out
    out.update(named_secret_credentials(cluster, [(what, str(e)) for e in entries]))
    spec = resource.get("spec") or {}
    pod_ns = (resource.get("metadata") or {}).get("namespace") or ""
    if pod_ns and resource.get("kind") == "Pod":
        for ref in spec.get("imagePullSecrets") or []:
            name = (ref or {}).get("name") if isinstance(ref, dict) else None
            if not name:
                continue
            # a Pod may name pull secrets that do not exist (the kubelet tolerates it): skip those
            data = secret_data(cluster, pod_ns, name, "imagePullSecrets", required=False)
            if data is not None:
                out.update(docker_credentials(data, "imagePullSecrets", f"{pod_ns}/{name}"))
    return out
