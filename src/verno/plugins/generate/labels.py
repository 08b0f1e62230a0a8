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
    labels = _labels_of(obj)
    meta = obj.get("metadata") or {}
    group, version = split_api_version(obj.get("apiVersion", ""))
    _put(labels, SOURCE_GROUP, group)
    _put(labels, SOURCE_VERSION, version)
    _put(labels, SOURCE_KIND, obj.get("kind", ""))
    _put(labels, SOURCE_NAMESPACE, meta.get("namespace", ""))
    _put(labels, SOURCE_NAME, meta.get("name", ""))
    if meta.get("uid"):
        _put(labels, SOURCE_UID, meta["uid"])


def add_owner_labels(obj: dict[str, Any], trigger: dict[str, Any], policy: Any, rule_name: str) -> None:
    """Kyverno's ``ManageLabels``: managed-by, the owner policy and rule, and the trigger."""
    labels = _labels_of(obj)
    labels[MANAGED_BY] = MANAGED_BY_VALUE
    _put(labels, POLICY_NAME, policy.name)
    _put(labels, POLICY_NAMESPACE, policy.namespace or "")
    _put(labels, RULE_NAME, rule_name)
    meta = trigger.get("metadata") or {}
    group, version = split_api_version(trigger.get("apiVersion", ""))
    _put(labels, TRIGGER_GROUP, group)
    _put(labels, TRIGGER_VERSION, version)
    _put(labels, TRIGGER_KIND, trigger.get("kind", ""))
    _put(labels, TRIGGER_NAMESPACE, meta.get("namespace", ""))
    _put(labels, TRIGGER_NAME, meta.get("name", ""))
    if meta.get("uid"):
        _put(labels, TRIGGER_UID, meta["uid"])
