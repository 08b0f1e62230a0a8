"""Labels that tie a generated resource to its owner, as Kyverno's background controller sets them.

The cluster-side controller (a later issue) finds, synchronizes and cleans up downstream resources by
these labels; ``verno test`` ignores every ``generate.kyverno.io/`` label when comparing, as Kyverno does.
"""
from __future__ import annotations

from typing import Any

MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGED_BY_VALUE = "kyverno"
PREFIX = "generate.kyverno.io/"
POLICY_NAME = PREFIX + "policy-name"
POLICY_NAMESPACE = PREFIX + "policy-namespace"
RULE_NAME = PREFIX + "rule-name"
TRIGGER_GROUP = PREFIX + "trigger-group"
TRIGGER_VERSION = PREFIX + "trigger-version"
TRIGGER_KIND = PREFIX + "trigger-kind"
TRIGGER_NAMESPACE = PREFIX + "trigger-namespace"
TRIGGER_NAME = PREFIX + "trigger-name"
TRIGGER_UID = PREFIX + "trigger-uid"
SOURCE_GROUP = PREFIX + "source-group"
SOURCE_VERSION = PREFIX + "source-version"
SOURCE_KIND = PREFIX + "source-kind"
SOURCE_NAMESPACE = PREFIX + "source-namespace"
SOURCE_NAME = PREFIX + "source-name"
SOURCE_UID = PREFIX + "source-uid"

#: Kubernetes limits a label value to 63 characters
_MAX_VALUE = 63


def split_api_version(api_version: str) -> tuple[str, str]:
    """``apps/v1`` -> (``apps``, ``v1``); ``v1`` -> (``""``, ``v1``)."""
    group, _, version = (api_version or "").rpartition("/")
    return group, version


def _labels_of(obj: dict[str, Any]) -> dict[str, str]:
    meta = obj.setdefault("metadata", {})
    if not isinstance(meta.get("labels"), dict):
        meta["labels"] = {}
    return meta["labels"]


def _put(labels: dict[str, str], key: str, value: Any) -> None:
    text = "" if value is None else str(value)
    if len(text) <= _MAX_VALUE:
        labels[key] = text


def add_source_labels(obj: dict[str, Any]) -> None:
    """The clone source's identity on the cloned object (``generate.kyverno.io/source-*``)."""
    _put_identity(_labels_of(obj), obj, SOURCE_KEYS)


def add_owner_labels(obj: dict[str, Any], trigger: dict[str, Any], policy: Any, rule_name: str) -> None:
    """Kyverno's ``ManageLabels``: managed-by, the owner policy and rule, and the trigger."""
    labels = _labels_of(obj)
    labels[MANAGED_BY] = MANAGED_BY_VALUE
    _put(labels, POLICY_NAME, policy.name)
    _put(labels, POLICY_NAMESPACE, policy.namespace or "")
    _put(labels, RULE_NAME, rule_name)
    _put_identity(labels, trigger, TRIGGER_KEYS)


SOURCE_KEYS = (SOURCE_GROUP, SOURCE_VERSION, SOURCE_KIND, SOURCE_NAMESPACE, SOURCE_NAME, SOURCE_UID)
TRIGGER_KEYS = (TRIGGER_GROUP, TRIGGER_VERSION, TRIGGER_KIND, TRIGGER_NAMESPACE, TRIGGER_NAME, TRIGGER_UID)


def _put_identity(labels: dict[str, str], obj: dict[str, Any], keys: tuple[str, ...]) -> None:
    """group, version, kind, namespace, name (and uid when set) of ``obj`` under the six label ``keys``."""
    group_key, version_key, kind_key, ns_key, name_key, uid_key = keys
    meta = obj.get("metadata") or {}
    group, version = split_api_version(obj.get("apiVersion", ""))
    _put(labels, group_key, group)
    _put(labels, version_key, version)
    _put(labels, kind_key, obj.get("kind", ""))
    _put(labels, ns_key, meta.get("namespace", ""))
    _put(labels, name_key, meta.get("name", ""))
    if meta.get("uid"):
        _put(labels, uid_key, meta["uid"])
