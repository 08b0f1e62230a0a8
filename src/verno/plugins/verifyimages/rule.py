"""The verifyImages rule handler: images in scope, digests, verification, digest pinning, annotation.

One response per image in scope: ``pass`` ("verified image signatures for <image>"), ``fail``
("failed to verify image <image>: <why>"), ``skip`` (``skipImageReferences``) or ``error`` (the
registry cannot be reached, the policy needs public Sigstore services). Passing responses carry the
resource with every verified tag pinned to ``<image:tag>@<digest>`` (``mutateDigest``) and the
``kyverno.io/verify-images`` annotation, which the engine hands to later rules; failing and erring
responses carry it too (with their ``fail`` verdicts) for the webhook, which records every verdict.
"""
from __future__ import annotations

import copy
import hashlib
import json
import weakref
from typing import Any

from verno.core import wildcard
from verno.core.errors import VernoError
from verno.core.images import extract_images
from verno.core.memo import IdentityMemo
from verno.core.results import RuleResponse, Status
from verno.plugins.verifyimages.attest import check_attestation
from verno.core.signatures.bundle import bundle_offline_problem, verify_bundles
from verno.core.signatures.cache import TTLCache
from verno.core.signatures.cosign import Target, check_offline, verify_attestor_set, verify_signatures
from verno.core.signatures.crypto import VerifyFailure
from verno.plugins.verifyimages.secrets import resolve_keys, secret_credentials
from verno.plugins.verifyimages.spec import ImageVerification, parse
from verno.plugins.verifyimages.validate_phase import check_images
from verno.plugins.verifyimages.verdicts import ANNOTATION
from verno.registry import Registries
from verno.registry.access import registries_for as _registries_for, with_credentials

_parsed = IdentityMemo(parse, maxsize=1024)
_fingerprint = IdentityMemo(lambda raw: hashlib.sha256(json.dumps(raw, sort_keys=True, default=str).encode())
                            .hexdigest(), maxsize=1024)
_has_variables = IdentityMemo(lambda raw: "{{" in json.dumps({k: v for k, v in raw.items() if k != "attestations"},
                                                               default=str), maxsize=1024)
_engine_state: "weakref.WeakKeyDictionary[Any, dict[str, Any]]" = weakref.WeakKeyDictionary()


def state(engine: Any) -> dict[str, Any]:
    """Per-engine state: the result cache and, when the sources bring none, a registry pool."""
    s = _engine_state.get(engine)
    if s is None:
        s = _engine_state[engine] = {"cache": TTLCache(), "registries": {}, "credentialed": {}}
    return s


def registries_for(rc: Any) -> Registries:
    return _registries_for(rc.sources, state(rc.engine)["registries"], "verifyImages")


def _entries(rc: Any) -> list[ImageVerification]:
    out = []
    for raw in rc.rule.rule.verify_images or []:
        if _has_variables(raw):
            substituted = rc.substitute({k: v for k, v in raw.items() if k != "attestations"})
            substituted["attestations"] = raw.get("attestations")
            out.append(parse(substituted))
        else:
            out.append(_parsed(raw))
    return out


def _images(rc: Any) -> list[dict[str, Any]]:
    groups = extract_images(rc.resource, rc.rule.rule.image_extractors, search=rc.engine.jmespath.search)
    return [info for group in groups.values() for info in group.values()]


def _in(patterns: list[str], info: dict[str, Any]) -> bool:
    refs = (info["reference"], info["referenceWithTag"])
    return any(wildcard.match(p, r) for p in patterns for r in refs)


def verify_images_rule(rc: Any) -> list[RuleResponse]:
    try:
        entries = _entries(rc)
        images = _images(rc)
    except VernoError as exc:
        return [rc.response(Status.ERROR, f"failed to verify images: {exc}")]
    if getattr(rc.sources, "webhook", "") == "validate":
        responses = check_images(rc, entries, images, _in)
        if responses:
            return responses
        refs = ", ".join(r for iv in entries for r in iv.image_references)
        return [rc.response(Status.SKIP, f"skip run verification as image in resource not found in imageRefs '{refs}'")]
    responses: list[RuleResponse] = []
    pins: dict[str, str] = {}
    verdicts: dict[str, str] = {}
    for iv in entries:
        scoped = [i for i in images if not iv.image_references or _in(iv.image_references, i)]
        for info in scoped:
            ref = info["reference"]
            # a pinned image keeps the key it was recorded under when its tag was verified, so a
            # reinvoked mutation leaves the annotation as it is
            key = info["referenceWithTag"] if info.get("digest") and info.get("tag") else ref
            if iv.skip_image_references and _in(iv.skip_image_references, info):
                verdicts[key] = "skip"
                responses.append(rc.response(Status.SKIP, f"image {ref} skipped (skipImageReferences)"))
                continue
            status, message, digest = _verify_image(rc, iv, info)
            verdicts[key] = {"pass": "pass", "fail": "fail"}.get(status.value, verdicts.get(key, "fail"))
            if status == Status.PASS and iv.mutate_digest and not info.get("digest") and digest:
                pins[info["jsonPointer"]] = f"{info['referenceWithTag']}@{digest}"
            responses.append(rc.response(status, message))
    if not responses:
        refs = ", ".join(r for iv in entries for r in iv.image_references)
        return [rc.response(Status.SKIP, f"skip run verification as image in resource not found in imageRefs '{refs}'")]
    if verdicts:
        # every verdict is recorded, failures too (Kyverno's ImageVerificationMetadata); the engine chains
        # passing responses only, and the webhook also records the verdicts of failed and erred ones, so
        # a "pass" written by the requester never stands for an image that did not verify
        patched = _patched(rc.resource, pins, verdicts)
        for r in responses:
            if r.status in (Status.PASS, Status.FAIL, Status.ERROR):
                r.patched_resource = patched
    return responses


