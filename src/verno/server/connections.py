"""Connection limits of ``verno serve``: what one client can hold open, and for how long.

uvicorn's httptools protocol has a keep-alive timeout but nothing for a connection that never completes
its request head (a TLS connection that sends nothing, or trickles a header a byte at a time): such a
connection was held forever. This protocol adds

* a header timeout: the request head (request line and headers) must arrive within ``header_timeout``
  seconds of the connection being made or of the first byte of the next request on a kept-alive
  connection; the TLS handshake has the same bound (``ssl_handshake_timeout`` of the listener);
* a bound on the request head's size (``MAX_HEAD_BYTES``), answered 431;
* a cap on open connections per worker process and per client address, applied to the plain TCP
  connection before any TLS work (:class:`Admission`): a connection over either cap is closed as soon as
  it is accepted, without a handshake, so a client holding its quota cannot make the server run more
  handshakes by reconnecting; an admitted connection is then upgraded with ``loop.start_tls`` under the
  handshake deadline.

The body has its own deadline in the app (the request's ``--timeout``).

Connection memory: each TLS connection allocates buffers in C (uvloop's SSL protocol, OpenSSL) that
are freed when it closes, but glibc keeps the freed pages of its heap: after a burst of 1,000
connections a bare uvicorn+uvloop TLS server stays ~60-120 MiB above its baseline and grows with each
burst. Once enough connections closed, :class:`Limits` asks glibc to hand free pages back
(``malloc_trim``), a second later and off the event loop; measured, the process then returns to within
a few MiB of its baseline (``bench/webhook.py`` burst test).
"""
from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import functools
import logging
import resource
import time
from collections import Counter
from ssl import SSLContext
from typing import Any, Callable

import uvloop
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

try:  # the TLS protocol of uvloop's own listeners and of its start_tls
    from uvloop.loop import SSLProtocol as TLSProtocol
except ImportError:  # same constructor
    from asyncio.sslproto import SSLProtocol as TLSProtocol  # type: ignore[assignment]

from verno.server.settings import Settings

log = logging.getLogger("verno.server.connections")

#: request line and headers, at most (Go's net/http default is 1 MiB; Kyverno's requests need a few KiB)
MAX_HEAD_BYTES = 64 * 1024
#: closed connections after which freed memory is handed back, and the delay before it is
TRIM_AFTER_CLOSED = 64
TRIM_DELAY = 1.0


def _malloc_trim() -> Any:
    """glibc's ``malloc_trim``, or None where the C library has none."""
    try:
        trim = ctypes.CDLL(ctypes.util.find_library("c")).malloc_trim
    except (OSError, AttributeError, TypeError):
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


MALLOC_TRIM = _malloc_trim()


def release_memory() -> None:
    """Hand the heap's free pages back to the system (ctypes drops the GIL for the call)."""
    if MALLOC_TRIM is not None:
        MALLOC_TRIM(0)


