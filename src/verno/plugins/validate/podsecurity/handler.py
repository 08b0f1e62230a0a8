"""The ``validate.podSecurity`` rule (K: pkg/engine/handlers/validation/validate_pss.go).

The pod spec comes from a Pod, a Pod controller's ``spec.template`` or a CronJob's
``spec.jobTemplate.spec.template`` (with, as Kyverno reads it, the Job template's metadata). A failing
pod may still be let through by a PolicyException with ``podSecurity`` entries, which the pipeline hands
over as ``rc.pod_security_exception``: when its entries forgive every failure the rule is skipped.
"""
from __future__ import annotations

import json
import re
from typing import Any

from verno.core.results import RuleResponse, Status
from verno.plugins.validate.podsecurity.evaluate import (
    CheckOutcome,
    PodSecurityError,
    evaluate_pod,
    format_checks,
    parse_level_version,
)
from verno.plugins.validate.podsecurity.exclude import apply_exclusions
from verno.plugins.validate.podsecurity.model import as_dict, as_list

CONTROLLERS = ("DaemonSet", "Deployment", "Job", "StatefulSet", "ReplicaSet", "ReplicationController")
_CONTAINER_NAMES = re.compile(r"container(?:s)?\s*(.*?)\s*must")


def pod_of(resource: dict) -> tuple[dict, dict] | None:
    """(metadata, spec) of the pod a resource describes, or None for other kinds."""
    kind = resource.get("kind")
    spec = as_dict(resource.get("spec"))
    if kind in CONTROLLERS:
        template = as_dict(spec.get("template"))
        return as_dict(template.get("metadata")), as_dict(template.get("spec"))
    if kind == "CronJob":
        job = as_dict(spec.get("jobTemplate"))
        return as_dict(job.get("metadata")), as_dict(as_dict(as_dict(job.get("spec")).get("template")).get("spec"))
    if kind == "Pod":
        return as_dict(resource.get("metadata")), spec
    return None


def convert_fields(checks: list[CheckOutcome], kind: str) -> None:
    """``convertChecks``: report field paths as the resource has them."""
    for check in checks:
        for err in check.result.errors:
            if kind in CONTROLLERS:
                err.field = err.field.replace("spec", "spec.template.spec")
            elif kind == "CronJob":
                err.field = err.field.replace("spec", "spec.jobTemplate.spec.template.spec")
            err.field = err.field.replace("metadata", "spec.template.metadata")


def add_images(checks: list[CheckOutcome], images: dict[str, Any] | None) -> None:
    """``addImages``: the images of the containers a check's detail names."""
    for check in checks:
        m = _CONTAINER_NAMES.search(check.result.detail)
        if m is None:
            continue
        names = m.group(1).replace('"', "").replace(" ", "").split(",")
        check.images = [_image_of(name, images or {}) for name in names]


def _image_of(name: str, images: dict[str, Any]) -> str:
    for group in ("containers", "initContainers", "ephemeralContainers"):
        info = as_dict(images.get(group)).get(name)
        if isinstance(info, dict) and info.get("reference"):
            return str(info["reference"])
    return name


def properties(level: str, version: str, checks: list[CheckOutcome]) -> dict[str, str]:
    """The report properties Kyverno adds for failed checks (K: pkg/utils/report ``addPodSecurityProperties``)."""
    if not checks:
        return {}
    controls = [{"ID": c.id, "Name": c.control, "Images": c.images} for c in checks]
    return {
        "standard": level,
        "version": version,
        "controls": ",".join(c.id for c in checks),
        "controlsJSON": json.dumps(controls, separators=(",", ":")),
    }


def _response(rc: Any, status: Status, message: str, props: dict[str, str], **extra: Any) -> RuleResponse:
    response = rc.response(status, message, **extra)
    response.properties.update(props)
    return response


def validate_pod_security(rc: Any) -> RuleResponse | None:
    """The rule's response, or None for a DELETE request (Kyverno gives none)."""
    if rc.request.operation == "DELETE":
        return None
    spec = as_dict(rc.rule.rule.validate_.pod_security)
    rule_name = rc.rule.name
    resource = rc.resource or rc.request.old_resource or {}
    pod = pod_of(resource)
    if pod is None:
        return rc.response(Status.ERROR, "Error while getting new resource: could not find correct resource type")
    meta, pod_spec = pod
    level, version = str(spec.get("level") or ""), str(spec.get("version") or "")
    try:
        lv = parse_level_version(level, version)
    except PodSecurityError as exc:
        return rc.response(Status.ERROR, f"failed to parse pod security api version: {exc}")
    excludes = [e for e in as_list(spec.get("exclude")) if isinstance(e, dict)]
    allowed, checks = evaluate_pod(lv, excludes, meta, pod_spec)
    convert_fields(checks, str(resource.get("kind")))
    from verno.core.variables_builtin import images_of

    add_images(checks, images_of(rc.request))
    props = properties(level, version, checks)
    if allowed:
        return _response(rc, Status.PASS, f"Validation rule '{rule_name}' passed.", props)
    exception = getattr(rc, "pod_security_exception", None)
    if exception is not None:
        entries = [e for e in as_list(exception.spec.pod_security) if isinstance(e, dict)]
        checks = apply_exclusions(lv, entries, checks, meta, pod_spec)
        if not checks:
            return _response(rc, Status.SKIP, f"rule skipped due to policy exception {exception.key}", {},
                             exception=exception.key)
    message = (f"Validation rule '{rule_name}' failed. It violates PodSecurity \"{level}:{version}\": "
               f"{format_checks(checks)}")
    return _response(rc, Status.FAIL, message, props)
