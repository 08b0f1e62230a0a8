"""List, then watch from the list's resourceVersion, forever: every object is handed to ``on_event``.

A broken watch (410 Expired, a dropped stream, server errors) relists after a short pause; a relist reports
the listed objects as ``SYNC`` events and the ones gone since as ``DELETED``, so handlers see one consistent
sequence. ``synced`` is set once the first list was delivered.
"""
from __future__ import annotations

import logging
import threading
from typing import Any, Callable

from verno.controller.kube import APIError, Kube, Resource

log = logging.getLogger("verno.controller.informer")

Handler = Callable[[str, dict[str, Any]], None]


def object_key(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace") or ""
    return f"{ns}/{meta.get('name') or ''}" if ns else str(meta.get("name") or "")


class Informer:
    def __init__(self, kube: Kube, res: Resource, on_event: Handler, stop: threading.Event, *,
                 label_selector: str = "", retry_seconds: float = 1.0, watch_seconds: int = 60):
        self.kube, self.res, self.on_event, self.stop_event = kube, res, on_event, stop
        self.label_selector, self.retry_seconds, self.watch_seconds = label_selector, retry_seconds, watch_seconds
        self.synced = threading.Event()
        self.known: dict[str, dict[str, Any]] = {}
        self._thread: threading.Thread | None = None

    def start(self) -> "Informer":
        self._thread = threading.Thread(target=self.run, name=f"verno-informer-{self.res.plural}", daemon=True)
        self._thread.start()
        return self

    def _deliver(self, kind: str, obj: dict[str, Any]) -> None:
        try:
            self.on_event(kind, obj)
        except Exception:  # a handler's bug must not stop the watch
            log.exception("event handler failed", extra={"resource": self.res.plural, "event": kind})

    def _relist(self) -> str:
        listed = self.kube.list(self.res, label_selector=self.label_selector)
        items = [i for i in listed.get("items") or [] if isinstance(i, dict)]
        fresh: dict[str, dict[str, Any]] = {}
        for item in items:
            item.setdefault("apiVersion", self.res.api_version)
            item.setdefault("kind", self.res.kind)
            fresh[object_key(item)] = item
        gone = [obj for key, obj in self.known.items() if key not in fresh]
        self.known = fresh
        for obj in gone:
            self._deliver("DELETED", obj)
        for obj in items:
            self._deliver("SYNC", obj)
        self.synced.set()
        return str((listed.get("metadata") or {}).get("resourceVersion") or "")

    def run(self) -> None:
        while not self.stop_event.is_set():
            try:
                rv = self._relist()
                while not self.stop_event.is_set():
                    for event in self.kube.watch(self.res, rv, label_selector=self.label_selector,
                                                 timeout_seconds=self.watch_seconds):
                        if self.stop_event.is_set():
                            return
                        kind, obj = str(event.get("type")), event.get("object") or {}
                        rv = str((obj.get("metadata") or {}).get("resourceVersion") or rv)
                        if kind == "BOOKMARK":
                            continue
                        key = object_key(obj)
                        if kind == "DELETED":
                            self.known.pop(key, None)
                        else:
                            self.known[key] = obj
                        self._deliver(kind, obj)
            except APIError as exc:
                if self.stop_event.is_set():
                    return
                if exc.code != 410:
                    log.warning("watch interrupted; relisting",
                                extra={"resource": self.res.plural, "error": str(exc)})
                self.stop_event.wait(self.retry_seconds if exc.code != 410 else 0)
