"""Small HTTP(S) servers on 127.0.0.1 for egress-fence tests: scripted answers, a resetting port, a
fake resolver. Imported by name (the tests directory is not a package)."""
from __future__ import annotations

import contextlib
import http.server
import socket
import ssl
import struct
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

#: an answer: (status, headers, body)
Answer = tuple[int, dict[str, str], bytes]


@dataclass
class Server:
    port: int
    tls: bool
    hits: list[str] = field(default_factory=list)
    #: request bodies, in order
    bodies: list[bytes] = field(default_factory=list)

    def url(self, host: str = "127.0.0.1") -> str:
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"

    def host(self, name: str = "127.0.0.1") -> str:
        return f"{name}:{self.port}"


@contextlib.contextmanager
def serve(route: Callable[[str, str, dict[str, str]], Answer], tls: tuple[Path, Path] | None = None,
          ) -> Iterator[Server]:
    """A threaded server answering every request with ``route(method, path, headers)``."""
    hits: list[str] = []
    bodies: list[bytes] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            hits.append(f"{self.command} {self.path} host={self.headers.get('host')} "
                        f"auth={self.headers.get('authorization', '')}")
            length = int(self.headers.get("content-length") or 0)
            bodies.append(self.rfile.read(length) if length else b"")
            status, headers, body = route(self.command, self.path, dict(self.headers))
            self.send_response(status, headers.pop("X-Reason", None))
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = do_HEAD = do_POST = _answer

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    if tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(tls[0]), str(tls[1]))
        httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield Server(httpd.server_address[1], bool(tls), hits, bodies)
    finally:
        httpd.shutdown()
        httpd.server_close()


@contextlib.contextmanager
def resetting_port() -> Iterator[int]:
    """A port that accepts each connection and resets it at once (RST, no answer)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    stop = threading.Event()

    def loop() -> None:
        sock.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except OSError:
                continue
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield sock.getsockname()[1]
    finally:
        stop.set()
        thread.join(2)
        sock.close()


@contextlib.contextmanager
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


class FakeDNS:
    """``socket.getaddrinfo`` answering chosen names with chosen addresses (one list per call, the last
    repeated); every other name goes to the real resolver. Counts the lookups of each name."""

    def __init__(self, real: Callable, answers: dict[str, list[list[str]]]):
        self.real = real
        self.answers = answers
        self.calls: dict[str, int] = {}

    def __call__(self, host, port, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else host
        if name not in self.answers:
            return self.real(host, port, *args, **kwargs)
        n = self.calls.get(name, 0)
        self.calls[name] = n + 1
        seq = self.answers[name]
        addresses = seq[min(n, len(seq) - 1)]
        out = []
        for a in addresses:
            family = socket.AF_INET6 if ":" in a else socket.AF_INET
            sockaddr = (a, int(port or 0), 0, 0) if family == socket.AF_INET6 else (a, int(port or 0))
            out.append((family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", sockaddr))
        return out
