"""Kubernetes' CEL libraries (k8s.io/apiserver/pkg/cel/library): lists, regex, quantity, ip, cidr,
semver and urls, with the same names, overloads, results and error texts.

Opaque values (quantity, ip, cidr, semver, url) are tagged maps (:mod:`verno.core.cel.opaque`); two
values are ``==`` when Kubernetes says they are equal (the payload is canonical).
"""
from __future__ import annotations

import ipaddress
import re
from decimal import Decimal, InvalidOperation
from urllib.parse import parse_qs, quote, urlsplit


from verno.core.cel.library import INT64_MAX, INT64_MIN, FunctionError, Library
from verno.core.cel.opaque import is_opaque, type_of, unwrap, wrap
from verno.core.goregex import GoRegexError, compile_go
from verno.core.operators.semver import Version, compare_semver, parse_semver
from verno.core.quantity import parse_quantity

__all__ = ["libraries"]

D = "dyn"
QUANTITY, IP, CIDR, SEMVER, URL = ("kubernetes.Quantity", "net.IP", "net.CIDR", "kubernetes.Semver",
                                   "kubernetes.URL")


# ---------------------------------------------------------------------------------------------- lists
def _comparable(values: list, function: str) -> None:
    kinds = {_kind(v) for v in values}
    if len(kinds) > 1 or kinds & {"list", "map", "bool", "null"}:
        raise FunctionError(f"no such overload: {function} on a list of {'/'.join(sorted(kinds))}")


def _kind(v: object) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, (bytes, bytearray)):
        return "bytes"
    if isinstance(v, list):
        return "list"
    if v is None:
        return "null"
    if is_opaque(v):
        return type_of(v) or "map"
    return "map" if isinstance(v, dict) else type(v).__name__


def _is_sorted(values: list) -> bool:
    _comparable(values, "isSorted")
    return all(_cmp(values[i], values[i + 1]) <= 0 for i in range(len(values) - 1))


def _cmp(a: object, b: object) -> int:
    if is_opaque(a, QUANTITY) or is_opaque(a, SEMVER):
        return _compare_to(a, b)
    return (a > b) - (a < b)  # type: ignore[operator]


def _sum(values: list) -> object:
    if not values:
        return 0
    _comparable(values, "sum")
    if isinstance(values[0], str):
        raise FunctionError("no such overload: sum on a list of string")
    total = sum(values)
    if isinstance(total, int) and not INT64_MIN <= total <= INT64_MAX:
        raise FunctionError("integer overflow")
    return total


def _extreme(values: list, which: str) -> object:
    if not values:
        raise FunctionError(f"{which} called on empty list")
    _comparable(values, which)
    best = values[0]
    for v in values[1:]:
        c = _cmp(v, best)
        if (which == "min" and c < 0) or (which == "max" and c > 0):
            best = v
    return best


def _equal(a: object, b: object) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    both_bytes = isinstance(a, (bytes, bytearray)) and isinstance(b, (bytes, bytearray))
    if type(a) is not type(b) and not both_bytes:
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))  # type: ignore[arg-type]
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)  # type: ignore[union-attr,index]
    return a == b


def _index_of(values: list, item: object) -> int:
    return next((i for i, v in enumerate(values) if _equal(v, item)), -1)


def _last_index_of(values: list, item: object) -> int:
    return next((i for i in range(len(values) - 1, -1, -1) if _equal(values[i], item)), -1)


def lists() -> Library:
    lib = Library("k8s.lists")
    lib.fn("isSorted", ["list(dyn)"], "bool", _is_sorted, member=True)
    lib.fn("sum", ["list(dyn)"], D, _sum, member=True)
    lib.fn("min", ["list(dyn)"], D, lambda v: _extreme(v, "min"), member=True)
    lib.fn("max", ["list(dyn)"], D, lambda v: _extreme(v, "max"), member=True)
    lib.fn("indexOf", ["list(dyn)", D], "int", _index_of, member=True)
    lib.fn("lastIndexOf", ["list(dyn)", D], "int", _last_index_of, member=True)
    return lib


# ---------------------------------------------------------------------------------------------- regex
def compile_regex(pattern: str):
    """RE2 (Go's regexp semantics, linear time), cached; a syntax error is worded as Go words it."""
    try:
        return compile_go(pattern)
    except GoRegexError as exc:
        raise FunctionError(str(exc)) from None


def _find(s: str, pattern: str) -> str:
    m = compile_regex(pattern).search(s)
    return m.group(0) if m else ""


def _find_all(s: str, pattern: str, limit: int = -1) -> list[str]:
    if limit == 0:
        return []
    out = []
    for m in compile_regex(pattern).finditer(s):
        out.append(m.group(0))
        if 0 < limit <= len(out):
            break
    return out


