"""Kubernetes' CEL ``format`` library (k8s.io/apiserver/pkg/cel/library/format.go).

``format.named(name)`` gives an optional format, ``format.dns1123Label()`` ... a format, and
``<format>.validate(s)`` an optional list of error strings (none when ``s`` is valid), with the messages of
apimachinery's validation functions (``IsDNS1123Label`` ...) and kube-openapi's string formats.

The two optional-returning functions are declared ``optional(T)`` and return a list of zero or one
element; every call is rewritten in the source with an optional index after it
(:mod:`verno.core.cel.optional_calls`): ``format.named(x)`` compiles as ``format.named(x)[?0]``, which is
``optional.none()`` or ``optional.of(...)`` as in Kubernetes.

Formats are opaque values (tagged maps, :mod:`verno.core.cel.opaque`) holding the format's name; two
formats are ``==`` when their names are.
"""
from __future__ import annotations

import re
from collections.abc import Callable

from verno.core.cel.libs.go_url import request_uri_error
from verno.core.cel.library import FunctionError, Library
from verno.core.cel.opaque import unwrap, wrap
from verno.core.goregex import compile_go

__all__ = ["FORMATS", "LIBRARY", "libraries"]

LIBRARY = "k8s.format"
FORMAT = "kubernetes.Format"


# ------------------------------------------------------------------ apimachinery's util/validation
def _max_len_error(length: int) -> str:
    return f"must be no more than {length} characters"


def _regex_error(msg: str, fmt: str, *examples: str) -> str:
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    listed = " or ".join(f"'{e}', " for e in examples)
    return f"{msg} (e.g. {listed}regex used for validation is '{fmt}')"


def _anchored(fmt: str):
    return compile_go(("^" + fmt + "$").encode())


DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
                     "and must start and end with an alphanumeric character")
DNS1123_SUBDOMAIN_FMT = DNS1123_LABEL_FMT + "(\\." + DNS1123_LABEL_FMT + ")*"
DNS1123_SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
                         "'-' or '.', and must start and end with an alphanumeric character")
DNS1035_LABEL_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
DNS1035_LABEL_MSG = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with "
                     "an alphabetic character, and end with an alphanumeric character")
QUALIFIED_NAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
QUALIFIED_NAME_MSG = ("must consist of alphanumeric characters, '-', '_' or '.', and must start and end with "
                      "an alphanumeric character")
LABEL_VALUE_FMT = "(" + QUALIFIED_NAME_FMT + ")?"
LABEL_VALUE_MSG = ("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
                   "'.', and must start and end with an alphanumeric character")

_DNS1123_LABEL = _anchored(DNS1123_LABEL_FMT)
_DNS1123_SUBDOMAIN = _anchored(DNS1123_SUBDOMAIN_FMT)
_DNS1035_LABEL = _anchored(DNS1035_LABEL_FMT)
_QUALIFIED_NAME = _anchored(QUALIFIED_NAME_FMT)
_LABEL_VALUE = _anchored(LABEL_VALUE_FMT)


# Go measures strings in bytes: every check below works on the UTF-8 bytes.
def is_dns1123_label(value: bytes) -> list[str]:
    errs = []
    if len(value) > 63:
        errs.append(_max_len_error(63))
    if not _DNS1123_LABEL.search(value):
        if _DNS1123_SUBDOMAIN.search(value):
            errs.append("must not contain dots")
        else:
            errs.append(_regex_error(DNS1123_LABEL_MSG, DNS1123_LABEL_FMT, "my-name", "123-abc"))
    return errs


def is_dns1123_subdomain(value: bytes) -> list[str]:
    errs = []
    if len(value) > 253:
        errs.append(_max_len_error(253))
    if not _DNS1123_SUBDOMAIN.search(value):
        errs.append(_regex_error(DNS1123_SUBDOMAIN_MSG, DNS1123_SUBDOMAIN_FMT, "example.com"))
    return errs


def is_dns1035_label(value: bytes) -> list[str]:
    errs = []
    if len(value) > 63:
        errs.append(_max_len_error(63))
    if not _DNS1035_LABEL.search(value):
        errs.append(_regex_error(DNS1035_LABEL_MSG, DNS1035_LABEL_FMT, "my-name", "abc-123"))
    return errs


