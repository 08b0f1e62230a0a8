"""An ImageValidatingPolicy's attestors: their CEL-valued fields, and a cosign attestor as the core's
neutral :class:`~verno.core.signatures.attestor.Attestor`.

As Kyverno's ``CompiledAttestor`` does, ``cosign.key.expression``, ``cosign.certificate.cert.expression``,
``cosign.certificate.certChain.expression``, ``cosign.trustedRoot.expression`` and the notary
``certs.expression`` / ``tsaCerts.expression`` are compiled with the policy and evaluated (strings) into the
attestor the ``attestors`` variable binds (``key.data``, ``cert.value`` ...).

cosign fields: ``key{data | expression, hashAlgorithm}`` (``kms`` is not supported), ``keyless{identities,
roots, additionalExtensions}``, ``certificate{cert, certChain}``, ``source{repository, tagPrefix,
PullSecrets}``, ``ctlog{url, rekorPubKey, ctLogPubKey, insecureIgnoreTlog, insecureIgnoreSCT}``,
``trustedRoot`` (its CA chains, Rekor and CT log keys) and ``annotations``. verno never contacts the public
Sigstore services: ``tuf``, ``ctlog.tsaCertChain`` and keyless attestors without roots (or a trustedRoot)
are errors naming the attestor.
"""
from __future__ import annotations

import copy
from typing import Any

from verno.core.errors import VernoError
from verno.core.signatures.attestor import PUBLIC_REKOR, Attestor, CTLog, Identity, Rekor
from verno.core.signatures.trustroot import trust_material

#: (path to the expression, path the value goes to) per attestor type
EXPRESSION_FIELDS = {
    "cosign": ((("key", "expression"), ("key", "data")),
               (("certificate", "cert", "expression"), ("certificate", "cert", "value")),
               (("certificate", "certChain", "expression"), ("certificate", "certChain", "value")),
               (("trustedRoot", "expression"), ("trustedRoot", "value"))),
    "notary": ((("certs", "expression"), ("certs", "value")),
               (("tsaCerts", "expression"), ("tsaCerts", "value"))),
}


def _get(node: Any, path: tuple[str, ...]) -> Any:
    for step in path:
        node = node.get(step) if isinstance(node, dict) else None
    return node


def expressions(attestor: dict[str, Any]) -> list[tuple[str, tuple[str, ...], str]]:
    """(field path for messages, path the value goes to, expression) of one attestor's CEL-valued fields."""
    out = []
    for kind, fields in EXPRESSION_FIELDS.items():
        spec = attestor.get(kind)
        if not isinstance(spec, dict):
            continue
        for source, target in fields:
            expr = _get(spec, source)
            if isinstance(expr, str) and expr:
                out.append((".".join((kind, *source)), (kind, *target), expr))
    return out


def with_values(attestor: dict[str, Any], values: list[tuple[tuple[str, ...], str]]) -> dict[str, Any]:
    """A copy of ``attestor`` with each evaluated expression's value put in place."""
    if not values:
        return attestor
    out = copy.deepcopy(attestor)
    for path, value in values:
        node = out
        for step in path[:-1]:
            nxt = node.get(step)
            if not isinstance(nxt, dict):
                nxt = node[step] = {}
            node = nxt
        node[path[-1]] = value
    return out


def _text(value: Any, where: str) -> str:
    """A PEM field given as a string or as ``{value}``."""
    if value is None:
        return ""
    if isinstance(value, dict):
        value = value.get("value") or ""
    if not isinstance(value, str):
        raise VernoError(f"{where} must be a string")
    return value


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise VernoError(f"{where} must be a mapping")
    return value


def cosign_attestor(name: str, cosign: dict[str, Any]) -> Attestor:
    """The neutral attestor of one ``cosign`` attestor (expressions already evaluated)."""
    where = f"attestor {name}"
    cosign = _mapping(cosign, f"{where}: cosign")
    if cosign.get("tuf"):
        raise VernoError(f"{where}: cosign.tuf needs the network (a TUF mirror); verno works offline: "
                         "give keyless.roots and ctlog keys, or a trustedRoot")
    ctlog = _mapping(cosign.get("ctlog"), f"{where}: cosign.ctlog")
    if ctlog.get("tsaCertChain"):
        raise VernoError(f"{where}: cosign.ctlog.tsaCertChain (timestamp authorities) is not supported")
    roots, rekor_key, ct_key = "", str(ctlog.get("rekorPubKey") or ""), str(ctlog.get("ctLogPubKey") or "")
    trusted = _text(cosign.get("trustedRoot"), f"{where}: cosign.trustedRoot")
    if trusted:
        try:
            material = trust_material(trusted)
        except VernoError as exc:
            raise VernoError(f"{where}: {exc}") from None
        roots, rekor_key, ct_key = material.roots, rekor_key or material.rekor_pubkey, ct_key or material.ctlog_pubkey
    source = _mapping(cosign.get("source"), f"{where}: cosign.source")
    annotations = _mapping(cosign.get("annotations"), f"{where}: cosign.annotations")
    common: dict[str, Any] = {
        "rekor": Rekor(str(ctlog.get("url") or PUBLIC_REKOR), rekor_key, bool(ctlog.get("insecureIgnoreTlog"))),
        "ctlog": CTLog(bool(ctlog.get("insecureIgnoreSCT")), ct_key),
        "annotations": {str(k): str(v) for k, v in annotations.items()},
        "repository": str(source.get("repository") or ""), "tag_prefix": str(source.get("tagPrefix") or ""),
    }
    if cosign.get("key") is not None:
        key = _mapping(cosign["key"], f"{where}: cosign.key")
        if key.get("kms") and not key.get("data"):
            raise VernoError(f"{where}: cosign.key.kms ({key['kms']}): KMS keys are not supported; "
                             "give the public key in key.data")
        data = _text(key.get("data"), f"{where}: cosign.key.data")
        if not data.strip():
            raise VernoError(f"{where}: cosign.key needs data (a PEM public key) or an expression giving one")
        alg = str(key.get("hashAlgorithm") or "sha256")
        return Attestor("keys", where, key=data, signature_algorithm=alg, **common)
    if cosign.get("keyless") is not None:
        keyless = _mapping(cosign["keyless"], f"{where}: cosign.keyless")
        identities = []
        for i, raw in enumerate(keyless.get("identities") or []):
            raw = _mapping(raw, f"{where}: cosign.keyless.identities[{i}]")
            identities.append(Identity(str(raw.get("subject") or ""), str(raw.get("subjectRegExp") or ""),
                                       str(raw.get("issuer") or ""), str(raw.get("issuerRegExp") or "")))
        if not identities:
            raise VernoError(f"{where}: cosign.keyless.identities needs at least one identity")
        extensions = _mapping(keyless.get("additionalExtensions"), f"{where}: cosign.keyless.additionalExtensions")
        return Attestor("keyless", where, roots=str(keyless.get("roots") or "") or roots,
                        identities=tuple(identities), extensions={str(k): str(v) for k, v in extensions.items()},
                        **common)
    if cosign.get("certificate") is not None:
        cert = _mapping(cosign["certificate"], f"{where}: cosign.certificate")
        return Attestor("certificates", where, cert=_text(cert.get("cert"), f"{where}: cosign.certificate.cert"),
                        cert_chain=_text(cert.get("certChain"), f"{where}: cosign.certificate.certChain"), **common)
    raise VernoError(f"{where}: cosign needs key, keyless or certificate")
