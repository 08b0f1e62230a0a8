"""The egress fence: which hosts and addresses verno may connect to (registries, apiCall services).

One :class:`EgressPolicy` is built from ``--allow-egress`` entries (``serve``, ``apply``, ``test``). A
connection is checked on the addresses its host name resolves to, not on the name: the name is resolved
once, every address is checked, and the connection goes to a checked address (see
:mod:`verno.core.egress_http`), so a name cannot be re-pointed between the check and the connect.

Two modes:

- **public** (image registries): public addresses are allowed; loopback, link-local, private, shared
  (CGNAT), unspecified, multicast and other non-public addresses, including their IPv4-mapped, 6to4 and
  NAT64 forms, are refused unless an entry allows them.
- **listed** (apiCall ``service.url``): only what an entry names is reached at all.

An entry is a CIDR or address (``10.0.0.0/8``, ``127.0.0.1``, ``::1``), or a host name with an optional
port (``registry.internal``, ``svc.team.svc:8443``); ``http://name[:port]`` also allows plain HTTP to that
host (apiCall services). A named host may be reached at any address it resolves to, except link-local,
unspecified and multicast ones (cloud metadata lives at 169.254.169.254), which only a CIDR entry allows.
"""
from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field

from verno.core.errors import VernoError

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

#: address classes refused by default, in the order they are reported
_CLASSES: tuple[tuple[str, tuple[Network, ...]], ...] = tuple(
    (name, tuple(ipaddress.ip_network(n) for n in nets)) for name, nets in (
        ("unspecified", ("0.0.0.0/8", "::/128")),
        ("loopback", ("127.0.0.0/8", "::1/128")),
        ("link-local", ("169.254.0.0/16", "fe80::/10")),
        ("private", ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")),
        ("shared (CGNAT)", ("100.64.0.0/10",)),
        ("multicast", ("224.0.0.0/4", "ff00::/8")),
        ("IPv4-compatible", ("::/96",)),
    ))
#: classes a host-name entry does not open: only a CIDR (or address) entry does
_NEEDS_CIDR = frozenset({"unspecified", "link-local", "multicast"})
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_HOST = re.compile(r"^(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_]([a-z0-9_-]{0,62}))*$")
#: addresses of one name tried at connect time (each with the connect timeout)
MAX_ADDRESSES = 4


class EgressDenied(VernoError):
    """The fence refused a destination (its address, its scheme, or a redirect)."""


def _embedded_v4(ip: Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries to an IPv4 host (mapped, 6to4, NAT64), if any."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def address_class(ip: Address) -> str | None:
    """Why ``ip`` is refused by default (``"loopback"``, ``"private"`` ...), or None for a public address."""
    inner = _embedded_v4(ip)
    if inner is not None:
        found = address_class(inner)
        if found is not None or ip.ipv4_mapped is not None:
            return found
    for name, nets in _CLASSES:
        if any(ip in net for net in nets if net.version == ip.version):
            return name
    if ip.is_multicast:
        return "multicast"
    if not ip.is_global:
        return "non-public"
    return None


def _split_port(text: str) -> tuple[str, int | None]:
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest and not rest.startswith(":"):
            raise ValueError("expected [address]:port")
        return host, (_port(rest[1:]) if rest else None)
    if text.count(":") == 1:
        host, _, port = text.partition(":")
        return host, _port(port)
    return text, None


def _port(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"port {text!r} is not a number from 1 to 65535")
    return int(text)


@dataclass(frozen=True)
class EgressPolicy:
    """Allowed address ranges and host names; see the module docstring for the rules."""

    networks: tuple[Network, ...] = ()
    #: (host name, port or None for every port)
    hosts: frozenset[tuple[str, int | None]] = frozenset()
    #: hosts an ``http://`` entry names: plain HTTP allowed to them (apiCall services)
    plain_http: frozenset[tuple[str, int | None]] = frozenset()
    #: the entries as given, for settings and messages
    entries: tuple[str, ...] = field(default=(), compare=False)

    @classmethod
    def parse(cls, entries: Iterable[str]) -> "EgressPolicy":
        """From ``--allow-egress`` values; a malformed entry raises ValueError naming it."""
        networks: list[Network] = []
        hosts: set[tuple[str, int | None]] = set()
        plain: set[tuple[str, int | None]] = set()
        given: list[str] = []
        for raw in entries:
            entry = raw.strip()
            given.append(entry)
            try:
                kind, value = _parse_entry(entry)
            except ValueError as exc:
                raise ValueError(f"--allow-egress {raw!r}: {exc}; give a CIDR (10.0.0.0/8), an address "
                                 "(127.0.0.1), a host name (registry.internal[:port]) or http://host[:port]") from None
            if kind == "network":
                networks.append(value)
            elif kind == "plain-network":
                net, port = value if isinstance(value, tuple) else (value, None)
                networks.append(net)
                plain.add((str(net.network_address), port))
            else:
                hosts.add(value)
                if kind == "plain":
                    plain.add(value)
        return cls(tuple(networks), frozenset(hosts), frozenset(plain), tuple(given))

    def __bool__(self) -> bool:
        return bool(self.networks or self.hosts)

    # -- checks ---------------------------------------------------------------------------------------
    def _named(self, host: str, port: int | None, table: frozenset[tuple[str, int | None]]) -> bool:
        ip = _literal(host)
        name = str(ip) if ip is not None else host.lower().rstrip(".")
        return (name, None) in table or (port is not None and (name, port) in table)

    def names(self, host: str, port: int | None = None) -> bool:
        """Whether an entry names ``host`` (at ``port``), as a host name or as an address in a CIDR."""
        ip = _literal(host)
        if ip is not None:
            return self._in_networks(ip)
        return self._named(host, port, self.hosts)

    def plain_http_allowed(self, host: str, port: int | None) -> bool:
        return self._named(host, port, self.plain_http)

    def _in_networks(self, ip: Address) -> bool:
        forms = [ip] + ([ip.ipv4_mapped] if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped else [])
        return any(f in net for f in forms for net in self.networks if net.version == f.version)

    def refusal(self, host: str, port: int | None, ip: Address, *, public: bool) -> str | None:
        """Why connecting to ``ip`` (an address of ``host``) is refused, or None when it is allowed."""
        if self._in_networks(ip):
            return None
        kind = address_class(ip)
        if self._named(host, port, self.hosts) and _literal(host) is None and kind not in _NEEDS_CIDR:
            return None
        if kind is None:
            return None if public else "no --allow-egress entry names it"
        return f"it is a {kind} address"

    def check_addresses(self, host: str, port: int | None, addresses: list[Address], *, public: bool) -> None:
        """Raise :class:`EgressDenied` unless every address of ``host`` is allowed."""
        for ip in addresses:
            why = self.refusal(host, port, ip, public=public)
            if why is not None:
                what = host if _literal(host) is not None else f"{host} (resolved to {ip})"
                raise EgressDenied(f"connection to {what} refused: {why}; allow it with --allow-egress "
                                   f"{_suggest(ip) if public or address_class(ip) else host}")

    def resolve(self, host: str, port: int, *, public: bool) -> list[str]:
        """Resolve ``host`` once, check every address, return the addresses to connect to (as text).

        A name that does not resolve raises ``OSError`` (a connection failure, like a refused port)."""
        literal = _literal(host)
        if literal is not None:
            addresses = [literal]
        else:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            addresses = []
            for info in infos:
                ip = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
                if ip not in addresses:
                    addresses.append(ip)
            if not addresses:
                raise OSError(f"{host} has no address")
        self.check_addresses(host, port, addresses, public=public)
        return [str(ip) for ip in addresses[:MAX_ADDRESSES]]


def _suggest(ip: Address) -> str:
    return str(ip.ipv4_mapped) if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped else str(ip)


def _literal(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _parse_entry(entry: str) -> tuple[str, object]:
    if not entry:
        raise ValueError("empty entry")
    scheme = ""
    if "://" in entry:
        scheme, _, entry = entry.partition("://")
        scheme = scheme.lower()
        if scheme not in ("http", "https"):
            raise ValueError(f"scheme {scheme!r} is not http or https")
        entry = entry.rstrip("/")
        if "/" in entry or "@" in entry:
            raise ValueError("a URL entry names a host only (no path, no user)")
    if "/" in entry:
        return "network", ipaddress.ip_network(entry, strict=True)
    try:
        ip = ipaddress.ip_address(entry.strip("[]"))
    except ValueError:
        ip = None
    if ip is not None:
        return ("plain-network" if scheme == "http" else "network"), ipaddress.ip_network(ip)
    host, port = _split_port(entry)
    host = host.lower().rstrip(".")
    if _literal(host) is not None:
        if scheme == "http":
            return "plain-network", (ipaddress.ip_network(_literal(host)), port)
        raise ValueError(f"an address entry takes no port (give {host.strip('[]')})")
    if not _HOST.match(host):
        raise ValueError(f"{host!r} is not a host name")
    return ("plain" if scheme == "http" else "host"), (host, port)


#: the policy when nothing is allowed: public registries only, no apiCall service
STRICT = EgressPolicy()
