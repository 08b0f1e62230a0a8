"""What SIGHUP reloads in a worker process: the app's policies, the serving certificate."""
from __future__ import annotations

import logging
from typing import Callable

log = logging.getLogger("verno.server")

_hooks: list[Callable[[], None]] = []


def register(hook: Callable[[], None]) -> None:
    if hook not in _hooks:
        _hooks.append(hook)


def unregister(hook: Callable[[], None]) -> None:
    if hook in _hooks:
        _hooks.remove(hook)


def reload_all() -> None:
    """Run every reload hook; one that fails is logged and does not stop the others."""
    log.info("reloading policies and certificate", extra={"hooks": len(_hooks)})
    for hook in list(_hooks):
        try:
            hook()
        except Exception:
            log.exception("reload failed", extra={"hook": getattr(hook, "__qualname__", repr(hook))})
