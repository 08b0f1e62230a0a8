"""Miscellaneous functions: ``random``, ``is_external_url`` and the hash functions."""
from __future__ import annotations

import hashlib
import ipaddress
import random as _random
import socket
from urllib.parse import urlsplit

from verno.core.jmespath.functions._go import fn_error
from verno.core.regen import generate
from verno.core.jmespath.functions._spec import S, Spec
from verno.core.jmespath.functions.regex import compile_go

_RNG = _random.SystemRandom()


def random(pattern: str) -> str:
    """A random string matching ``pattern`` (a regular expression).

    A pattern Go's ``regexp/syntax`` rejects (repeat counts over 1000, alone or multiplied by nesting,
    backreferences, lookarounds, ...) is an error with Go's words, as goregen parses with it.
    """
    if pattern == "":
        raise fn_error("random", "no pattern provided")
    compile_go("random", pattern)
    try:
        return generate(pattern, _RNG)
    except ValueError as exc:
        raise fn_error("random", str(exc)) from None


# Go's net.IP.IsPrivate (RFC 1918, RFC 4193) and IsLoopback
_PRIVATE = [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")]
_LOOPBACK = [ipaddress.ip_network(n) for n in ("127.0.0.0/8", "::1/128")]


def _internal(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in net for net in _LOOPBACK + _PRIVATE if net.version == ip.version)


def is_external_url(url: str) -> bool:
    """False when the URL's host is (or resolves to) a loopback or private address."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError as exc:
        raise fn_error("is_external_url", str(exc)) from None
    try:
        return not _internal(ipaddress.ip_address(host))
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except (socket.gaierror, UnicodeError, OSError) as exc:
        raise fn_error("is_external_url", f"lookup {host}: {exc}") from None
    for info in infos:
        address = info[4][0].split("%", 1)[0]
        if _internal(ipaddress.ip_address(address)):
            return False
    return True


def sha256(s: str) -> str:
    return hashlib.sha256(s.encode()).hexdigest()


def sha1(s: str) -> str:
    return hashlib.sha1(s.encode()).hexdigest()


def md5(s: str) -> str:
    return hashlib.md5(s.encode()).hexdigest()


FUNCTIONS = [
    Spec("random", random, [S], "string", "Generates a random sequence of characters"),
    Spec("is_external_url", is_external_url, [S], "boolean",
         "checks if a URL points to an external (non-loopback, non-private) address"),
    Spec("sha256", sha256, [S], "string", "generates a SHA-256 hash of a string"),
    Spec("sha1", sha1, [S], "string", "generates a SHA-1 hash of a string"),
    Spec("md5", md5, [S], "string", "generates an MD5 hash of a string"),
]
