"""Server-side printing (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`), which `kubectl get` asks for:
Name, then a CRD's additionalPrinterColumns (default: Age), or Name and Age (and Status for namespaces) for
built-in kinds."""
from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

from .resources import ResourceType

TABLE_ACCEPT = re.compile(r"as=Table", re.I)


def wants_table(accept: str) -> bool:
    return bool(TABLE_ACCEPT.search(accept or ""))


def columns(rt: ResourceType) -> list[dict[str, Any]]:
    cols = [{"name": "Name", "type": "string", "format": "name", "description": "Name must be unique within a "
             "namespace.", "priority": 0}]
    if not rt.builtin:
        for col in rt.printer_columns:
            cols.append({"name": col["name"], "type": col.get("type", "string"), "format": col.get("format", ""),
                         "description": col.get("description", ""), "priority": col.get("priority", 0)})
        return cols
    if (rt.group, rt.plural) == ("", "namespaces"):
        cols.append({"name": "Status", "type": "string", "format": "", "description": "The status of the namespace",
                     "priority": 0})
    cols.append({"name": "Age", "type": "string", "format": "", "description": "CreationTimestamp",
                 "priority": 0})
    return cols


def row(rt: ResourceType, obj: dict[str, Any], include: str) -> dict[str, Any]:
    meta = obj.get("metadata") or {}
    cells: list[Any] = [meta.get("name")]
    if not rt.builtin:
        for col in rt.printer_columns:
            value = jsonpath(obj, col["jsonPath"])
            if col.get("type") == "date" and isinstance(value, str):
                value = age(value)
            cells.append(value)
    else:
        if (rt.group, rt.plural) == ("", "namespaces"):
            cells.append((obj.get("status") or {}).get("phase"))
        cells.append(age(meta.get("creationTimestamp")))
    out: dict[str, Any] = {"cells": cells}
    if include == "Object":
        out["object"] = obj
    elif include != "None":
        out["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": meta}
    return out


def table(rt: ResourceType, objs: list[dict[str, Any]], rv: str, include: str) -> dict[str, Any]:
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": rv},
            "columnDefinitions": columns(rt), "rows": [row(rt, o, include) for o in objs]}


def jsonpath(obj: Any, path: str) -> Any:
    """`.a.b`, `[n]` and `[?(@.k=="v")]` steps (CRD validation refuses other paths)."""
    cur = obj
    for step in re.findall(r"\.[A-Za-z0-9_-]+|\[\d+\]|\[\?\([^)]*\)\]", path):
        if cur is None:
            return None
        if step.startswith("."):
            cur = cur.get(step[1:]) if isinstance(cur, dict) else None
        elif step.startswith("[?"):
            m = re.match(r"\[\?\(@\.([A-Za-z0-9_.-]+)\s*==\s*[\"']([^\"']*)[\"']\)\]", step)
            if not m or not isinstance(cur, list):
                return None
            field, value = m.groups()
            cur = next((i for i in cur if isinstance(i, dict) and str(jsonpath(i, "." + field)) == value), None)
        else:
            idx = int(step[1:-1])
            cur = cur[idx] if isinstance(cur, list) and idx < len(cur) else None
    return cur


def age(timestamp: str | None) -> str:
    """kubectl's short human duration (`5s`, `16m`, `3h`, `2d`)."""
    if not timestamp:
        return "<unknown>"
    try:
        then = datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    except ValueError:
        return "<invalid>"
    seconds = int((datetime.now(timezone.utc) - then).total_seconds())
    if seconds < 0:
        return "<invalid>"
    if seconds < 120:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        return f"{minutes}m{seconds % 60}s" if seconds % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 48:
        return f"{hours}h"
    return f"{hours // 24}d"
