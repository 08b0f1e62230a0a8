"""HTTP through the egress fence: an httpx transport that connects only to checked addresses, and
:func:`fetch`, which follows redirects itself (HTTPS only, each hop checked, a hop limit) and reads a
bounded body within a deadline.

The transport resolves a host once per connection in its network backend, checks every address with the
:class:`~verno.core.egress.EgressPolicy` and connects to a checked address; TLS still runs against the
host *name* (SNI and certificate verification use the URL's host, not the address connected to). Proxies
from the environment are not used: a proxy would connect where the fence cannot see.

Failures to connect, resets, refusals, TLS failures and timeouts all become :class:`Unreachable` with no
detail: which of them happened (whether a port is open) is written to the ``verno.egress`` debug log only.
Response bodies are never put into error messages.
"""
from __future__ import annotations

import contextlib
import logging
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import httpcore
import httpx

from verno.core.egress import EgressDenied, EgressPolicy
from verno.core.errors import VernoError

log = logging.getLogger("verno.egress")

MAX_REDIRECTS = 5
REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
_CROSS_ORIGIN_DROPPED = ("authorization", "cookie", "proxy-authorization")


class Unreachable(VernoError):
    """A destination gave no usable answer: refused, reset, TLS failure, timeout, unresolvable name.

    ``timeout`` tells callers whether to try again (a plain-HTTP fallback is not tried after a timeout);
    it is never put into a message."""

    def __init__(self, message: str, *, timeout: bool = False):
        super().__init__(message)
        self.timeout = timeout


class TooLarge(VernoError):
    """A response body exceeded its size limit."""


class _Backend(httpcore.NetworkBackend):
    """A network backend that connects only to addresses the policy allows (resolving each name once)."""

    def __init__(self, policy: EgressPolicy, public: bool):
        self._policy = policy
        self._public = public
        self._inner = httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Any = None) -> httpcore.NetworkStream:
        try:
            addresses = self._policy.resolve(host, port, public=self._public)
        except OSError as exc:  # the name does not resolve: a connection failure like any other
            raise httpcore.ConnectError(f"resolving {host}: {exc}") from exc
        error: Exception = httpcore.ConnectError(f"{host}: no address")
        for address in addresses:
            try:
                return self._inner.connect_tcp(address, port, timeout=timeout, local_address=local_address,
                                               socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        raise error

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Any = None) -> httpcore.NetworkStream:
        raise EgressDenied("unix sockets are never reached")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


@contextlib.contextmanager
def _httpx_errors(request: httpx.Request | None = None) -> Iterator[None]:
    """httpcore's exceptions as httpx's (same names), as httpx's own transport maps them."""
    try:
        yield
    except httpcore.TimeoutException as exc:
        raise getattr(httpx, type(exc).__name__, httpx.TimeoutException)(str(exc), request=request) from exc
    except httpcore.ConnectError as exc:
        raise httpx.ConnectError(str(exc), request=request) from exc
    except (httpcore.NetworkError, httpcore.ProtocolError, httpcore.UnsupportedProtocol) as exc:
        raise getattr(httpx, type(exc).__name__, httpx.TransportError)(str(exc), request=request) from exc


class _Stream(httpx.SyncByteStream):
    def __init__(self, stream: Any, request: httpx.Request):
        self._stream = stream
        self._request = request

    def __iter__(self) -> Iterator[bytes]:
        with _httpx_errors(self._request):
            yield from self._stream

    def close(self) -> None:
        close = getattr(self._stream, "close", None)
        if close is not None:
            close()


