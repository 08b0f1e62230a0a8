"""The validating-admission side of verifyImages (Kyverno's ``ValidateImages``): no registry access.

At admission, images are verified (and pinned) by the mutating webhook, which records each verdict in
the ``kyverno.io/verify-images`` annotation. The validating webhook then checks, for every image a
rule's ``imageReferences`` select:

* ``verifyDigest``: the image carries a digest, else ``missing digest for <image>``;
* ``required``: the annotation says ``pass`` or ``skip`` for it, else the image was not verified.

The server selects this mode with ``Sources.webhook = "validate"``; the registry client stays in place
for other consumers (the ``imageRegistry`` context loader).
"""
from __future__ import annotations

from typing import Any

from verno.core.results import RuleResponse, Status
from verno.plugins.verifyimages.verdicts import ANNOTATION, recorded_verdicts


def _recorded(verdicts: dict[str, str], info: dict[str, Any]) -> str:
    """The verdict recorded for an image, by its reference or (once pinned) its reference with tag."""
    for key in (info["reference"], info.get("referenceWithTag") or ""):
        if key in verdicts:
            return verdicts[key]
    base = info["reference"].split("@", 1)[0]
    return verdicts.get(base, "")


def check_images(rc: Any, entries: list[Any], images: list[dict[str, Any]], in_scope: Any) -> list[RuleResponse]:
    """One response per image a rule selects: pass, or fail naming the missing digest / verification."""
    verdicts = recorded_verdicts(rc.resource) or {}
    responses: list[RuleResponse] = []
    for iv in entries:
        for info in images:
            if iv.image_references and not in_scope(iv.image_references, info):
                continue
            ref = info["reference"]
            if iv.skip_image_references and in_scope(iv.skip_image_references, info):
                responses.append(rc.response(Status.SKIP, f"image {ref} skipped (skipImageReferences)"))
                continue
            if iv.verify_digest and not info.get("digest"):
                responses.append(rc.response(Status.FAIL, f"missing digest for {ref}"))
                continue
            verdict = _recorded(verdicts, info)
            if iv.required and verdict not in ("pass", "skip"):
                why = f"verification recorded as {verdict}" if verdict else "no verification recorded"
                responses.append(rc.response(Status.FAIL, f"unverified image {ref} ({why} in the {ANNOTATION} "
                                                          "annotation)"))
                continue
            responses.append(rc.response(Status.PASS, f"image {ref} verified"))
    return responses
