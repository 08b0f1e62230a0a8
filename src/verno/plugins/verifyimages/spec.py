"""A ``verifyImages`` entry as typed data (K: api/kyverno/v1/image_verification_types.go).

Deprecated fields (``image``, ``key``, ``roots``, ``subject``, ``issuer``, ``annotations``,
``additionalExtensions``) are folded into their replacements; several PEM keys in one ``keys`` entry
become one entry each (Kyverno's ``expandStaticKeys``), so ``count`` counts keys.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from verno.core.errors import VernoError
from verno.core.signatures.attestor import PUBLIC_REKOR, Attestor, AttestorSet, CTLog, Identity, Rekor

_PEM_BLOCK = re.compile(r"-----BEGIN [A-Z ]+-----.*?-----END [A-Z ]+-----", re.S)


class SpecError(VernoError):
    """The verifyImages entry itself is invalid."""


@dataclass
class Attestation:
    name: str
    type: str
    attestors: list[AttestorSet]
    conditions: list[Any]
    raw: dict[str, Any]


@dataclass
class ImageVerification:
    type: str
    image_references: list[str]
    skip_image_references: list[str]
    attestors: list[AttestorSet]
    attestations: list[Attestation]
    repository: str
    mutate_digest: bool
    verify_digest: bool
    required: bool
    use_cache: bool
    allow_insecure: bool
    raw: dict[str, Any]


def _mapping(value: Any, where: str) -> dict[str, Any]:
    """``value`` when it is a mapping (None reads as empty); otherwise a SpecError naming the field."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise SpecError(f"{where} must be a mapping, got {type(value).__name__}")
    return value


def _mappings(value: Any, where: str) -> list[dict[str, Any]]:
    """A list of mappings (None reads as empty)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise SpecError(f"{where} must be a list, got {type(value).__name__}")
    return [_mapping(item, f"{where}[{i}]") for i, item in enumerate(value)]


def _strings(value: Any, where: str) -> list[str]:
    """A list of strings (None reads as empty)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise SpecError(f"{where} must be a list of strings, got {type(value).__name__}")
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise SpecError(f"{where}[{i}] must be a string, got {type(item).__name__}")
    return list(value)


def _rekor(d: dict[str, Any] | None) -> Rekor:
    d = d or {}
    return Rekor(d.get("url") or PUBLIC_REKOR, d.get("pubkey") or "", bool(d.get("ignoreTlog")))


def _ctlog(d: dict[str, Any] | None) -> CTLog:
    d = d or {}
    return CTLog(bool(d.get("ignoreSCT")), d.get("pubkey") or "")


def _key_secret(k: dict[str, Any], where: str) -> tuple[str, str] | None:
    """``publicKeys: k8s://ns/name`` or ``secret: {name, namespace}`` -> (namespace, name)."""
    ref = (k.get("publicKeys") or "").strip()
    if ref.startswith("k8s://"):
        ns, _, name = ref[len("k8s://"):].partition("/")
        if not ns or not name or "/" in name:
            raise SpecError(f"{where}.publicKeys: {ref} is not k8s://<namespace>/<name>")
        return ns, name
    secret = k.get("secret")
    if isinstance(secret, dict) and not ref:
        if not secret.get("name") or not secret.get("namespace"):
            raise SpecError(f"{where}.secret needs name and namespace")
        return str(secret["namespace"]), str(secret["name"])
    return None


def _entries(raw: dict[str, Any], where: str) -> list[Attestor]:
    common = {"annotations": dict(_mapping(raw.get("annotations"), f"{where}.annotations")),
              "repository": raw.get("repository") or ""}
    for kind in ("keys", "certificates", "keyless", "attestor"):
        if raw.get(kind) is not None:
            _mapping(raw[kind], f"{where}.{kind}")
            for sub in ("rekor", "ctlog"):
                _mapping(raw[kind].get(sub), f"{where}.{kind}.{sub}")
    if raw.get("keys") is not None:
        k = raw["keys"]
        if not isinstance(k.get("publicKeys") or "", str):
            raise SpecError(f"{where}.keys.publicKeys must be a string")
        pems = _PEM_BLOCK.findall(k.get("publicKeys") or "")
        alg = k.get("signatureAlgorithm") or raw.get("signatureAlgorithm") or "sha256"
        secret = _key_secret(k, f"{where}.keys") if not pems else None
        if secret is not None:
            return [Attestor("keys", f"{where}.keys", key_secret=secret, signature_algorithm=alg,
                             rekor=_rekor(k.get("rekor")), ctlog=_ctlog(k.get("ctlog")), **common)]
        if not pems:
            if k.get("kms"):
                raise SpecError(f"{where}.keys: KMS keys are not supported")
            raise SpecError(f"{where}.keys: publicKeys holds no PEM key")
        return [Attestor("keys", f"{where}.keys" + (f"[{i}]" if len(pems) > 1 else ""), key=pem,
                         signature_algorithm=alg, rekor=_rekor(k.get("rekor")), ctlog=_ctlog(k.get("ctlog")),
                         **common) for i, pem in enumerate(pems)]
    if raw.get("certificates") is not None:
        c = raw["certificates"]
        return [Attestor("certificates", f"{where}.certificates", cert=c.get("cert") or "",
                         cert_chain=c.get("certChain") or "", rekor=_rekor(c.get("rekor")),
                         ctlog=_ctlog(c.get("ctlog")), **common)]
    if raw.get("keyless") is not None:
        k = raw["keyless"]
        return [Attestor("keyless", f"{where}.keyless", roots=k.get("roots") or "",
                         identities=(Identity(k.get("subject") or "", k.get("subjectRegExp") or "",
                                              k.get("issuer") or "", k.get("issuerRegExp") or ""),),
                         extensions=dict(k.get("additionalExtensions") or {}), rekor=_rekor(k.get("rekor")),
                         ctlog=_ctlog(k.get("ctlog")), **common)]
    if raw.get("attestor") is not None:
        return [Attestor("attestor", f"{where}.attestor", nested=attestor_set(raw["attestor"], f"{where}.attestor"),
                         **common)]
    raise SpecError(f"{where}: an attestor entry needs keys, certificates, keyless or attestor")


