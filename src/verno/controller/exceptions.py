"""PolicyExceptions (``kyverno.io/v2``) as the cluster has them, for the rules the controller evaluates
(a matching exception turns a mutateExisting rule into a skip). One that does not load is logged and left
out; each is loaded once per resourceVersion."""
from __future__ import annotations

import logging
import threading
from typing import Any, Callable

from verno.core.loading import Document, validate_model
from verno.core.models.exception import PolicyException

log = logging.getLogger("verno.controller.exceptions")

API_VERSION, KIND = "kyverno.io/v2", "PolicyException"


class ExceptionCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_key: dict[str, PolicyException] = {}
        #: called after every change (background scans evaluate again)
        self.listeners: list[Callable[[], None]] = []

    def event(self, kind: str, obj: dict[str, Any]) -> None:
        meta = obj.get("metadata") or {}
        key = f"{meta.get('namespace') or ''}/{meta.get('name') or ''}"
        if kind == "DELETED":
            with self._lock:
                self._by_key.pop(key, None)
            self._changed()
            return
        body = {**obj, "metadata": {k: v for k, v in meta.items() if k != "managedFields"}}
        try:
            loaded = validate_model(PolicyException, Document(f"policyexceptions/{key}", 0, body))
        except Exception as exc:
            log.error("policy exception not loaded", extra={"exception": key, "error": str(exc)})
            with self._lock:
                self._by_key.pop(key, None)
            self._changed()
            return
        with self._lock:
            self._by_key[key] = loaded
        self._changed()

    def _changed(self) -> None:
        for listener in self.listeners:
            listener()

    def all(self) -> list[PolicyException]:
        with self._lock:
            return [self._by_key[k] for k in sorted(self._by_key)]