def regex() -> Library:
    lib = Library("k8s.regex")
    lib.fn("find", ["string", "string"], "string", _find, member=True)
    lib.fn("findAll", ["string", "string"], "list(string)", _find_all, member=True)
    lib.fn("findAll", ["string", "string", "int"], "list(string)", _find_all, member=True)
    return lib


# ------------------------------------------------------------------------------------------- quantity
def _parse_q(s: str) -> Decimal:
    try:
        return parse_quantity(s)
    except (ValueError, InvalidOperation, TypeError):
        raise FunctionError("quantities must match the regular expression "
                            "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'") from None


def _q(value: Decimal) -> dict:
    return wrap(QUANTITY, format(value.normalize(), "f") if value else "0")


def _qv(value: object, function: str) -> Decimal:
    return Decimal(unwrap(value, QUANTITY, function))  # type: ignore[arg-type]


def _is_quantity(s: str) -> bool:
    try:
        parse_quantity(s)
        return True
    except (ValueError, InvalidOperation, TypeError):
        return False


def _as_integer(q: object) -> int:
    v = _qv(q, "asInteger")
    if v != v.to_integral_value() or not INT64_MIN <= v <= INT64_MAX:
        raise FunctionError("cannot convert value to integer")
    return int(v)


def _is_integer(q: object) -> bool:
    v = _qv(q, "isInteger")
    return v == v.to_integral_value() and INT64_MIN <= v <= INT64_MAX


def _arith(q: object, other: object, sign: int, function: str) -> dict:
    left = _qv(q, function)
    if isinstance(other, bool) or not (isinstance(other, int) or is_opaque(other, QUANTITY)):
        raise FunctionError(f"no such overload: {function}")
    right = Decimal(other) if isinstance(other, int) else _qv(other, function)
    return _q(left + sign * right)


def _compare_to(a: object, b: object) -> int:
    kind = type_of(a)
    if kind == SEMVER:
        return _semver_cmp(_sv(a, "compareTo"), _sv(b, "compareTo"))
    x, y = _qv(a, "compareTo"), _qv(b, "compareTo")
    return (x > y) - (x < y)


def _greater(a: object, b: object) -> bool:
    return _compare_to(a, b) > 0


def _less(a: object, b: object) -> bool:
    return _compare_to(a, b) < 0


def quantity() -> Library:
    lib = Library("k8s.quantity")
    lib.fn("quantity", ["string"], D, lambda s: _q(_parse_q(s)))
    lib.fn("isQuantity", ["string"], "bool", _is_quantity)
    lib.fn("sign", [D], "int", lambda q: (lambda v: (v > 0) - (v < 0))(_qv(q, "sign")), member=True)
    lib.fn("isInteger", [D], "bool", _is_integer, member=True)
    lib.fn("asInteger", [D], "int", _as_integer, member=True)
    lib.fn("asApproximateFloat", [D], "double", lambda q: float(_qv(q, "asApproximateFloat")), member=True)
    lib.fn("add", [D, D], D, lambda q, o: _arith(q, o, 1, "add"), member=True)
    lib.fn("sub", [D, D], D, lambda q, o: _arith(q, o, -1, "sub"), member=True)
    return lib


def comparison() -> Library:
    """``isGreaterThan`` / ``isLessThan`` / ``compareTo``, shared by quantities and semvers."""
    lib = Library("k8s.compare")
    lib.fn("isGreaterThan", [D, D], "bool", _greater, member=True)
    lib.fn("isLessThan", [D, D], "bool", _less, member=True)
    lib.fn("compareTo", [D, D], "int", _compare_to, member=True)
    return lib