def is_qualified_name(value: bytes) -> list[str]:
    errs: list[str] = []
    parts = value.split(b"/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            errs.extend("prefix part " + m for m in is_dns1123_subdomain(prefix))
    else:
        shape = _regex_error(QUALIFIED_NAME_MSG, QUALIFIED_NAME_FMT, "MyName", "my.name", "123-abc")
        return [f"a qualified name {shape} with an optional DNS subdomain prefix and '/' "
                "(e.g. 'example.com/MyName')"]
    if not name:
        errs.append("name part must be non-empty")
    elif len(name) > 63:
        errs.append("name part " + _max_len_error(63))
    if not _QUALIFIED_NAME.search(name):
        errs.append("name part " + _regex_error(QUALIFIED_NAME_MSG, QUALIFIED_NAME_FMT, "MyName", "my.name",
                                                "123-abc"))
    return errs


def is_label_value(value: bytes) -> list[str]:
    errs = []
    if len(value) > 63:
        errs.append(_max_len_error(63))
    if not _LABEL_VALUE.search(value):
        errs.append(_regex_error(LABEL_VALUE_MSG, LABEL_VALUE_FMT, "MyValue", "my_value", "12345"))
    return errs


def _mask_trailing_dash(name: bytes) -> bytes:
    """apimachinery's ``maskTrailingDash`` for generated-name prefixes: ``name[:len(name)-2] + "a"``
    (it drops the character before the dash too). A lone ``-`` makes Go's slice panic (cel-go reports
    "internal error: runtime error: slice bounds out of range"); verno fails the call saying why."""
    if name.endswith(b"-"):
        if len(name) < 2:
            raise FunctionError("validate: a prefix format cannot check '-' alone (Kubernetes' validator fails "
                                "on it too): check the value is not '-' first")
        return name[:-2] + b"a"
    return name


def _prefix(check: Callable[[bytes], list[str]]) -> Callable[[bytes], list[str]]:
    return lambda value: check(_mask_trailing_dash(value))


# ------------------------------------------------------------------------- kube-openapi's strfmt
_UUID = re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}",
                   re.IGNORECASE | re.ASCII)
_BASE64 = re.compile(rb"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{4})")
_FULL_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})", re.ASCII)
_TIME = re.compile(r"([0-9]{2}):([0-9]{2}):([0-9]{2})(.[0-9]+)?(z|([+-][0-9]{2}:[0-9]{2}))", re.ASCII)
_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def is_date(value: str) -> bool:
    """Go's ``time.Parse("2006-01-02", value)`` succeeds (year 0 included, leap years proleptic)."""
    m = _FULL_DATE.fullmatch(value)
    if not m:
        return False
    year, month, day = (int(g) for g in m.groups())
    if not 1 <= month <= 12:
        return False
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    return 1 <= day <= _DAYS[month - 1] + (1 if month == 2 and leap else 0)


def is_datetime(value: str) -> bool:
    """kube-openapi's ``IsDateTime``: split at each ``t`` (case-insensitive), a full date before the first,
    ``hh:mm:ss[.frac](z|±hh:mm)`` up to the second."""
    if len(value.encode("utf-8", "surrogatepass")) < 4:
        return False
    parts = value.replace("T", "t").replace("Z", "z").split("t")
    if len(parts) < 2 or not is_date(parts[0]):
        return False
    m = _TIME.fullmatch(parts[1])
    return bool(m) and m.group(1) <= "23" and m.group(2) <= "59" and m.group(3) <= "59"


def _bytes_check(check: Callable[[bytes], list[str]]) -> Callable[[str], list[str]]:
    return lambda s: check(s.encode("utf-8", "surrogatepass"))


def _predicate(test: Callable[[str], object], message: str) -> Callable[[str], list[str]]:
    return lambda s: [] if test(s) else [message]


def _uri(s: str) -> list[str]:
    error = request_uri_error(s)
    return [error] if error else []


#: name => validation (the string's error messages, empty when valid)
FORMATS: dict[str, Callable[[str], list[str]]] = {
    "dns1123Label": _bytes_check(is_dns1123_label),
    "dns1123Subdomain": _bytes_check(is_dns1123_subdomain),
    "dns1035Label": _bytes_check(is_dns1035_label),
    "qualifiedName": _bytes_check(is_qualified_name),
    "dns1123LabelPrefix": _bytes_check(_prefix(is_dns1123_label)),
    "dns1123SubdomainPrefix": _bytes_check(_prefix(is_dns1123_subdomain)),
    "dns1035LabelPrefix": _bytes_check(_prefix(is_dns1035_label)),
    "labelValue": _bytes_check(is_label_value),
    "uri": _uri,
    "uuid": _predicate(_UUID.fullmatch, "does not match the UUID format"),
    "byte": _predicate(lambda s: _BASE64.fullmatch(s.encode("utf-8", "surrogatepass")), "invalid base64"),
    "date": _predicate(is_date, "invalid date"),
    "datetime": _predicate(is_datetime, "invalid datetime"),
}


def _named(name: str) -> list[dict]:
    """``format.named``: ``optional.of(format)`` or ``optional.none()`` (as ``[format]`` / ``[]``)."""
    return [wrap(FORMAT, name)] if name in FORMATS else []


def _validate(fmt: object, value: str) -> list[list[str]]:
    """``<format>.validate``: ``optional.of(errors)``, or ``optional.none()`` when valid (as lists)."""
    name = unwrap(fmt, FORMAT, "validate")
    errors = FORMATS[name](value)  # type: ignore[index]
    return [errors] if errors else []


def libraries() -> list[Library]:
    lib = Library(LIBRARY)
    lib.fn("format.named", ["string"], "optional(dyn)", _named)
    for name in FORMATS:
        lib.fn(f"format.{name}", [], "dyn", lambda name=name: wrap(FORMAT, name))
    lib.fn("validate", ["dyn", "string"], "optional(list(string))", _validate, member=True)
    return [lib]
