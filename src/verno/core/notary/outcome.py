"""What a Notary Project verification found: one outcome per signature examined, and the errors raised
when verification could not even start."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from verno.core.errors import VernoError
from verno.core.notary.bounds import MAX_SIGNATURE_ATTEMPTS


class NotaryError(VernoError):
    """Verification could not be carried out: invalid trusted certificates, too many referrers, a registry
    that gave no usable answer for the image. (A signature that does not verify is an outcome, not this.)"""


class SignatureInvalid(Exception):
    """One signature failed a check; the message says which, as notation words it where it has words."""


@dataclass(frozen=True)
class SignatureOutcome:
    """One signature manifest examined: its digest, and ``error`` (empty when it verified)."""

    digest: str
    error: str = ""
    #: for a verified signature: the signing scheme, the leaf certificate's subject (RFC 4514) and the
    #: payload's ``targetArtifact``
    signing_scheme: str = ""
    signer: str = ""
    target: dict[str, Any] = field(default_factory=dict)

    @property
    def verified(self) -> bool:
        return not self.error


@dataclass(frozen=True)
class NotaryResult:
    """The signatures of one artifact: ``outcomes`` in the order examined (at most
    :data:`~verno.core.notary.bounds.MAX_SIGNATURE_ATTEMPTS`; verification stops at the first that
    verifies, as notation's does)."""

    image: str
    digest: str
    outcomes: tuple[SignatureOutcome, ...] = ()
    #: set when signatures remained unexamined because of the attempt limit
    truncated: bool = False

    @property
    def verified(self) -> int:
        """How many signatures verified (0 or 1: verification stops at the first)."""
        return sum(1 for o in self.outcomes if o.verified)

    @property
    def ok(self) -> bool:
        return self.verified > 0

    @property
    def message(self) -> str:
        """Why the artifact is not verified (empty when it is), in notation's words."""
        if self.ok:
            return ""
        ref = f"{self.image}@{self.digest}" if "@" not in self.image else self.image
        if not self.outcomes:
            return f"no signature is associated with {ref!r}, make sure the artifact was signed successfully"
        reasons = "; ".join(f"signature {o.digest}: {o.error}" for o in self.outcomes)
        text = f"signature verification failed for all the signatures associated with {ref}: {reasons}"
        if self.truncated:
            text += (f" (signature evaluation stopped: the limit of {MAX_SIGNATURE_ATTEMPTS} signatures to verify "
                     f"per artifact was reached)")
        return text


@dataclass(frozen=True)
class VerifiedReferrer:
    """A referrer of the requested artifactType whose own notary signature verified, with its payload
    (the referrer manifest's single layer, parsed as JSON)."""

    digest: str
    artifact_type: str
    payload: Any
    signature: SignatureOutcome