def _verify_image(rc: Any, iv: ImageVerification, info: dict[str, Any]) -> tuple[Status, str, str]:
    ref = info["reference"]
    if iv.type not in ("Cosign", "SigstoreBundle"):
        return Status.ERROR, f"failed to verify image {ref}: verifyImages type {iv.type} is not supported", ""
    if not iv.mutate_digest and iv.verify_digest and not info.get("digest"):
        return Status.FAIL, f"missing digest for {ref}", ""
    bundles = iv.type == "SigstoreBundle"
    try:
        for aset in [*iv.attestors, *(a for att in iv.attestations for a in att.attestors)]:
            if bundles:
                problem = next((m for e in aset.entries if (m := bundle_offline_problem(e))), "")
                if problem:
                    raise VernoError(problem)
            else:
                check_offline(aset.entries)
        cluster = getattr(rc.sources, "cluster", None)
        iv, secret_keys = resolve_keys(iv, cluster)
        extra = secret_credentials(iv, rc.resource, cluster)
        registries = with_credentials(registries_for(rc), extra, state(rc.engine)["credentialed"])
        client = registries.client(info.get("registry", ""), insecure=iv.allow_insecure)
        digest = info.get("digest") or client.resolve(info["path"], info.get("tag") or "latest").digest
    except VernoError as exc:
        return Status.ERROR, f"failed to verify image {ref}: {exc}", ""
    cache = state(rc.engine)["cache"] if iv.use_cache else None
    key = (rc.policy.key if hasattr(rc.policy, "key") else rc.policy.name, rc.rule.name, _fingerprint(iv.raw), digest,
           secret_keys, tuple(sorted(extra.items())))
    if cache is not None:
        hit = cache.get(key)
        if hit is not None:
            return hit[0], hit[1], digest
    target = Target(ref, info.get("registry", ""), info["path"], digest, registries, iv.allow_insecure, iv.repository)
    try:
        if bundles:
            for aset in iv.attestors:
                verify_attestor_set(aset, lambda e: verify_bundles(e, target))
            for att in iv.attestations:
                check_attestation(rc, att, target, lambda e, t: verify_bundles(e, t, None))
        else:
            for aset in iv.attestors:
                verify_attestor_set(aset, lambda e: verify_signatures(e, target))
            for att in iv.attestations:
                check_attestation(rc, att, target)
        outcome = (Status.PASS, f"verified image signatures for {ref}")
    except VerifyFailure as exc:
        outcome = (Status.FAIL, f"failed to verify image {ref}: {exc}")
    except VernoError as exc:
        return Status.ERROR, f"failed to verify image {ref}: {exc}", digest
    if cache is not None:
        cache.put(key, outcome)
    return outcome[0], outcome[1], digest


def _patched(resource: dict[str, Any], pins: dict[str, str], verdicts: dict[str, str]) -> dict[str, Any]:
    out = copy.deepcopy(resource)
    for pointer, image in pins.items():
        parts = [p.replace("~1", "/").replace("~0", "~") for p in pointer.strip("/").split("/")]
        node: Any = out
        for p in parts[:-1]:
            node = node[int(p)] if isinstance(node, list) else node[p]
        node[parts[-1]] = image
    meta = out.setdefault("metadata", {})
    annotations = meta.get("annotations") or {}
    try:
        previous = json.loads(annotations.get(ANNOTATION) or "{}")
    except ValueError:
        previous = {}
    meta["annotations"] = {**annotations, ANNOTATION: json.dumps({**previous, **verdicts}, separators=(",", ":"),
                                                                   sort_keys=True)}
    return out
