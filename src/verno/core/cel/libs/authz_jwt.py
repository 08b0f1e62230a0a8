"""kyverno-authz's ``jwt`` library: ``jwt.Decode(token, key)`` decodes a JSON Web Token and verifies it
with a shared secret.

The result is ``{Valid, Claims, Header}``. ``Valid`` holds when the signature verifies with ``key``
(HMAC: HS256, HS384, HS512, the algorithms a shared secret can verify) and the time claims hold: ``exp``
not passed, ``nbf`` reached (no leeway), as golang-jwt's parser checks them. ``Claims`` and ``Header``
are the token's decoded segments whether or not it is valid (numbers as doubles, as Go reads JSON). A
token that is not three base64url segments of JSON objects is an error. The JWK-set overload
(``jwt.Decode(token, jwks.Fetch(url))``) needs the network and is not offered.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import time
from collections.abc import Callable
from typing import Any

from verno.core.cel.library import FunctionError, Library

__all__ = ["decode", "libraries"]

_HMAC = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}
MAX_TOKEN = 1 << 20  # bytes: a header or a token beyond this is no credential


def _segment(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise FunctionError(f"jwt.Decode: token is malformed: the {what} is not base64url") from None


def _json_object(raw: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(raw, parse_int=float)
    except (ValueError, RecursionError):
        raise FunctionError(f"jwt.Decode: token is malformed: the {what} is not JSON") from None
    if not isinstance(value, dict):
        raise FunctionError(f"jwt.Decode: token is malformed: the {what} is not a JSON object")
    return value


def _times_hold(claims: dict[str, Any], now: float) -> bool:
    for name in ("exp", "nbf"):
        if name not in claims:
            continue
        value = claims[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return False
        if (name == "exp" and now > value) or (name == "nbf" and now < value):
            return False
    return True


def decode(token: str, key: str, now: Callable[[], float] = time.time) -> dict[str, Any]:
    if len(token) > MAX_TOKEN:
        raise FunctionError(f"jwt.Decode: token is longer than {MAX_TOKEN} bytes")
    parts = token.split(".")
    if len(parts) != 3:
        raise FunctionError("jwt.Decode: token is malformed: expected three dot-separated segments")
    header = _json_object(_segment(parts[0], "header"), "header")
    claims = _json_object(_segment(parts[1], "claims"), "claims")
    signature = _segment(parts[2], "signature")
    digest = _HMAC.get(header.get("alg"))  # type: ignore[arg-type]
    valid = False
    if digest is not None:
        expected = hmac.new(key.encode(), f"{parts[0]}.{parts[1]}".encode(), digest).digest()
        valid = hmac.compare_digest(expected, signature) and _times_hold(claims, now())
    return {"Valid": valid, "Claims": claims, "Header": header}


def libraries() -> list[Library]:
    lib = Library("authz.jwt")
    lib.fn("jwt.Decode", ["string", "string"], "dyn", lambda token, key: decode(token, key))
    return [lib]