def attestor_set(raw: dict[str, Any], where: str) -> AttestorSet:
    raw = _mapping(raw, where)
    entries: list[Attestor] = []
    for i, e in enumerate(_mappings(raw.get("entries"), f"{where}.entries")):
        entries.extend(_entries(e, f"{where}.entries[{i}]"))
    count = raw.get("count")
    if count is not None and (not isinstance(count, int) or isinstance(count, bool) or count < 1):
        raise SpecError(f"{where}.count must be at least 1")
    if count is not None and count > len(entries):
        raise SpecError(f"{where}.count {count} exceeds the {len(entries)} entries")
    return AttestorSet(entries, count, where)


def _legacy_attestors(raw: dict[str, Any]) -> list[dict[str, Any]]:
    if raw.get("key"):
        return [{"entries": [{"keys": {"publicKeys": raw["key"]}}]}]
    if raw.get("roots") or raw.get("subject") or raw.get("issuer"):
        return [{"entries": [{"keyless": {"roots": raw.get("roots"), "subject": raw.get("subject"),
                                          "issuer": raw.get("issuer"),
                                          "additionalExtensions": raw.get("additionalExtensions")}}]}]
    return []


def parse(raw: dict[str, Any]) -> ImageVerification:
    raw = _mapping(raw, "verifyImages entry")
    if raw.get("imageReferences") is not None:
        refs = _strings(raw["imageReferences"], ".imageReferences")
    else:
        refs = _strings([raw["image"]] if raw.get("image") else [], ".image")
    attestors_raw = _mappings(raw.get("attestors"), ".attestors") or _legacy_attestors(raw)
    if raw.get("annotations"):
        for i, s in enumerate(attestors_raw):
            for e in _mappings(s.get("entries"), f".attestors[{i}].entries"):
                e.setdefault("annotations", raw["annotations"])
    attestors = [attestor_set(s, f".attestors[{i}]") for i, s in enumerate(attestors_raw)]
    attestations = []
    for i, a in enumerate(_mappings(raw.get("attestations"), ".attestations")):
        kind = a.get("type") or a.get("predicateType") or ""
        if not kind or not isinstance(kind, str):
            raise SpecError(f".attestations[{i}]: type is required (a string)")
        sets = [attestor_set(s, f".attestations[{i}].attestors[{j}]")
                for j, s in enumerate(_mappings(a.get("attestors"), f".attestations[{i}].attestors"))]
        conditions = a.get("conditions") or []
        if not isinstance(conditions, list):
            raise SpecError(f".attestations[{i}].conditions must be a list, got {type(conditions).__name__}")
        attestations.append(Attestation(a.get("name") or kind, kind, sets, list(conditions), a))
    _strings(raw.get("skipImageReferences"), ".skipImageReferences")
    creds = _mapping(raw.get("imageRegistryCredentials"), ".imageRegistryCredentials")
    return ImageVerification(
        type=raw.get("type") or "Cosign", image_references=refs,
        skip_image_references=list(raw.get("skipImageReferences") or []), attestors=attestors,
        attestations=attestations, repository=raw.get("repository") or "",
        mutate_digest=raw.get("mutateDigest", True) is not False, verify_digest=raw.get("verifyDigest", True) is not False,
        required=raw.get("required", True) is not False, use_cache=raw.get("useCache", True) is not False,
        allow_insecure=bool(creds.get("allowInsecureRegistry")), raw=raw)
