"""Kyverno's ``kyverno.user`` library: ``parseServiceAccount(username)`` (also
``user.parseServiceAccount``): ``{Name, Namespace}`` of a ``system:serviceaccount:<ns>:<name>`` user name,
both empty for any other user name."""
from __future__ import annotations

from verno.core.cel.library import Library

__all__ = ["libraries", "parse_service_account"]

_PREFIX = "system:serviceaccount:"


def parse_service_account(username: str) -> dict[str, str]:
    name = namespace = ""
    if username.startswith(_PREFIX):
        rest = username[len(_PREFIX):]
        if ":" in rest:
            namespace, _, name = rest.partition(":")
    return {"Name": name, "Namespace": namespace}


def libraries() -> list[Library]:
    lib = Library("kyverno.user")
    lib.fn("parseServiceAccount", ["string"], "map(string, string)", parse_service_account,
           overload_id="kyverno.parse_service_account_string")
    lib.fn("user.parseServiceAccount", ["string"], "map(string, string)", parse_service_account,
           overload_id="kyverno.user.parse_service_account_string")
    return [lib]
