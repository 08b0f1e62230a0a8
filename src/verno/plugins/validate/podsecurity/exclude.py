"""``exclude`` entries and PolicyException ``podSecurity`` entries (K: pkg/pss/evaluate.go
``ApplyPodSecurityExclusion``, ``exemptExclusions``, ``GetPodWithMatchingContainers``).

An entry names a control; without ``images`` it forgives the pod-level failures of that control, with
``images`` the failures of the containers whose image matches. ``restrictedField`` (with ``[*]`` for
indexes) and ``values`` (wildcards, every offending value must match) narrow it further.
"""
from __future__ import annotations

import re
from typing import Any

from verno.core.wildcard import match_any
from verno.plugins.validate.podsecurity.evaluate import (
    CONTROL_CHECK_IDS,
    CheckOutcome,
    LevelVersion,
    evaluate_pss,
)
from verno.plugins.validate.podsecurity.model import FieldError, as_list

_INDEX = re.compile(r"\d+")
_WORD = re.compile(r"[a-zA-Z]+")
CONTAINER_TYPES = ("containers", "initContainers", "ephemeralContainers")


def _strings(value: Any) -> list[str]:
    return [v for v in as_list(value) if isinstance(v, str)]


def matching_pod(exclude: dict, meta: dict, spec: dict) -> tuple[dict, dict, bool]:
    """The pod an entry is evaluated on: (metadata, spec, container-level?)."""
    images = _strings(exclude.get("images"))
    if not images:
        pod_spec = {k: v for k, v in spec.items() if k not in CONTAINER_TYPES}
        pod_spec["containers"] = [{"name": "fake"}]
        return meta, pod_spec, False
    narrowed: dict[str, Any] = {}
    for key in CONTAINER_TYPES:
        kept = [c for c in as_list(spec.get(key)) if isinstance(c, dict)
                and match_any(images, c.get("image") if isinstance(c.get("image"), str) else "")]
        if kept:
            narrowed[key] = kept
    small_meta = {k: meta[k] for k in ("name", "namespace") if k in meta}
    return small_meta, narrowed, True


def _parse_field(path: str) -> tuple[str, list[int], bool, str]:
    indexes = [int(m) for m in _INDEX.findall(path)]
    words = _WORD.findall(path)
    kind = words[1] if len(words) > 1 else ""
    return _INDEX.sub("*", path), indexes, kind in CONTAINER_TYPES, kind


def _container_name(spec: dict, kind: str, index: int) -> str:
    items = as_list(spec.get(kind))
    if 0 <= index < len(items) and isinstance(items[index], dict):
        name = items[index].get("name")
        return name if isinstance(name, str) else ""
    return ""


def bad_values(err: FieldError) -> list[str]:
    value = err.bad_value
    if isinstance(value, bool):
        return ["true" if value else "false"]
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, int):
        return [str(value)]
    if isinstance(value, list):
        return [str(v) for v in value]
    return []


def _locate(err: FieldError, spec: dict, container_level: bool) -> tuple[str, str | None]:
    """(field with ``[*]``, container name when the field is a container's, else None)."""
    if not container_level:
        return _INDEX.sub("*", err.field), None
    path, indexes, is_container, kind = _parse_field(err.field)
    if is_container and indexes:
        return path, _container_name(spec, kind, indexes[0])
    return path, None


def _remove(errors: list[FieldError], index: int) -> None:
    """Go's swap-with-last removal (it reorders what remains, as Kyverno's does)."""
    errors[index] = errors[-1]
    errors.pop()


def exempt(defaults: list[CheckOutcome], excluded: list[CheckOutcome], exclude: dict, spec: dict, narrowed: dict,
           container_level: bool) -> list[CheckOutcome]:
    by_id: dict[str, CheckOutcome] = {}
    for result in defaults:
        by_id[result.id] = result
    restricted_field = exclude.get("restrictedField") or ""
    values = _strings(exclude.get("values"))
    ids = CONTROL_CHECK_IDS.get(exclude.get("controlName") or "", ())
    for ex_result in excluded:
        if ex_result.id not in ids:
            continue
        for ex_err in ex_result.result.errors:
            ex_field, ex_container = _locate(ex_err, narrowed, container_level)
            if restricted_field and ex_field != restricted_field:
                continue
            if values and not all(match_any(values, v) for v in bad_values(ex_err)):
                continue
            current = by_id.get(ex_result.id)
            if current is None:
                continue
            for idx, err in enumerate(current.result.errors):
                field, container = _locate(err, spec, container_level)
                if field != ex_field:
                    continue
                if container is not None and (ex_container or "") != container:
                    continue
                _remove(current.result.errors, idx)
                break
            if not current.result.errors:
                del by_id[ex_result.id]
    return list(by_id.values())


def apply_exclusions(lv: LevelVersion, excludes: list[dict], results: list[CheckOutcome], meta: dict,
                     spec: dict) -> list[CheckOutcome]:
    """``ApplyPodSecurityExclusion``: ``results`` less what the entries forgive."""
    for exclude in excludes:
        if not isinstance(exclude, dict):
            continue
        ex_meta, ex_spec, container_level = matching_pod(exclude, meta, spec)
        excluded = evaluate_pss(lv, ex_meta, ex_spec)
        results = exempt(results, excluded, exclude, spec, ex_spec, container_level)
    return results
