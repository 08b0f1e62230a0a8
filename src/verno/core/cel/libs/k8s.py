"""Kubernetes' CEL libraries (k8s.io/apiserver/pkg/cel/library)."""
from __future__ import annotations

from verno.core.cel.library import Library

__all__ = ["libraries"]


def libraries() -> list[Library]:
    return []