class FencedTransport(httpx.BaseTransport):
    """An httpx transport whose connections go only where ``policy`` allows.

    :param public: public addresses allowed without an entry (registries); False: only what an entry
        names (apiCall services).
    :param verify: the TLS context for every host (a context, or True for httpx's default roots).
    :param unverified_hosts: ``host:port`` origins reached with TLS unchecked (an insecure registry).
    """

    def __init__(self, policy: EgressPolicy, *, public: bool, verify: ssl.SSLContext | bool = True,
                 unverified_hosts: frozenset[str] = frozenset(), max_connections: int = 20):
        self._backend = _Backend(policy, public)
        self._verify = verify if isinstance(verify, ssl.SSLContext) else httpx.create_ssl_context(verify=verify)
        self._unverified_hosts = unverified_hosts
        self._max = max_connections
        self._pools: dict[bool, httpcore.ConnectionPool] = {}
        self._lock = threading.Lock()

    def _pool(self, unverified: bool) -> httpcore.ConnectionPool:
        pool = self._pools.get(unverified)
        if pool is None:
            with self._lock:
                pool = self._pools.get(unverified)
                if pool is None:
                    ctx = httpx.create_ssl_context(verify=False) if unverified else self._verify
                    pool = self._pools[unverified] = httpcore.ConnectionPool(
                        ssl_context=ctx, network_backend=self._backend, max_connections=self._max,
                        max_keepalive_connections=self._max, keepalive_expiry=30.0)
        return pool

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        origin = f"{url.host}:{url.port}" if url.port else url.host
        pool = self._pool(origin in self._unverified_hosts)
        core = httpcore.Request(
            method=request.method,
            url=httpcore.URL(scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path),
            headers=request.headers.raw, content=request.stream, extensions=request.extensions)
        with _httpx_errors(request):
            resp = pool.handle_request(core)
        return httpx.Response(status_code=resp.status, headers=resp.headers, stream=_Stream(resp.stream, request),
                              extensions=resp.extensions)

    def close(self) -> None:
        with self._lock:
            for pool in self._pools.values():
                pool.close()
            self._pools.clear()


def client(policy: EgressPolicy, *, public: bool, verify: ssl.SSLContext | bool = True, timeout: float = 10.0,
           unverified_hosts: frozenset[str] = frozenset(),
           transport: httpx.BaseTransport | None = None) -> httpx.Client:
    """An httpx client through the fence (redirects are left to :func:`fetch`; no environment proxies)."""
    return httpx.Client(
        transport=transport or FencedTransport(policy, public=public, verify=verify,
                                               unverified_hosts=unverified_hosts),
        follow_redirects=False, trust_env=False, timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
        headers={"Accept-Encoding": "gzip, deflate"})


@dataclass
class Reply:
    """A whole response: status, headers, the body read within its limits, the URL that answered."""

    status_code: int
    headers: httpx.Headers
    content: bytes
    url: httpx.URL

    @property
    def reason(self) -> str:
        """The standard phrase for the status (never the server's own text)."""
        try:
            return HTTPStatus(self.status_code).phrase
        except ValueError:
            return ""

    def json(self) -> Any:
        import json

        return json.loads(self.content)


def check_url(url: httpx.URL, *, plain_http: bool) -> None:
    if url.scheme not in ("https", "http"):
        raise EgressDenied(f"scheme {url.scheme or '(none)'!r} is not reached; use https")
    if url.scheme == "http" and not plain_http:
        raise EgressDenied(f"plain HTTP to {url.host} is not allowed; use https")
    if url.userinfo:
        raise EgressDenied("a URL with user information is not reached")
    if not url.host:
        raise EgressDenied("the URL has no host")


