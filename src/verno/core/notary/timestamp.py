"""The RFC 3161 timestamp countersignature of a ``notary.x509`` signature, checked against ``tsaCerts``.

The token (``io.cncf.notary.timestampSignature``, a CMS SignedData over a TSTInfo) must stamp the
envelope's signature bytes, be signed by a timestamping certificate (critical extendedKeyUsage
``timeStamping``) that chains to one of the trusted TSA certificates at the stamped time. The stamped
time is ``genTime`` give or take its ``accuracy`` (one second when the token states none).
Verification is rfc3161-client's (a dependency of sigstore), fed the token wrapped as a granted
TimeStampResp.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Sequence

from cryptography import x509

from verno.core.notary.outcome import SignatureInvalid


@dataclass(frozen=True)
class Stamp:
    earliest: datetime
    latest: datetime

    def __str__(self) -> str:
        return (self.earliest + (self.latest - self.earliest) / 2).isoformat()


def _der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def _as_response(token: bytes) -> bytes:
    """TimeStampResp ::= SEQUENCE { status PKIStatusInfo (granted), timeStampToken }"""
    body = bytes.fromhex("3003020100") + token
    return b"\x30" + _der_length(len(body)) + body


def verify_token(token: bytes, signature: bytes, roots: Sequence[x509.Certificate]) -> Stamp:
    """Check the countersignature over ``signature``; the stamped time range, or SignatureInvalid."""
    import rfc3161_client
    from rfc3161_client import VerificationError

    try:
        response = rfc3161_client.decode_timestamp_response(_as_response(token))
        info = response.tst_info
        gen_time = info.gen_time
    except Exception as exc:  # the Rust parser raises ValueError and its own kinds alike
        raise SignatureInvalid(f"failed to parse timestamp countersignature: {type(exc).__name__}") from None
    if gen_time.tzinfo is None:
        gen_time = gen_time.replace(tzinfo=timezone.utc)
    verifier = rfc3161_client.VerifierBuilder(roots=list(roots)).build()
    try:
        verifier.verify_message(response, signature)
    except VerificationError as exc:
        raise SignatureInvalid(f"failed to verify the timestamp countersignature with error: {_reason(exc)}") \
            from None
    except Exception as exc:
        raise SignatureInvalid(f"failed to verify the timestamp countersignature: {type(exc).__name__}") from None
    accuracy = timedelta(seconds=1)
    try:
        acc = info.accuracy
        if acc is not None:
            accuracy = timedelta(seconds=acc.seconds or 0, milliseconds=acc.millis or 0,
                                 microseconds=acc.micros or 0)
    except Exception:  # no accuracy stated
        pass
    return Stamp(gen_time - accuracy, gen_time + accuracy)


def _reason(exc: Exception) -> str:
    text = str(exc)
    if text.startswith("Error while verifying certificates"):
        return ("its signature does not verify with a certificate chaining to the notary attestor's tsaCerts "
                "at the stamped time")
    if text == "Mismatch between messages":
        return "it stamps other data than this signature"
    return text
