"""The four PATCH kinds: JSON patch (RFC 6902), JSON merge patch (RFC 7386), strategic merge patch (built-in
kinds; merge keys for the common keyed lists and the `$patch`, `$retainKeys`, `$deleteFromPrimitiveList`,
`$setElementOrder` directives) and a simplified server-side apply (an upsert merged like a strategic merge patch,
without field ownership or conflicts)."""
from __future__ import annotations

import copy
from typing import Any

import jsonpatch

from .status import APIError, bad_request

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
APPLY = "application/apply-patch+yaml"
UNSUPPORTED = APIError(415, "the body of the request was in an unknown format - accepted media types include: "
                       "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
                       "UnsupportedMediaType")

# Merge keys of keyed lists in built-in kinds, by the list field's name (the key is the same wherever the name
# appears, except `ports`, decided per element).
MERGE_KEYS = {
    "containers": "name", "initContainers": "name", "ephemeralContainers": "name", "env": "name",
    "volumes": "name", "volumeMounts": "mountPath", "volumeDevices": "devicePath", "imagePullSecrets": "name",
    "hostAliases": "ip", "topologySpreadConstraints": "topologyKey", "ownerReferences": "uid",
    "conditions": "type", "resourceClaims": "name", "schedulingGates": "name", "readinessGates": "conditionType",
    "secrets": "name", "ephemeralContainerStatuses": "name", "containerStatuses": "name",
    "initContainerStatuses": "name",
}
# Primitive lists whose patch strategy is merge (a set union).
MERGED_PRIMITIVE_LISTS = {"finalizers"}


def json_patch(doc: dict[str, Any], ops: Any) -> dict[str, Any]:
    if not isinstance(ops, list):
        raise bad_request("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    try:
        patch = jsonpatch.JsonPatch(ops)
        return patch.apply(doc)
    except jsonpatch.JsonPatchTestFailed as exc:
        raise APIError(422, f"the server rejected our request due to an error in our request: {exc}", "Invalid")
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException, KeyError, IndexError, TypeError) as exc:
        raise APIError(422, f"the server rejected our request due to an error in our request: {exc}", "Invalid")


def merge_patch(doc: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(doc) if isinstance(doc, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def strategic_merge_patch(doc: dict[str, Any], patch: Any) -> dict[str, Any]:
    if not isinstance(patch, dict):
        raise bad_request("json: cannot unmarshal array into Go value of type map[string]interface {}")
    result = _smp_map(doc, patch)
    return result if result is not None else {}


def _smp_map(doc: Any, patch: dict[str, Any]) -> dict[str, Any] | None:
    directive = patch.get("$patch")
    if directive == "delete":
        return None
    body = {k: v for k, v in patch.items() if k != "$patch"}
    if directive == "replace":
        return _strip_directives(body)
    if directive not in (None, "merge"):
        raise bad_request(f"Unknown patch type: {directive}")
    out = dict(doc) if isinstance(doc, dict) else {}
    retain = body.pop("$retainKeys", None)
    orders: dict[str, list] = {}
    for key, value in body.items():
        if key.startswith("$setElementOrder/"):
            orders[key.split("/", 1)[1]] = value
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            name = key.split("/", 1)[1]
            if isinstance(out.get(name), list):
                out[name] = [v for v in out[name] if v not in (value or [])]
            continue
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict):
            merged = _smp_map(out.get(key), value)
            if merged is None:
                out.pop(key, None)
            else:
                out[key] = merged
        elif isinstance(value, list):
            out[key] = _smp_list(key, out.get(key), value)
        else:
            out[key] = value
    for name, order in orders.items():
        if isinstance(out.get(name), list):
            out[name] = _ordered(name, out[name], order)
    if retain is not None:
        out = {k: v for k, v in out.items() if k in retain}
    return out


def _merge_key(name: str, items: list) -> str | None:
    if name == "ports":
        sample = next((i for i in items if isinstance(i, dict)), None)
        if sample is None:
            return None
        return "containerPort" if "containerPort" in sample else "port"
    return MERGE_KEYS.get(name)


def _smp_list(name: str, current: Any, patch: list) -> list:
    current = current if isinstance(current, list) else []
    if any(isinstance(i, dict) and i.get("$patch") == "replace" for i in patch):
        return _strip_directives([i for i in patch if not (isinstance(i, dict) and i.get("$patch") == "replace")])
    if name in MERGED_PRIMITIVE_LISTS and all(not isinstance(i, (dict, list)) for i in patch):
        return current + [v for v in patch if v not in current]
    key = _merge_key(name, patch or current)
    if key is None or not all(isinstance(i, dict) for i in patch):
        return _strip_directives(patch)
    out = [copy.deepcopy(i) for i in current]
    for item in patch:
        idx = next((n for n, cur in enumerate(out) if isinstance(cur, dict) and cur.get(key) == item.get(key)), None)
        if item.get("$patch") == "delete":
            if idx is not None:
                out.pop(idx)
            continue
        if idx is None:
            out.append(_strip_directives(item))
        else:
            merged = _smp_map(out[idx], item)
            out[idx] = merged if merged is not None else out[idx]
    return out


def _ordered(name: str, items: list, order: list) -> list:
    key = _merge_key(name, order if order and isinstance(order[0], dict) else items)
    ident = (lambda i: i.get(key) if isinstance(i, dict) else i) if key else (lambda i: i)
    wanted = [ident(o) if isinstance(o, dict) else o for o in order]
    ranked = sorted(items, key=lambda i: wanted.index(ident(i)) if ident(i) in wanted else len(wanted))
    return ranked


def _strip_directives(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_directives(v) for k, v in value.items()
                if not k.startswith("$patch") and not k.startswith("$setElementOrder/")
                and not k.startswith("$retainKeys") and not k.startswith("$deleteFromPrimitiveList/")}
    if isinstance(value, list):
        return [_strip_directives(v) for v in value]
    return value


def apply_patch(doc: dict[str, Any] | None, patch: Any, builtin: bool) -> dict[str, Any]:
    """Server-side apply, simplified: the applied configuration merged into the live object (keyed lists of
    built-in kinds merged by key, other lists replaced); fields dropped from an earlier apply are kept."""
    if not isinstance(patch, dict):
        raise bad_request("error decoding YAML: the applied configuration is not an object")
    if doc is None:
        return _strip_directives(patch)
    return strategic_merge_patch(doc, patch) if builtin else merge_patch(doc, patch)
