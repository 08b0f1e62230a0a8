"""Notary Project (notation) signature verification: JWS envelopes found as OCI referrers, checked
against a notary attestor's ``certs`` and ``tsaCerts`` as Kyverno's ImageValidatingPolicy does."""
from __future__ import annotations

from verno.core.notary.outcome import (
    NotaryError, NotaryResult, SignatureInvalid, SignatureOutcome, VerifiedReferrer)
from verno.core.notary.verify import ReferrerResult, load_certs, verify_envelope, verify_image, verify_referrer

__all__ = ["NotaryError", "NotaryResult", "ReferrerResult", "SignatureInvalid", "SignatureOutcome",
           "VerifiedReferrer", "load_certs", "verify_envelope", "verify_image", "verify_referrer"]
