"""Comparing an actual resource with the expected one of a Test (``patchedResources``, ``generatedResource``).

As Kyverno's CLI (``resource.FixupGenerateLabels`` then ``resource.Compare(tidy=true)``): every
``generate.kyverno.io/`` label is dropped and ``app.kubernetes.io/managed-by: kyverno`` added on both
sides; null values, empty maps and empty lists are removed; what remains must be equal (JSON equality:
``1`` equals ``1.0``, ``true`` does not equal ``1``).
"""
from __future__ import annotations

import copy
import difflib
from typing import Any

import yaml

from verno.cli.session import iter_resources

GENERATE_LABEL_PREFIX = "generate.kyverno.io/"
MANAGED_BY = ("app.kubernetes.io/managed-by", "kyverno")


def fixup_generate_labels(obj: dict[str, Any]) -> dict[str, Any]:
    """A copy whose labels are ``managed-by: kyverno`` plus every non-``generate.kyverno.io/`` label."""
    out = copy.deepcopy(obj)
    meta = out.get("metadata")
    if not isinstance(meta, dict):
        meta = out["metadata"] = {}
    found = meta.get("labels") or {}
    if not isinstance(found, dict):  # a mutation may write labels of another shape: compared as they are
        return out
    labels = {MANAGED_BY[0]: MANAGED_BY[1]}
    for key, value in found.items():
        if not str(key).startswith(GENERATE_LABEL_PREFIX):
            labels[key] = value
    meta["labels"] = labels
    return out


def tidy(value: Any) -> Any:
    """Drop nulls, empty maps and empty lists, recursively (None when nothing remains)."""
    if isinstance(value, dict):
        out = {k: t for k, t in ((k, tidy(v)) for k, v in value.items()) if t is not None}
        return out or None
    if isinstance(value, list):
        items = [t for t in (tidy(v) for v in value) if t is not None]
        return items or None
    return value


def json_equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return float(a) == float(b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def normalise(obj: dict[str, Any]) -> Any:
    """Labels fixed up, ``namespace: default`` dropped (Kyverno's loader gives a resource without a
    namespace the ``default`` one, so absent and ``default`` compare equal), then tidied."""
    out = fixup_generate_labels(obj)
    if out["metadata"].get("namespace") == "default":
        del out["metadata"]["namespace"]
    return tidy(out)


def same_resource(actual: dict[str, Any], expected: dict[str, Any]) -> bool:
    return json_equal(normalise(actual), normalise(expected))


def _identity(obj: dict[str, Any]) -> tuple[str, str, str, str]:
    meta = obj.get("metadata") or {}
    return (obj.get("apiVersion") or "", obj.get("kind") or "", meta.get("namespace") or "",
            meta.get("name") or meta.get("generateName") or "")


def _same_namespace(a: str, b: str) -> bool:
    return a == b or {a, b} == {"", "default"}


def pick_expected(candidates: list[dict[str, Any]], actual: dict[str, Any]) -> dict[str, Any] | None:
    """The expected document with the actual resource's apiVersion, kind, namespace and name."""
    api, kind, ns, name = _identity(actual)
    for doc in candidates:
        e_api, e_kind, e_ns, e_name = _identity(doc)
        if e_kind == kind and e_name == name and _same_namespace(e_ns, ns) and (not api or not e_api or e_api == api):
            return doc
    return None


def load_documents(path: str) -> list[dict[str, Any]]:
    return [d.data for d in iter_resources([path])]


def label(obj: dict[str, Any]) -> str:
    api, kind, ns, name = _identity(obj)
    return "/".join(p for p in (api, kind, ns, name) if p)


def unified_diff(expected: dict[str, Any], actual: dict[str, Any]) -> str:
    """A readable diff of the two normalised documents (``-`` only in expected, ``+`` only in actual)."""
    def dump(obj: dict[str, Any]) -> list[str]:
        return yaml.safe_dump(normalise(obj) or {}, sort_keys=True, default_flow_style=False).splitlines()

    lines = difflib.unified_diff(dump(expected), dump(actual), fromfile="expected", tofile="actual", lineterm="")
    return "\n".join(lines)