def raise_fd_limit(wanted: int) -> int:
    """Raise the soft RLIMIT_NOFILE towards ``wanted`` (never above the hard limit); the soft limit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft


class Loop(uvloop.Loop):  # type: ignore[misc]
    """uvloop whose listeners admit connections (:class:`Admission`) before the TLS handshake."""

    handshake_timeout: float = 10.0

    async def create_server(self, protocol_factory: Callable[[], asyncio.Protocol], *args: Any,
                            ssl: SSLContext | None = None, ssl_handshake_timeout: float | None = None,
                            **kwargs: Any) -> Any:  # type: ignore[override]
        timeout = ssl_handshake_timeout or self.handshake_timeout
        caps = limits()

        def admission() -> Admission:
            return Admission(self, protocol_factory, ssl, timeout, caps)

        return await super().create_server(admission, *args, **kwargs)


def new_loop() -> asyncio.AbstractEventLoop:
    """The event loop of a ``verno serve`` worker (uvicorn's ``loop`` setting names this function)."""
    settings = current_settings()
    raise_fd_limit(settings.max_connections + 1024)
    loop = Loop()
    loop.handshake_timeout = settings.header_timeout
    return loop


class Limits:
    """Open connections of this worker process, in all and per client address."""

    def __init__(self, total: int, per_client: int):
        self.total, self.per_client = total, per_client
        self.open = 0
        self.by_client: Counter[str] = Counter()
        self.refused = 0
        self._logged = 0.0
        self.closed_since_trim = 0
        self.trim_scheduled = False
        self.trims = 0

    def admit(self, client: str) -> str | None:
        """None when a connection from ``client`` may stay open (and count it), else why not."""
        if self.total and self.open >= self.total:
            return f"{self.open} connections open, the most allowed (--max-connections)"
        if self.per_client and self.by_client[client] >= self.per_client:
            return (f"{self.by_client[client]} connections open from {client}, the most allowed per client "
                    "(--max-connections-per-client)")
        self.open += 1
        self.by_client[client] += 1
        return None

    def release(self, client: str) -> None:
        self.open -= 1
        self.by_client[client] -= 1
        if self.by_client[client] <= 0:
            del self.by_client[client]
        self.closed_since_trim += 1
        if self.closed_since_trim >= TRIM_AFTER_CLOSED and not self.trim_scheduled and MALLOC_TRIM is not None:
            self.trim_scheduled = True
            asyncio.get_running_loop().call_later(TRIM_DELAY, self._trim)

    def _trim(self) -> None:
        self.trim_scheduled = False
        self.closed_since_trim = 0
        self.trims += 1
        asyncio.get_running_loop().run_in_executor(None, release_memory)

    def refuse(self, reason: str) -> None:
        self.refused += 1
        now = time.monotonic()
        if now - self._logged >= 10:  # one line per 10 s, however many are refused
            self._logged = now
            log.warning("connection refused", extra={"reason": reason, "refused_so_far": self.refused})


class Slot:
    """One admitted connection's place in :class:`Limits`; given back once, whoever notices the end first."""

    __slots__ = ("limits", "client")

    def __init__(self, limits: Limits, client: str):
        self.limits: Limits | None = limits
        self.client = client

    def release(self) -> None:
        if self.limits is not None:
            self.limits.release(self.client)
            self.limits = None


class Admission(asyncio.Protocol):
    """A connection as accepted, before any TLS: counted against the caps, refused at once over them.

    An admitted connection gets the TLS protocol uvloop's own TLS listeners use (the same upgrade as
    ``loop.start_tls``, put in place before the first byte is read, so no task and no lost ClientHello):
    it runs the handshake under the deadline and hands the connection to the HTTP protocol, which gives
    the connection's place back when it closes; a handshake that fails, times out or is abandoned gives
    it back here. A refused connection costs an accept and a close: no TLS state is ever made for it.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, app_factory: Callable[[], asyncio.Protocol],
                 context: SSLContext | None, handshake_timeout: float, caps: Limits):
        self.loop, self.app_factory, self.context = loop, app_factory, context
        self.handshake_timeout, self.caps = handshake_timeout, caps

    def connection_made(self, transport: Any) -> None:  # uvloop's TCPTransport (not an asyncio.Transport)
        peer = transport.get_extra_info("peername")
        client = str(peer[0]) if isinstance(peer, (tuple, list)) and peer else "unknown"
        refused = self.caps.admit(client)
        if refused is not None:
            self.caps.refuse(refused)
            transport.abort()
            return
        slot = Slot(self.caps, client)
        app = self.app_factory()
        if isinstance(app, Protocol):
            app.slot = slot
        if self.context is None:
            transport.set_protocol(app)
            app.connection_made(transport)
            return
        waiter = self.loop.create_future()
        tls = TLSProtocol(self.loop, app, self.context, waiter, server_side=True, server_hostname=None,
                          ssl_handshake_timeout=self.handshake_timeout)
        transport.set_protocol(tls)
        tls.connection_made(transport)  # the transport starts reading when this method returns
        waiter.add_done_callback(functools.partial(_handshake_done, transport, app, slot))


def _handshake_done(transport: Any, app: asyncio.Protocol, slot: Slot, waiter: asyncio.Future[None]) -> None:
    """The handshake ended: when the HTTP protocol did not get the connection, give its place back."""
    exc = None if waiter.cancelled() else waiter.exception()
    if exc is not None:
        transport.abort()
    if not getattr(app, "made", True) or exc is not None:
        slot.release()


_limits: Limits | None = None
#: settings of this process, read once (a Protocol is made per connection)
_settings: Settings | None = None


def current_settings() -> Settings:
    global _settings
    if _settings is None:
        _settings = Settings.from_env()
    return _settings


def limits() -> Limits:
    global _limits
    if _limits is None:
        settings = current_settings()
        _limits = Limits(settings.max_connections, settings.max_connections_per_client)
    return _limits


class Protocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a header timeout and a head size bound (the connection caps are
    applied before it, by :class:`Admission`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout = current_settings().header_timeout
        self.header_timer: asyncio.TimerHandle | None = None
        self.head_bytes = 0
        #: this connection's place in the caps, given back when it closes
        self.slot: Slot | None = None
        self.made = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self.made = True
        super().connection_made(transport)
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        if self.slot is not None:
            self.slot.release()
        if self.made:  # a failed handshake reports the loss of a connection never handed over
            super().connection_lost(exc)

    def _arm_header_timer(self) -> None:
        self._cancel_header_timer()
        self.head_bytes = 0
        self.header_timer = self.loop.call_later(self.header_timeout, self._header_timed_out)

    def _cancel_header_timer(self) -> None:
        if self.header_timer is not None:
            self.header_timer.cancel()
            self.header_timer = None

    def _header_timed_out(self) -> None:
        self.header_timer = None
        if not self.transport.is_closing():
            self.transport.abort()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self.header_timer is None:  # the next request on a kept-alive connection
            self._arm_header_timer()

    def on_url(self, url: bytes) -> None:
        self.head_bytes += len(url)
        self._check_head()
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self.head_bytes += len(name) + len(value) + 4
        self._check_head()
        super().on_header(name, value)

    def _check_head(self) -> None:
        if self.head_bytes > MAX_HEAD_BYTES:
            # stops the parser: uvicorn answers 400 and closes the connection
            raise ValueError(f"request head larger than {MAX_HEAD_BYTES} bytes")

    def on_headers_complete(self) -> None:
        self._cancel_header_timer()
        super().on_headers_complete()

    def data_received(self, data: bytes) -> None:
        if self.transport.is_closing():
            return
        super().data_received(data)


def configure(settings: Settings) -> None:
    """Use ``settings`` for the protocols of this process (instead of reading the environment each time)."""
    global _settings, _limits
    _settings = settings
    _limits = Limits(settings.max_connections, settings.max_connections_per_client)