def fetch(http: httpx.Client, method: str, url: str | httpx.URL, *, headers: dict[str, str] | None = None,
          content: bytes | None = None, plain_http: bool = False, max_bytes: int, deadline: float,
          max_redirects: int = MAX_REDIRECTS) -> Reply:
    """One request through the fence, its redirects followed by hand (HTTPS only, at most
    ``max_redirects``), its body read up to ``max_bytes`` within ``deadline`` seconds.

    Raises :class:`EgressDenied` (the fence refused a hop), :class:`Unreachable` (no usable answer;
    the cause is logged at debug level) or :class:`TooLarge`.
    """
    target = httpx.URL(url)
    check_url(target, plain_http=plain_http)
    send_headers = dict(headers or {})
    end = time.monotonic() + deadline
    hops = 0
    while True:
        try:
            request = http.build_request(method, target, headers=send_headers, content=content,
                                         timeout=_remaining(http, end))
            response = http.send(request, stream=True)
        except httpx.HTTPError as exc:
            log.debug("no usable answer from %s: %s: %s", target.host, type(exc).__name__, exc)
            raise Unreachable(f"could not reach {target.host}",
                              timeout=isinstance(exc, httpx.TimeoutException)) from None
        try:
            location = response.headers.get("location")
            if response.status_code in REDIRECT_CODES and location:
                hops += 1
                if hops > max_redirects:
                    raise EgressDenied(f"more than {max_redirects} redirects")
                try:
                    nxt = target.join(location)
                except httpx.InvalidURL:
                    raise EgressDenied("a redirect to an invalid URL is not followed") from None
                if nxt.scheme != "https":
                    raise EgressDenied(f"a redirect from {target.host} to {nxt.scheme or 'a relative'} URL "
                                       "is not followed (redirects are followed to https only)")
                check_url(nxt, plain_http=False)
                if (nxt.host, nxt.port) != (target.host, target.port):
                    for name in _CROSS_ORIGIN_DROPPED:
                        send_headers = {k: v for k, v in send_headers.items() if k.lower() != name}
                if response.status_code == 303 or (response.status_code in (301, 302) and method == "POST"):
                    method = "GET" if method != "HEAD" else method
                    content = None
                target = nxt
                continue
            body = _read(response, max_bytes, end, target)
            return Reply(response.status_code, response.headers, body, target)
        finally:
            response.close()


def _remaining(http: httpx.Client, end: float) -> httpx.Timeout:
    left = max(0.05, end - time.monotonic())
    base = http.timeout
    return httpx.Timeout(min(base.read or left, left), connect=min(base.connect or left, left))


def _read(response: httpx.Response, max_bytes: int, end: float, url: httpx.URL) -> bytes:
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise TooLarge(f"the answer from {url.host} is larger than {max_bytes} bytes")
    chunks: list[bytes] = []
    size = 0
    # an in-memory response (a test transport) arrives already read, and decoded
    stream = [response.content] if response.is_stream_consumed else response.iter_raw()
    encoding = "" if response.is_stream_consumed else response.headers.get("content-encoding", "")
    try:
        for chunk in stream:
            size += len(chunk)
            if size > max_bytes:
                raise TooLarge(f"the answer from {url.host} is larger than {max_bytes} bytes")
            chunks.append(chunk)
            if time.monotonic() > end:
                raise httpx.ReadTimeout("deadline passed while reading")
    except httpx.HTTPError as exc:
        log.debug("no usable answer from %s: %s: %s", url.host, type(exc).__name__, exc)
        raise Unreachable(f"could not reach {url.host}", timeout=isinstance(exc, httpx.TimeoutException)) from None
    return _decode(b"".join(chunks), encoding, max_bytes, url)


def _decode(raw: bytes, encoding: str, max_bytes: int, url: httpx.URL) -> bytes:
    """Undo gzip/deflate content encoding with the same size limit (no decompression bomb)."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return raw
    if encoding not in ("gzip", "deflate"):
        raise Unreachable(f"{url.host} answered with an unsupported content encoding")
    import zlib

    wbits = 16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS
    d = zlib.decompressobj(wbits)
    try:
        out = d.decompress(raw, max_bytes + 1)
    except zlib.error:
        raise Unreachable(f"{url.host} answered with a corrupt {encoding} body") from None
    if len(out) > max_bytes or d.unconsumed_tail:
        raise TooLarge(f"the answer from {url.host} is larger than {max_bytes} bytes")
    return out


def opted_in(egress, url: str) -> bool:
    """Whether an ``--allow-egress`` entry names the URL's host, or covers every address it resolves to."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return False
    if not parsed.host:
        return False
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    if egress.names(parsed.host, port):
        return True
    if not egress.networks:
        return False
    try:
        egress.resolve(parsed.host, port, public=False)
    except (EgressDenied, OSError, UnicodeError):
        return False
    return True
