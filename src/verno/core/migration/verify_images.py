"""``verifyImages`` rules as ImageValidatingPolicies.

One ``verifyImages`` entry of type Cosign becomes one policy:

* ``imageReferences`` (and the legacy ``image``) -> ``matchImageReferences`` globs (Kyverno's wildcard and the
  policy's glob both let ``*`` cross ``/``); with ``skipImageReferences`` one expression over ``ref`` instead;
* a match condition that some container, init container or ephemeral container image is selected: Kyverno
  gives no result for a resource whose images the rule does not select, an ImageValidatingPolicy would pass;
* each attestor entry -> a cosign attestor: ``keys.publicKeys`` (PEM; one attestor per key, as verno's
  verifyImages reads several keys) with ``signatureAlgorithm``, ``certificates{cert, certChain}``,
  ``keyless{subject, issuer, subjectRegExp, issuerRegExp, roots}``; ``rekor``/``ctlog`` settings ->
  ``ctlog``; entry ``annotations`` and ``repository``;
* each attestor set -> one validation: every selected image verified by at least ``count`` (default: all) of
  the set's attestors;
* ``mutateDigest``, ``verifyDigest``, ``required`` -> ``validationConfigurations`` (``verifyDigest`` only
  without ``mutateDigest``: Kyverno checks digests after pinning them);
  ``imageRegistryCredentials`` -> ``credentials``.

Left untranslated, with the reason: attestations (their conditions read the statement with JMESPath),
Notary rules, keys held in Secrets or KMS, nested attestors, image extractors, several entries in one rule.
"""
from __future__ import annotations

import json
import re
from typing import Any

from verno.core.migration.errors import Untranslatable
from verno.core.migration.literals import glob_regex
from verno.core.migration.model import RuleMigration

__all__ = ["verify_images"]

_PEM = re.compile(r"-----BEGIN PUBLIC KEY-----.*?-----END PUBLIC KEY-----", re.S)
_IMAGES = "(images.containers + images.initContainers + images.ephemeralContainers)"
_POD_LISTS = ("containers", "initContainers", "ephemeralContainers")


def _ctlog(raw: dict[str, Any]) -> dict[str, Any]:
    rekor, ctlog = raw.get("rekor") or {}, raw.get("ctlog") or {}
    out: dict[str, Any] = {}
    if rekor.get("url"):
        out["url"] = rekor["url"]
    if rekor.get("pubkey"):
        out["rekorPubKey"] = rekor["pubkey"]
    if rekor.get("ignoreTlog"):
        out["insecureIgnoreTlog"] = True
    if ctlog.get("pubkey"):
        out["ctLogPubKey"] = ctlog["pubkey"]
    if ctlog.get("ignoreSCT"):
        out["insecureIgnoreSCT"] = True
    return out


def _attestors(entry: dict[str, Any], where: str) -> list[dict[str, Any]]:
    """The cosign attestors (without names) of one attestor entry."""
    common: dict[str, Any] = {}
    if entry.get("annotations"):
        common["annotations"] = dict(entry["annotations"])
    if entry.get("repository"):
        common["source"] = {"repository": entry["repository"]}
    if entry.get("attestor") is not None:
        raise Untranslatable(f"{where}: nested attestors (no ImageValidatingPolicy form)")
    if entry.get("keys") is not None:
        keys = entry["keys"]
        if keys.get("kms") or keys.get("secret") or str(keys.get("publicKeys") or "").strip().startswith("k8s://"):
            raise Untranslatable(f"{where}: keys held in a Secret or a KMS (give the PEM key)")
        pems = _PEM.findall(str(keys.get("publicKeys") or ""))
        if not pems:
            raise Untranslatable(f"{where}: keys without a PEM public key")
        algorithm = keys.get("signatureAlgorithm") or entry.get("signatureAlgorithm")
        key: dict[str, Any] = {}
        if algorithm:
            key["hashAlgorithm"] = algorithm
        return [{"cosign": {"key": {"data": pem, **key}, "ctlog": _ctlog(keys), **common}} for pem in pems]
    if entry.get("certificates") is not None:
        c = entry["certificates"]
        cert = {"cert": {"value": c.get("cert") or ""}}
        if c.get("certChain"):
            cert["certChain"] = {"value": c["certChain"]}
        return [{"cosign": {"certificate": cert, "ctlog": _ctlog(c), **common}}]
    if entry.get("keyless") is not None:
        k = entry["keyless"]
        if k.get("additionalExtensions"):
            raise Untranslatable(f"{where}: keyless additionalExtensions (no ImageValidatingPolicy form)")
        identity = {f: k[f] for f in ("subject", "issuer", "subjectRegExp", "issuerRegExp") if k.get(f)}
        keyless: dict[str, Any] = {"identities": [identity]}
        if k.get("roots"):
            keyless["roots"] = k["roots"]
        return [{"cosign": {"keyless": keyless, "ctlog": _ctlog(k), **common}}]
    raise Untranslatable(f"{where}: an attestor entry without keys, certificates or keyless")


