"""The verdicts the mutating webhook records (Kyverno's ``ImageVerificationMetadata``): image -> pass, fail or
skip, as JSON in the ``kyverno.io/verify-images`` annotation of the admitted object.

Each verifyImages rule records its own verdicts on its patched object; the engine chains passing
responses only, so :func:`admitted_object` (the ``verno_admitted_object`` hook) merges the verdicts of
every rule, failed and erred ones too, into the object the webhook admits. A "pass" written by the
requester thus never stands for an image that did not verify.
"""
from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from typing import Any

ANNOTATION = "kyverno.io/verify-images"


def recorded_verdicts(resource: dict[str, Any]) -> dict[str, str] | None:
    """The annotation's image -> pass|fail|skip map; None when absent or not a JSON map."""
    raw = ((resource.get("metadata") or {}).get("annotations") or {}).get(ANNOTATION)
    if not raw:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else None


def admitted_object(responses: Iterable[Any], resource: dict[str, Any]) -> dict[str, Any] | None:
    """``resource`` with every verdict the verifyImages rules recorded (a failure is never overwritten), or
    None when it already carries exactly those (or there are none)."""
    verdicts: dict[str, str] = {}
    for response in responses:
        for rule in response.rules:
            if rule.rule_type == "ImageVerify" and rule.patched_resource is not None:
                for image, verdict in (recorded_verdicts(rule.patched_resource) or {}).items():
                    if verdicts.get(image) != "fail":
                        verdicts[image] = verdict
    if not verdicts or recorded_verdicts(resource) == verdicts:
        return None
    out = copy.deepcopy(resource)
    meta = out.setdefault("metadata", {})
    meta["annotations"] = {**(meta.get("annotations") or {}),
                           ANNOTATION: json.dumps(verdicts, separators=(",", ":"), sort_keys=True)}
    return out
