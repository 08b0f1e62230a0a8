"""Notary attestors: the one place an ImageValidatingPolicy's ``notary`` attestor is verified.

:func:`verify_notary` is what :mod:`.verify` calls for every notary attestor (signatures and attestations);
verno does not verify notary (notation) signatures yet, so it raises an error naming the attestor.
"""
from __future__ import annotations

from typing import Any

from verno.core.errors import VernoError


def verify_notary(name: str, notary: dict[str, Any], target: Any, attestation: dict[str, Any] | None) -> list[Any]:
    """The payloads ``notary`` verifies for ``target`` (the image signature when ``attestation`` is None, else
    the referrers of that attestation); raises VerifyFailure when none verifies."""
    raise VernoError(f"notary attestor {name}: verno does not verify notary signatures yet; "
                     "use a cosign attestor")
