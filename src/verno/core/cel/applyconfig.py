"""Mutations of Kubernetes' MutatingAdmissionPolicy and Kyverno's MutatingPolicy applied to an object.

* :func:`apply_configuration`: an apply configuration (``Object{...}``, a partial object) merged into the
  object as server-side apply merges (structured-merge-diff): maps merge field by field, scalars are
  replaced, a list of ``x-kubernetes-list-type: map`` merges its elements by their keys (a Pod's
  ``containers`` by ``name``), a ``set`` list takes the union, and every other list is atomic. An apply
  configuration may not write an atomic list (Kubernetes: ``may not mutate atomic arrays, maps or structs``,
  so that values it leaves out are not removed by accident) unless ``replace_atomic`` is set (Kyverno's
  ``evaluation.useServerSideApply``), which replaces atomic lists wholesale.
* :func:`apply_json_patch`: a list of ``JSONPatch{op, path, from, value}`` applied as RFC 6902 (the
  ``jsonpatch`` package).

The list semantics of the built-in types are those of Kubernetes' OpenAPI (``x-kubernetes-list-type`` and
``x-kubernetes-list-map-keys``) for the fields policies write: Pod specs (also under a workload's
``spec.template`` and a CronJob's ``spec.jobTemplate.spec.template``), containers, object metadata and
Service ports. A field the table does not describe (and any field of a custom resource) has lists atomic
and maps merged, as Kubernetes' deduced schema has.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import jsonpatch

__all__ = ["MutationError", "apply_configuration", "apply_json_patch"]


class MutationError(ValueError):
    """The mutation cannot be applied (its message says why, naming the path)."""


@dataclass(frozen=True)
class ListType:
    #: ``map`` (merged by ``keys``), ``set`` (union) or ``atomic``
    kind: str
    keys: tuple[str, ...] = ()
    element: Struct | None = None


@dataclass(frozen=True)
class Struct:
    fields: dict[str, Struct | ListType] = field(default_factory=dict)


ATOMIC = ListType("atomic")


def _map(*keys: str, element: Struct | None = None) -> ListType:
    return ListType("map", keys, element)


OBJECT_META = Struct({"finalizers": ListType("set"), "ownerReferences": _map("uid")})
CONTAINER = Struct({
    "ports": _map("containerPort", "protocol"),
    "env": _map("name"),
    "volumeMounts": _map("mountPath"),
    "volumeDevices": _map("devicePath"),
})
POD_SPEC = Struct({
    "containers": _map("name", element=CONTAINER),
    "initContainers": _map("name", element=CONTAINER),
    "ephemeralContainers": _map("name", element=CONTAINER),
    "volumes": _map("name"),
    "imagePullSecrets": _map("name"),
    "hostAliases": _map("ip"),
    "topologySpreadConstraints": _map("topologyKey", "whenUnsatisfiable"),
    "resourceClaims": _map("name"),
    "schedulingGates": _map("name"),
})
POD_TEMPLATE = Struct({"metadata": OBJECT_META, "spec": POD_SPEC})
WORKLOAD = Struct({"metadata": OBJECT_META, "spec": Struct({"template": POD_TEMPLATE})})
CRONJOB = Struct({"metadata": OBJECT_META, "spec": Struct({"jobTemplate": Struct({
    "metadata": OBJECT_META, "spec": Struct({"template": POD_TEMPLATE})})})})
#: ``(group, kind)`` -> the structure of the kind's objects
SCHEMAS: dict[tuple[str, str], Struct] = {
    ("", "Pod"): Struct({"metadata": OBJECT_META, "spec": POD_SPEC}),
    ("", "PodTemplate"): Struct({"metadata": OBJECT_META, "template": POD_TEMPLATE}),
    ("", "ReplicationController"): WORKLOAD,
    ("apps", "Deployment"): WORKLOAD,
    ("apps", "ReplicaSet"): WORKLOAD,
    ("apps", "StatefulSet"): WORKLOAD,
    ("apps", "DaemonSet"): WORKLOAD,
    ("batch", "Job"): WORKLOAD,
    ("batch", "CronJob"): CRONJOB,
    ("", "Service"): Struct({"metadata": OBJECT_META, "spec": Struct({"ports": _map("port", "protocol")})}),
}
#: any other kind: only its metadata is known
DEFAULT = Struct({"metadata": OBJECT_META})


def schema_for(obj: Any) -> Struct:
    if not isinstance(obj, dict):
        return DEFAULT
    api_version = str(obj.get("apiVersion") or "")
    group = api_version.split("/", 1)[0] if "/" in api_version else ""
    return SCHEMAS.get((group, str(obj.get("kind") or "")), DEFAULT)


def apply_configuration(obj: dict[str, Any], patch: Any, *, replace_atomic: bool = False,
                        deduced: bool = False) -> dict[str, Any]:
    """``obj`` (not changed) with the apply configuration ``patch`` merged in. ``deduced``: the kind's
    structure is not used (Kubernetes' deduced schema: maps merge, every list is atomic)."""
    if not isinstance(patch, dict):
        raise MutationError(f"an apply configuration must be an object, got {_type(patch)}")
    schema = Struct() if deduced else schema_for(obj)
    if not replace_atomic:
        atomic = _atomics(patch, schema, "")
        if atomic:
            raise MutationError(f"may not mutate atomic arrays, maps or structs: {', '.join(atomic)}")
    return _merge_map(copy.deepcopy(obj), patch, schema, "")


def _type(value: Any) -> str:
    return {dict: "map", list: "list", str: "string", bool: "bool", type(None): "null"}.get(type(value),
                                                                                             type(value).__name__)


def _child(schema: Struct | ListType | None, name: str) -> Struct | ListType | None:
    return schema.fields.get(name) if isinstance(schema, Struct) else None


def _atomics(value: Any, schema: Struct | ListType | None, path: str) -> list[str]:
    if isinstance(value, dict):
        out: list[str] = []
        for key, item in value.items():
            out.extend(_atomics(item, _child(schema, str(key)), f"{path}.{key}"))
        return out
    if isinstance(value, list):
        kind = schema.kind if isinstance(schema, ListType) else "atomic"
        if kind == "atomic":
            return [path or "."]
        if kind == "map":
            element = schema.element if isinstance(schema, ListType) else None
            return [p for i, item in enumerate(value) for p in _atomics(item, element, f"{path}[{i}]")]
    return []


def _merge(live: Any, patch: Any, schema: Struct | ListType | None, path: str) -> Any:
    if isinstance(patch, dict) and isinstance(live, dict):
        return _merge_map(live, patch, schema if isinstance(schema, Struct) else None, path)
    if isinstance(patch, list) and isinstance(live, list) and isinstance(schema, ListType):
        if schema.kind == "map":
            return _merge_list_map(live, patch, schema, path)
        if schema.kind == "set":
            return live + [x for x in patch if x not in live]
    return copy.deepcopy(patch)


def _merge_map(live: dict[str, Any], patch: dict[str, Any], schema: Struct | None, path: str) -> dict[str, Any]:
    for key, value in patch.items():
        if value is None:
            live.pop(key, None)
            continue
        live[key] = _merge(live.get(key), value, _child(schema, key), f"{path}.{key}")
    return live


def _key(item: Any, keys: tuple[str, ...], path: str) -> tuple[Any, ...]:
    if not isinstance(item, dict):
        raise MutationError(f"{path}: an element of a list keyed by {', '.join(keys)} must be an object, "
                            f"got {_type(item)}")
    if keys[0] not in item:
        raise MutationError(f"{path}: associative list with keys has an element that omits key field "
                            f"{keys[0]!r}")
    return tuple(_plain(item.get(k)) for k in keys)


def _plain(value: Any) -> Any:
    return float(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _merge_list_map(live: list[Any], patch: list[Any], schema: ListType, path: str) -> list[Any]:
    positions: dict[tuple[Any, ...], int] = {}
    out = list(live)
    for i, item in enumerate(live):
        if isinstance(item, dict) and schema.keys[0] in item:
            positions.setdefault(_key(item, schema.keys, f"{path}[{i}]"), i)
    seen: set[tuple[Any, ...]] = set()
    for i, item in enumerate(patch):
        key = _key(item, schema.keys, f"{path}[{i}]")
        if key in seen:
            raise MutationError(f"{path}: duplicate entries for key {', '.join(f'{k}={v!r}' for k, v in zip(schema.keys, key))}")
        seen.add(key)
        at = positions.get(key)
        if at is None:
            positions[key] = len(out)
            out.append(copy.deepcopy(item))
        else:
            out[at] = _merge(out[at], item, schema.element, f"{path}[{at}]")
    return out


_OPS = ("add", "remove", "replace", "move", "copy", "test")


def apply_json_patch(obj: dict[str, Any], operations: Any) -> dict[str, Any]:
    """``obj`` (not changed) with the ``JSONPatch`` operations applied in order (RFC 6902)."""
    if not isinstance(operations, list):
        raise MutationError(f"a JSON patch must be a list of JSONPatch, got {_type(operations)}")
    ops: list[dict[str, Any]] = []
    for i, op in enumerate(operations):
        if not isinstance(op, dict):
            raise MutationError(f"JSONPatch {i}: expected a JSONPatch, got {_type(op)}")
        name = op.get("op")
        if name not in _OPS:
            raise MutationError(f"JSONPatch {i}: unsupported op {name!r}: use one of {', '.join(_OPS)}")
        if not isinstance(op.get("path"), str):
            raise MutationError(f"JSONPatch {i}: path must be a string")
        entry = {"op": name, "path": op["path"]}
        if name in ("move", "copy"):
            if not isinstance(op.get("from"), str):
                raise MutationError(f"JSONPatch {i}: {name} needs a from path")
            entry["from"] = op["from"]
        if name in ("add", "replace", "test"):
            if "value" not in op:
                raise MutationError(f"JSONPatch {i}: {name} needs a value")
            entry["value"] = op["value"]
        ops.append(entry)
    try:
        return jsonpatch.JsonPatch(ops).apply(obj, in_place=False)
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
        raise MutationError(str(exc)) from None
    except (KeyError, IndexError, TypeError) as exc:
        raise MutationError(f"cannot apply the JSON patch: {exc}") from None