def _selection(refs: list[str], skips: list[str]) -> tuple[list[dict[str, Any]], Any]:
    """(``matchImageReferences``, a function giving the CEL test of the image string a name holds)."""
    def test(var: str) -> str:
        chosen = " || ".join(f"{var}.matches({json.dumps(glob_regex(r))})" for r in refs)
        if not skips:
            return chosen
        skipped = " || ".join(f"{var}.matches({json.dumps(glob_regex(s))})" for s in skips)
        return f"({chosen}) && !({skipped})"

    if not skips:
        return [{"glob": r} for r in refs], test
    return [{"expression": test("ref")}], test


def _some_image(test: Any) -> str:
    """Some container image of the Pod (or, through autogen, of the Pod template) is selected."""
    lists = " + ".join(f"(has(object.spec.{name}) ? object.spec.{name} : [])" for name in _POD_LISTS)
    return f"({lists}).exists(c, has(c.image) && ({test('c.image')}))"


def verify_images(policy: Any, rule: Any) -> RuleMigration:
    entries = rule.verify_images or []
    if len(entries) != 1:
        raise Untranslatable("several verifyImages entries in one rule (write one rule per entry)")
    raw = entries[0]
    if (raw.get("type") or "Cosign") != "Cosign":
        raise Untranslatable(f"verifyImages type {raw.get('type')} (only Cosign rules translate)")
    if raw.get("attestations"):
        raise Untranslatable("verifyImages attestations (their conditions read the statement with JMESPath)")
    if rule.image_extractors:
        raise Untranslatable("imageExtractors (an ImageValidatingPolicy's images expressions differ)")
    refs = list(raw.get("imageReferences") or ([raw["image"]] if raw.get("image") else []))
    if not refs:
        raise Untranslatable("a verifyImages entry without imageReferences")
    if not raw.get("attestors") and not raw.get("key"):
        raise Untranslatable("a verifyImages entry without attestors (an ImageValidatingPolicy needs one)")
    references, test = _selection(refs, list(raw.get("skipImageReferences") or []))
    attestors: list[dict[str, Any]] = []
    validations: list[dict[str, Any]] = []
    legacy = [{"entries": [{"keys": {"publicKeys": raw["key"]}}]}] if raw.get("key") else []
    for i, aset in enumerate(raw.get("attestors") or legacy):
        names: list[str] = []
        for j, entry in enumerate(aset.get("entries") or []):
            for k, attestor in enumerate(_attestors(entry, f"attestors[{i}].entries[{j}]")):
                name = f"a{i}e{j}" + (f"k{k}" if k else "")
                attestors.append({"name": name, **attestor})
                names.append(name)
        if not names:
            continue
        need = aset.get("count") or len(names)
        listed = ", ".join(f"attestors.{n}" for n in names)
        validations.append({"expression": f"{_IMAGES}.all(i, verifyImageSignatures(i, [{listed}]) >= {need})",
                            "message": f"image signature verification failed: fewer than {need} of "
                                       f"attestor set {i} verified"})
    mutate_digest = raw.get("mutateDigest", True) is not False
    spec: dict[str, Any] = {
        "validationActions": ["Deny"] if (raw.get("failureAction") or policy.spec.validation_failure_action)
        == "Enforce" else ["Audit"],
        "matchImageReferences": references,
        "attestors": attestors,
        # Kyverno checks verifyDigest after mutateDigest pinned the tags; an ImageValidatingPolicy checks it on
        # the resource as admitted (its /mutate pinned them already in a cluster, nothing pins them offline)
        "validationConfigurations": {"mutateDigest": mutate_digest,
                                     "verifyDigest": raw.get("verifyDigest", True) is not False and not mutate_digest,
                                     "required": raw.get("required", True) is not False},
        "validations": validations,
    }
    creds = raw.get("imageRegistryCredentials") or {}
    if creds:
        spec["credentials"] = {k: v for k, v in (("allowInsecureRegistry", creds.get("allowInsecureRegistry")),
                                                 ("secrets", creds.get("secrets"))) if v}
    if policy.spec.failure_policy:
        spec["failurePolicy"] = policy.spec.failure_policy
    if not policy.spec.background:
        spec["evaluation"] = {"background": {"enabled": False}}
    return RuleMigration("ImageValidatingPolicy", spec, [("images-selected", _some_image(test))])
