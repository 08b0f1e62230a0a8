"""Kubernetes' JSON Patch library of mutating admission (also in Kyverno's MutatingPolicy):
``jsonpatch.escapeKey(key)`` escapes a map key for a JSON Pointer path (RFC 6901: ``~`` becomes ``~0``,
then ``/`` becomes ``~1``), e.g. ``"/metadata/labels/" + jsonpatch.escapeKey("example.com/team")``."""
from __future__ import annotations

from verno.core.cel.library import Library

__all__ = ["escape_key", "libraries"]


def escape_key(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def libraries() -> list[Library]:
    lib = Library("k8s.jsonpatch")
    lib.fn("jsonpatch.escapeKey", ["string"], "string", escape_key, overload_id="k8s.jsonpatch_escape_key_string")
    return [lib]
