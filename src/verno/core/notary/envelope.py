"""The JWS envelope of a Notary Project signature (``application/jose+json``), parsed and checked.

A flattened JWS JSON serialization: ``{"payload", "protected", "header", "signature"}``. The protected
header carries ``alg``, ``cty``, ``crit`` and the ``io.cncf.notary.*`` signed attributes; the unprotected
``header`` carries the ``x5c`` chain (leaf first) and an optional RFC 3161 timestamp countersignature. The
signature is over ``ASCII(protected "." payload)`` as they appear in the envelope. Anything malformed is a
:class:`SignatureInvalid` saying what, never another exception.
"""
from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography import x509

from verno.core.notary.bounds import MAX_CHAIN_LENGTH, MAX_ENVELOPE_BYTES, MAX_JWS_PAYLOAD_BYTES
from verno.core.notary.mediatypes import (
    H_AUTHENTIC_SIGNING_TIME, H_EXPIRY, H_SIGNING_SCHEME, H_SIGNING_TIME, H_TIMESTAMP, H_VERIFICATION_PLUGIN,
    H_VERIFICATION_PLUGIN_MIN, PAYLOAD, SCHEME_SIGNING_AUTHORITY, SCHEME_X509)
from verno.core.notary.outcome import SignatureInvalid

_B64URL = re.compile(r"[A-Za-z0-9_-]*")
_B64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})")
_TOP_LEVEL = frozenset({"payload", "protected", "header", "signature"})
#: registered JWS headers may not be listed in ``crit`` (RFC 7515 4.1.11)
_REGISTERED = frozenset({"alg", "jku", "jwk", "kid", "x5u", "x5c", "x5t", "x5t#S256", "typ", "cty", "crit"})
_KNOWN_PROTECTED = frozenset({"alg", "cty", "crit", H_SIGNING_SCHEME, H_SIGNING_TIME, H_AUTHENTIC_SIGNING_TIME,
                              H_EXPIRY})


@dataclass(frozen=True)
class Envelope:
    alg: str
    signing_scheme: str
    #: ``io.cncf.notary.signingTime`` (notary.x509: claimed, untrusted) or
    #: ``io.cncf.notary.authenticSigningTime`` (notary.x509.signingAuthority)
    signing_time: datetime
    expiry: datetime | None
    payload: bytes
    signature: bytes
    signing_input: bytes
    chain: tuple[x509.Certificate, ...]
    timestamp_token: bytes | None
    #: protected headers beyond the ones the specification defines (``crit`` ones are refused)
    extended: dict[str, Any]


def _fail(reason: str) -> SignatureInvalid:
    return SignatureInvalid(f"unable to parse the digital signature, error : {reason}")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _fail(f"duplicate JSON member {key!r}")
        out[key] = value
    return out


def _json(data: bytes, what: str) -> Any:
    try:
        return json.loads(data, object_pairs_hook=_no_duplicates)
    except SignatureInvalid:
        raise
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise _fail(f"{what} is not valid JSON") from None


def _b64url(value: Any, what: str) -> bytes:
    if not isinstance(value, str) or not _B64URL.fullmatch(value) or len(value) % 4 == 1:
        raise _fail(f"{what} is not base64url text (RFC 7515: URL-safe alphabet, no padding)")
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def _b64(value: Any, what: str) -> bytes:
    if not isinstance(value, str) or not _B64.fullmatch(value):
        raise _fail(f"{what} is not base64 text")
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error:
        raise _fail(f"{what} is not base64 text") from None


def _time(headers: dict[str, Any], name: str) -> datetime | None:
    value = headers.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        raise _fail(f"header {name!r} is not an RFC 3339 date-time")
    text = value.upper().replace("Z", "+00:00")
    text = re.sub(r"\.(\d+)", lambda m: "." + (m.group(1) + "000000")[:6], text)
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise _fail(f"header {name!r} is not an RFC 3339 date-time") from None


def _critical(headers: dict[str, Any], scheme: str, expiry: datetime | None) -> None:
    crit = headers.get("crit")
    if not crit:
        raise SignatureInvalid('the signature is invalid: missing "crit" header')
    if not isinstance(crit, list) or not all(isinstance(c, str) for c in crit):
        raise _fail('header "crit" is not a list of strings')
    required = {H_SIGNING_SCHEME}
    if expiry is not None:
        required.add(H_EXPIRY)
    if scheme == SCHEME_SIGNING_AUTHORITY:
        required.add(H_AUTHENTIC_SIGNING_TIME)
    for name in crit:
        if name in _REGISTERED:
            raise SignatureInvalid(f"the signature is invalid: registered header {name!r} must not be listed in "
                                   f'"crit"')
        if name in required or name in _KNOWN_PROTECTED:
            required.discard(name)
            continue
        if name not in headers:
            raise SignatureInvalid(f"the signature is invalid: {name!r} header is marked critical but not present")
        if name in (H_VERIFICATION_PLUGIN, H_VERIFICATION_PLUGIN_MIN):
            raise SignatureInvalid(f"the signature requires the verification plugin "
                                   f"{headers.get(H_VERIFICATION_PLUGIN)!r}, and verno runs no notation plugin")
        raise SignatureInvalid(f"the signature is invalid: critical header {name!r} is not understood by verno "
                               f"(a verifier must reject a signature whose critical headers it cannot process)")
    if required:
        raise SignatureInvalid(f"the signature is invalid: these required headers are not marked as critical: "
                               f"{sorted(required)}")


