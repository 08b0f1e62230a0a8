"""TLS for ``verno serve``: TLS 1.2 or newer, and the certificate reloaded when its files change.

The server's ``SSLContext`` is kept and ``load_cert_chain`` is called on it again: connections made
after a change are served with the new certificate; open connections keep theirs. A pair that does
not load together (half-written or half-rotated) is not swapped in; the old pair stays in use until the
files change again.
"""
from __future__ import annotations

import logging
import os
import ssl
import tempfile
import threading

import uvicorn

from verno.server import reloading

log = logging.getLogger("verno.server.tls")


def _stamp(*paths: str) -> tuple[tuple[int, int], ...]:
    out = []
    for path in paths:
        st = os.stat(path)
        out.append((st.st_mtime_ns, st.st_size))
    return tuple(out)


class CertReloader:
    """Swaps a new certificate and key into the serving context only as a matching pair.

    Both files are read once, checked together on a scratch context (a key that does not belong to the
    certificate fails there), and only then loaded into the live context from the same bytes: a
    half-rotated pair (new certificate, old key) never reaches the live context, whose handshakes would
    all fail. The mismatch is logged once per pair of files seen; the old pair keeps serving.
    """

    def __init__(self, context: ssl.SSLContext, certfile: str, keyfile: str, interval: float = 1.0):
        self.context, self.certfile, self.keyfile, self.interval = context, certfile, keyfile, interval
        self._stamp = _stamp(certfile, keyfile)
        self._rejected: tuple[tuple[int, int], ...] | None = None
        self._stop = threading.Event()
        self.reloads = 0

    def check(self, *, force: bool = False) -> bool:
        try:
            stamp = _stamp(self.certfile, self.keyfile)
        except OSError:
            return False
        if not force and (stamp == self._stamp or stamp == self._rejected):
            return False
        try:
            with open(self.certfile, "rb") as fh:
                cert = fh.read()
            with open(self.keyfile, "rb") as fh:
                key = fh.read()
            with tempfile.TemporaryDirectory(prefix="verno-tls-") as tmp:
                cert_path, key_path = os.path.join(tmp, "tls.crt"), os.path.join(tmp, "tls.key")
                for path, data in ((cert_path, cert), (key_path, key)):
                    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                    with os.fdopen(fd, "wb") as fh:
                        fh.write(data)
                ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(cert_path, key_path)
                self.context.load_cert_chain(cert_path, key_path)
        except (ssl.SSLError, OSError, ValueError) as exc:
            if stamp != self._rejected:
                log.error("new certificate and key do not load as a pair; keeping the current pair",
                          extra={"certfile": self.certfile, "keyfile": self.keyfile, "error": str(exc)})
            self._rejected = stamp
            return False
        self._stamp, self._rejected = stamp, None
        self.reloads += 1
        log.info("certificate reloaded", extra={"certfile": self.certfile})
        return True

    def reload(self) -> None:
        """Load the pair again now (SIGHUP), even when the files look unchanged."""
        self.check(force=True)

    def start(self) -> None:
        threading.Thread(target=self._run, name="verno-cert-watch", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.check()
            except Exception:  # the watch must outlive any one failed check
                log.exception("certificate check failed")


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
            reloading.register(reloader.reload)
