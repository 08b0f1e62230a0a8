"""Go's ``net/url.ParseRequestURI`` as a check, with Go's error texts
(``parse "x": invalid URI for request``).

Kubernetes' ``format.uri()`` reports the error Go's parser gives; this reproduces the parser's rules for a
request URI: control characters, the scheme, ``?`` query split, opaque forms, the authority (userinfo,
host, port, IPv6 literal and zone) and percent-escapes. Scanning is done with regular expressions, so the
work is linear in the string and runs in C.
"""
from __future__ import annotations

import re

__all__ = ["go_quote", "request_uri_error"]

_NAMED = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v",
          '"': '\\"', "\\": "\\\\"}
# characters strconv.Quote may escape: quote, backslash, ASCII controls, and any run of non-ASCII
_QUOTE_CANDIDATES = re.compile(r'["\\\x00-\x1f\x7f]|[^\x00-\x7f]+')


def _quote_char(ch: str) -> str:
    if ch in _NAMED:
        return _NAMED[ch]
    c = ord(ch)
    if c < 0x80:
        return f"\\x{c:02x}"
    if 0xDC80 <= c <= 0xDCFF:  # an undecodable byte kept by surrogateescape
        return f"\\x{c - 0xDC00:02x}"
    if ch.isprintable():
        return ch
    return f"\\u{c:04x}" if c < 0x10000 else f"\\U{c:08x}"


def _quote_match(m: re.Match) -> str:
    text = m.group()
    if len(text) > 1 and text.isprintable():
        return text
    return "".join(_quote_char(ch) for ch in text)


def go_quote(s: str) -> str:
    """Go's ``strconv.Quote``."""
    return '"' + _QUOTE_CANDIDATES.sub(_quote_match, s) + '"'


_CTL = re.compile(r"[\x00-\x1f\x7f]")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
# the first malformed percent-escape (``%`` not followed by two hex digits)
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
# host: a malformed escape, an escaped ASCII byte other than %25, or an ASCII byte that must be escaped
_HOST_ERROR = re.compile(r"%(?![0-9A-Fa-f]{2})|%(?!25)[0-7][0-9A-Fa-f]|[\x00-\x20#/?@\\^`{|}\x7f]")
# zone (RFC 6874): an escape may stand for a host character or a space, nothing else ASCII
_HOST_OK = "A-Za-z0-9\\-_.~!$&'()*+,;=:\\[\\]<>\""
_ZONE_ERROR = re.compile(
    r"%(?![0-9A-Fa-f]{2})|%(?!25|20|"
    + "|".join(f"{c:02X}" for c in range(0x21, 0x7F) if re.fullmatch(f"[{_HOST_OK}]", chr(c)))
    + r")[0-9A-Fa-f]{2}|[\x00-\x20#/?@\\^`{|}\x7f]", re.IGNORECASE)
_USERINFO_BAD = re.compile(r"[^A-Za-z0-9\-._:~!$&'()*+,;=%@]")
_PORT = re.compile(r"(:[0-9]*)?")


def _escape_error(s: str, index: int) -> str:
    """``invalid URL escape "%zz"``: Go cuts the escape at three bytes."""
    raw = s[index:].encode("utf-8", "surrogateescape")[:3].decode("utf-8", "surrogateescape")
    return f"invalid URL escape {go_quote(raw)}"


def _host_error(host: str, pattern: re.Pattern) -> str | None:
    m = pattern.search(host)
    if m is None:
        return None
    if m.group().startswith("%"):
        return _escape_error(host, m.start())
    return f"invalid character {go_quote(m.group())} in host name"


def _parse_host(host: str) -> str | None:
    if host.startswith("["):
        i = host.rfind("]")
        if i < 0:
            return "missing ']' in host"
        colon_port = host[i + 1:]
        if not _PORT.fullmatch(colon_port):
            return f"invalid port {go_quote(colon_port)} after host"
        zone = host.find("%25", 0, i)
        if zone >= 0:
            return _host_error(host[:zone], _HOST_ERROR) or _host_error(host[zone:i], _ZONE_ERROR) \
                or _host_error(host[i:], _HOST_ERROR)
    else:
        i = host.rfind(":")
        if i >= 0 and not _PORT.fullmatch(host[i:]):
            return f"invalid port {go_quote(host[i:])} after host"
    return _host_error(host, _HOST_ERROR)


def _parse_authority(authority: str) -> str | None:
    at = authority.rfind("@")
    error = _parse_host(authority[at + 1:] if at >= 0 else authority)
    if error or at < 0:
        return error
    userinfo = authority[:at]
    if _USERINFO_BAD.search(userinfo):
        return "net/url: invalid userinfo"
    m = _BAD_ESCAPE.search(userinfo)  # user, then password: the first bad escape either way
    return _escape_error(userinfo, m.start()) if m else None


def _parse_error(raw: str) -> str | None:
    if _CTL.search(raw):
        return "net/url: invalid control character in URL"
    if raw == "":
        return "empty url"
    if raw == "*":
        return None
    if raw.startswith(":"):
        return "missing protocol scheme"
    m = _SCHEME.match(raw)
    scheme, rest = (raw[:m.end() - 1], raw[m.end():]) if m else ("", raw)
    if rest.endswith("?") and rest.count("?") == 1:
        rest = rest[:-1]
    else:
        rest = rest.partition("?")[0]
    if not rest.startswith("/"):
        return None if scheme else "invalid URI for request"
    if scheme and rest.startswith("//"):
        authority, slash, path = rest[2:].partition("/")
        error = _parse_authority(authority)
        if error:
            return error
        rest = slash + path
    m = _BAD_ESCAPE.search(rest)
    return _escape_error(rest, m.start()) if m else None


def request_uri_error(raw: str) -> str | None:
    """The error ``url.ParseRequestURI(raw)`` returns, as its text, or None when it parses."""
    error = _parse_error(raw)
    return None if error is None else f"parse {go_quote(raw)}: {error}"
