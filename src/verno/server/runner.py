"""The single-process server of ``verno serve``: uvicorn's, with SIGHUP reloading instead of killing.

SIGTERM and SIGINT drain: uvicorn stops accepting, lets in-flight requests finish (up to its graceful
shutdown timeout) and closes idle connections. SIGHUP reloads the policies and the serving certificate
in place, without dropping a connection. (With ``--workers`` above 1, uvicorn's supervisor handles
SIGHUP by starting fresh workers, which load both, and draining the old ones.)
"""
from __future__ import annotations

import contextlib
import logging
import signal
import threading
from typing import Any, Generator

import uvicorn

from verno.server import reloading

log = logging.getLogger("verno.server")


class Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        if threading.current_thread() is not threading.main_thread():
            with super().capture_signals():
                yield
            return
        previous = signal.signal(signal.SIGHUP, self._hangup)
        try:
            with super().capture_signals():
                yield
        finally:
            signal.signal(signal.SIGHUP, previous)

    def _hangup(self, sig: int, frame: Any) -> None:
        log.info("received SIGHUP: reloading policies and certificate")
        threading.Thread(target=reloading.reload_all, name="verno-reload", daemon=True).start()
