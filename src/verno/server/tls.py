"""TLS for ``verno serve``: TLS 1.2 or newer, and the certificate reloaded when its files change.

The server's ``SSLContext`` is kept and ``load_cert_chain`` is called on it again: connections made
after a change are served with the new certificate; open connections keep theirs. A pair that does
not load (half-written during a rotation) is retried at the next check; the old one stays in use.
"""
from __future__ import annotations

import logging
import os
import ssl
import threading

import uvicorn

log = logging.getLogger("verno.server.tls")


def _stamp(*paths: str) -> tuple[tuple[int, int], ...]:
    out = []
    for path in paths:
        st = os.stat(path)
        out.append((st.st_mtime_ns, st.st_size))
    return tuple(out)


class CertReloader:
    def __init__(self, context: ssl.SSLContext, certfile: str, keyfile: str, interval: float = 1.0):
        self.context, self.certfile, self.keyfile, self.interval = context, certfile, keyfile, interval
        self._stamp = _stamp(certfile, keyfile)
        self._stop = threading.Event()
        self.reloads = 0

    def check(self) -> bool:
        try:
            stamp = _stamp(self.certfile, self.keyfile)
        except OSError:
            return False
        if stamp == self._stamp:
            return False
        try:
            self.context.load_cert_chain(self.certfile, self.keyfile)
        except (ssl.SSLError, OSError, ValueError) as exc:
            log.warning("certificate reload failed; keeping the current one", extra={"error": str(exc)})
            return False
        self._stamp = stamp
        self.reloads += 1
        log.info("certificate reloaded", extra={"certfile": self.certfile})
        return True

    def start(self) -> None:
        threading.Thread(target=self._run, name="verno-cert-watch", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.check()


class Config(uvicorn.Config):
    """uvicorn's Config with TLS 1.2+ and certificate reload (``load`` runs in every worker process)."""

    cert_poll_interval: float = 1.0

    def load(self) -> None:
        super().load()
        if self.ssl is not None and self.ssl_certfile and self.ssl_keyfile:
            self.ssl.minimum_version = ssl.TLSVersion.TLSv1_2
            reloader = CertReloader(self.ssl, str(self.ssl_certfile), str(self.ssl_keyfile),
                                    self.cert_poll_interval)
            reloader.start()