def parse_jws(blob: bytes) -> Envelope:
    """Parse and check the structure of a JWS envelope (not yet its signature or trust)."""
    if len(blob) > MAX_ENVELOPE_BYTES:
        raise _fail(f"the envelope is larger than {MAX_ENVELOPE_BYTES} bytes")
    env = _json(blob, "the envelope")
    if not isinstance(env, dict):
        raise _fail("the envelope is not a JSON object")
    if "signatures" in env:
        raise _fail("only the flattened JWS JSON serialization is supported (one signature per envelope)")
    missing = sorted(_TOP_LEVEL - env.keys())
    if missing:
        raise _fail(f"the envelope lacks {', '.join(missing)}")
    extra = sorted(env.keys() - _TOP_LEVEL)
    if extra:
        raise _fail(f"the envelope has unsupported top-level members {', '.join(extra)}")
    protected_b64, payload_b64 = env["protected"], env["payload"]
    headers = _json(_b64url(protected_b64, "protected"), "the protected header")
    if not isinstance(headers, dict):
        raise _fail("the protected header is not a JSON object")
    payload = _b64url(payload_b64, "payload")
    if len(payload) > MAX_JWS_PAYLOAD_BYTES:
        raise _fail(f"the payload is larger than {MAX_JWS_PAYLOAD_BYTES} bytes")
    signature = _b64url(env["signature"], "signature")
    if not signature:
        raise SignatureInvalid("the signature is invalid: the envelope's signature is empty")

    alg = headers.get("alg")
    if not isinstance(alg, str) or not alg:
        raise SignatureInvalid('the signature is invalid: missing "alg" header')
    cty = headers.get("cty")
    if cty != PAYLOAD:
        raise SignatureInvalid(f"payload content type {cty!r} not supported (the Notary Project payload is {PAYLOAD})")
    scheme = headers.get(H_SIGNING_SCHEME)
    if scheme not in (SCHEME_X509, SCHEME_SIGNING_AUTHORITY):
        if scheme is None:
            raise SignatureInvalid(f"the signature is invalid: missing {H_SIGNING_SCHEME!r} header")
        raise SignatureInvalid(f"the signature is invalid: unsupported signingScheme {scheme!r} (supported: "
                               f"{SCHEME_X509}, {SCHEME_SIGNING_AUTHORITY})")
    signing_time = _time(headers, H_SIGNING_TIME)
    authentic_time = _time(headers, H_AUTHENTIC_SIGNING_TIME)
    expiry = _time(headers, H_EXPIRY)
    if scheme == SCHEME_X509:
        if authentic_time is not None:
            raise SignatureInvalid(f"the signature is invalid: {H_AUTHENTIC_SIGNING_TIME!r} header must not be "
                                   f"present for the {SCHEME_X509} signing scheme")
        if signing_time is None:
            raise SignatureInvalid(f"the signature is invalid: missing {H_SIGNING_TIME!r} header")
        when = signing_time
    else:
        if signing_time is not None:
            raise SignatureInvalid(f"the signature is invalid: {H_SIGNING_TIME!r} header must not be present for "
                                   f"the {SCHEME_SIGNING_AUTHORITY} signing scheme")
        if authentic_time is None:
            raise SignatureInvalid(f"the signature is invalid: missing {H_AUTHENTIC_SIGNING_TIME!r} header")
        when = authentic_time
    _critical(headers, scheme, expiry)

    unprotected = env["header"]
    if not isinstance(unprotected, dict):
        raise _fail('"header" is not a JSON object')
    x5c = unprotected.get("x5c")
    if not isinstance(x5c, list) or not x5c:
        raise SignatureInvalid('the signature is invalid: the "x5c" certificate chain is missing or empty')
    if len(x5c) > MAX_CHAIN_LENGTH:
        raise _fail(f'the "x5c" certificate chain has {len(x5c)} certificates, more than {MAX_CHAIN_LENGTH}')
    chain = []
    for i, item in enumerate(x5c):
        der = _b64(item, f"x5c[{i}]")
        try:
            chain.append(x509.load_der_x509_certificate(der))
        except ValueError:
            raise _fail(f"x5c[{i}] is not a DER X.509 certificate") from None
    token = None
    if H_TIMESTAMP in unprotected:
        token = _b64(unprotected[H_TIMESTAMP], H_TIMESTAMP)
    return Envelope(alg=alg, signing_scheme=scheme, signing_time=when, expiry=expiry, payload=payload,
                    signature=signature, signing_input=f"{protected_b64}.{payload_b64}".encode("ascii"),
                    chain=tuple(chain), timestamp_token=token,
                    extended={k: v for k, v in headers.items() if k not in _KNOWN_PROTECTED})


def target_artifact(payload: bytes) -> dict[str, Any]:
    """The payload's ``targetArtifact`` descriptor (mediaType, digest and size checked for type)."""
    body = _json(payload, "the signed payload")
    target = body.get("targetArtifact") if isinstance(body, dict) else None
    if not isinstance(target, dict):
        raise SignatureInvalid('the signed payload has no "targetArtifact" descriptor')
    size = target.get("size")
    if not isinstance(target.get("mediaType"), str) or not isinstance(target.get("digest"), str) \
            or not isinstance(size, int) or isinstance(size, bool):
        raise SignatureInvalid('the signed payload\'s "targetArtifact" needs a string mediaType and digest and '
                               'an integer size')
    return target