# ---------------------------------------------------------------------------------------- ip and cidr
def _parse_ip(s: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    if "%" in s:
        raise FunctionError(f"IP address with zone value is not allowed: {s}")
    try:
        addr = ipaddress.ip_address(s)
    except ValueError:
        raise FunctionError(f"IP Address {s!r} parse error during conversion from string: "
                            f"ParseAddr({s!r}): unable to parse IP") from None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None and "." in s:
        raise FunctionError(f"IPv4-mapped IPv6 address is not allowed: {s}")
    return addr


def _ip_value(v: object, function: str):
    return ipaddress.ip_address(unwrap(v, IP, function))


def _is_ip(s: str) -> bool:
    try:
        _parse_ip(s)
        return True
    except FunctionError:
        return False


def _is_global_unicast(addr) -> bool:
    if addr.version == 4 and addr == ipaddress.IPv4Address("255.255.255.255"):
        return False
    return not (addr.is_unspecified or addr.is_loopback or addr.is_multicast or addr.is_link_local)


def _link_local_multicast(addr) -> bool:
    if addr.version == 4:
        return addr in ipaddress.ip_network("224.0.0.0/24")
    return addr.is_multicast and (addr.packed[1] & 0x0F) == 0x02


def _parse_cidr(s: str) -> ipaddress.IPv4Interface | ipaddress.IPv6Interface:
    if "%" in s:
        raise FunctionError(f"CIDR with zone value is not allowed: {s}")
    addr, _, bits = s.partition("/")
    if not bits or not bits.isdigit() or (len(bits) > 1 and bits[0] == "0"):
        raise FunctionError(f"network address parse error during conversion from string: "
                            f"netip.ParsePrefix({s!r}): bad bits after slash: {bits!r}")
    _parse_ip(addr)
    try:
        return ipaddress.ip_interface(s)
    except ValueError:
        raise FunctionError(f"network address parse error during conversion from string: "
                            f"netip.ParsePrefix({s!r}): prefix length out of range") from None


def _cidr_value(v: object, function: str):
    return ipaddress.ip_interface(unwrap(v, CIDR, function))


def _is_cidr(s: str) -> bool:
    try:
        _parse_cidr(s)
        return True
    except FunctionError:
        return False


def _contains_ip(c: object, other: object) -> bool:
    network = _cidr_value(c, "containsIP").network
    addr = _parse_ip(other) if isinstance(other, str) else _ip_value(other, "containsIP")
    return addr.version == network.version and addr in network


def _contains_cidr(c: object, other: object) -> bool:
    network = _cidr_value(c, "containsCIDR").network
    inner = (_parse_cidr(other) if isinstance(other, str) else _cidr_value(other, "containsCIDR")).network
    return inner.version == network.version and inner.prefixlen >= network.prefixlen \
        and inner.network_address in network


def _string_of(v: object) -> str:
    kind = type_of(v)
    if kind in (IP, CIDR, QUANTITY, SEMVER, URL):
        return str(v["v"])  # type: ignore[index]
    raise FunctionError("no such overload: string(map)")


def _is_canonical(s: str) -> bool:
    return str(_parse_ip(s)) == s


def net() -> Library:
    lib = Library("k8s.ip")
    lib.fn("ip", ["string"], D, lambda s: wrap(IP, str(_parse_ip(s))))
    lib.fn("isIP", ["string"], "bool", _is_ip)
    lib.fn("ip.isCanonical", ["string"], "bool", _is_canonical)
    lib.fn("family", [D], "int", lambda v: _ip_value(v, "family").version, member=True)
    lib.fn("isUnspecified", [D], "bool", lambda v: _ip_value(v, "isUnspecified").is_unspecified, member=True)
    lib.fn("isLoopback", [D], "bool", lambda v: _ip_value(v, "isLoopback").is_loopback, member=True)
    lib.fn("isLinkLocalMulticast", [D], "bool",
           lambda v: _link_local_multicast(_ip_value(v, "isLinkLocalMulticast")), member=True)
    lib.fn("isLinkLocalUnicast", [D], "bool", lambda v: _ip_value(v, "isLinkLocalUnicast").is_link_local,
           member=True)
    lib.fn("isGlobalUnicast", [D], "bool", lambda v: _is_global_unicast(_ip_value(v, "isGlobalUnicast")),
           member=True)
    lib.fn("string", ["map(string, dyn)"], "string", _string_of, overload_id="k8s.string_opaque")
    cidr = Library("k8s.cidr")
    cidr.fn("cidr", ["string"], D, lambda s: wrap(CIDR, str(_parse_cidr(s))))
    cidr.fn("isCIDR", ["string"], "bool", _is_cidr)
    cidr.fn("containsIP", [D, D], "bool", _contains_ip, member=True)
    cidr.fn("containsCIDR", [D, D], "bool", _contains_cidr, member=True)
    cidr.fn("ip", [D], D, lambda v: wrap(IP, str(_cidr_value(v, "ip").ip)), member=True)
    cidr.fn("masked", [D], D, lambda v: wrap(CIDR, str(_cidr_value(v, "masked").network)), member=True)
    cidr.fn("prefixLength", [D], "int", lambda v: _cidr_value(v, "prefixLength").network.prefixlen,
            member=True)
    return [lib, cidr]  # type: ignore[return-value]


# --------------------------------------------------------------------------------------------- semver
def _normalize_semver(s: str) -> str:
    """Kubernetes' normalization: drop a leading ``v``, add missing minor/patch, strip leading zeros."""
    s = s[1:] if s.startswith("v") else s
    core = re.match(r"^[0-9.]*", s).group(0)  # type: ignore[union-attr]
    rest = s[len(core):]
    parts = core.split(".") if core else []
    if 0 < len(parts) < 3:
        parts += ["0"] * (3 - len(parts))
    parts = [(p.lstrip("0") or "0") if p else p for p in parts]
    return ".".join(parts) + rest


def _parse_semver(s: str, normalize: bool = False) -> str:
    """``s`` (normalized first when asked) when blang/semver's ``Parse`` accepts it, as Kubernetes checks."""
    text = _normalize_semver(s) if normalize else s
    try:
        parse_semver(text)
    except ValueError:
        raise FunctionError(f"could not parse {s!r} as semver") from None
    return text


def _sv(v: object, function: str) -> str:
    return unwrap(v, SEMVER, function)  # type: ignore[return-value]


def _semver_key(text: str) -> Version:
    return parse_semver(text)


def _semver_cmp(a: str, b: str) -> int:
    return compare_semver(parse_semver(a), parse_semver(b))


def _is_semver(s: str, normalize: bool = False) -> bool:
    try:
        _parse_semver(s, normalize)
        return True
    except FunctionError:
        return False


def semver() -> Library:
    lib = Library("k8s.semver")
    lib.fn("semver", ["string"], D, lambda s: wrap(SEMVER, _parse_semver(s)))
    lib.fn("semver", ["string", "bool"], D, lambda s, n: wrap(SEMVER, _parse_semver(s, n)))
    lib.fn("isSemver", ["string"], "bool", _is_semver)
    lib.fn("isSemver", ["string", "bool"], "bool", _is_semver)
    lib.fn("major", [D], "int", lambda v: _semver_key(_sv(v, "major"))[0], member=True)
    lib.fn("minor", [D], "int", lambda v: _semver_key(_sv(v, "minor"))[1], member=True)
    lib.fn("patch", [D], "int", lambda v: _semver_key(_sv(v, "patch"))[2], member=True)
    return lib


# ----------------------------------------------------------------------------------------------- urls
def _url_error(s: str, reason: str) -> str:
    return f"URL parse error during conversion from string: parse {s!r}: {reason}"


def _parse_url(s: str) -> str:
    """Go's ``url.ParseRequestURI``: an absolute URI or an absolute path, no fragment."""
    if not s or any(ord(c) < 0x20 or ord(c) == 0x7F for c in s) or " " in urlsplit(s).netloc:
        raise FunctionError(_url_error(s, "invalid URI for request"))
    parts = urlsplit(s)
    if not parts.scheme and not s.startswith("/"):
        raise FunctionError(_url_error(s, "invalid URI for request"))
    if parts.scheme and not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*$", parts.scheme):
        raise FunctionError(f"URL parse error during conversion from string: parse {s!r}: "
                            "first path segment in URL cannot contain colon")
    try:
        parts.port  # noqa: B018 - validates the port
    except ValueError:
        raise FunctionError(_url_error(s, "invalid port")) from None
    return s


def _url(v: object, function: str):
    return urlsplit(unwrap(v, URL, function))  # type: ignore[arg-type]


def _hostname(v: object) -> str:
    netloc = _url(v, "getHostname").netloc.rpartition("@")[2]
    if netloc.startswith("["):
        return netloc[1:netloc.index("]")] if "]" in netloc else ""
    return netloc.rpartition(":")[0] if ":" in netloc else netloc


def _port(v: object) -> str:
    netloc = _url(v, "getPort").netloc.rpartition("@")[2]
    host_end = netloc.index("]") + 1 if netloc.startswith("[") and "]" in netloc else 0
    rest = netloc[host_end:]
    return rest.rpartition(":")[2] if ":" in rest else ""


def _query(v: object) -> dict:
    return parse_qs(_url(v, "getQuery").query, keep_blank_values=True)


def urls() -> Library:
    lib = Library("k8s.urls")
    lib.fn("url", ["string"], D, lambda s: wrap(URL, _parse_url(s)))
    lib.fn("isURL", ["string"], "bool", lambda s: _is_url(s))
    lib.fn("getScheme", [D], "string", lambda v: _url(v, "getScheme").scheme, member=True)
    lib.fn("getHost", [D], "string", lambda v: _url(v, "getHost").netloc.rpartition("@")[2], member=True)
    lib.fn("getHostname", [D], "string", _hostname, member=True)
    lib.fn("getPort", [D], "string", _port, member=True)
    lib.fn("getEscapedPath", [D], "string",
           lambda v: quote(_url(v, "getEscapedPath").path, safe="/;:@&=+$,!'()*-._~%"), member=True)
    lib.fn("getQuery", [D], "map(string, list(string))", _query, member=True)
    return lib


def _is_url(s: str) -> bool:
    try:
        _parse_url(s)
        return True
    except FunctionError:
        return False


def libraries() -> list[Library]:
    return [lists(), regex(), quantity(), comparison(), *net(), semver(), urls()]  # type: ignore[misc]
