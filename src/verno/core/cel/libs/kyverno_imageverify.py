"""Kyverno's image verification library (ImageValidatingPolicy only, ``pkg/cel/libs/imageverify``):
``verifyImageSignatures(image, attestors)``, ``verifyAttestationSignatures(image, attestation, attestors)``
(each the number of attestors that verified), ``extractPayload(image, attestation)`` and
``getImageData(image)``.

They read the evaluation's :func:`verifying` context: which images the policy's ``matchImageReferences``
select (another image verifies with 0 attestors, as in Kyverno), the attestation names it declares, and the
policy kind's verifier that checks signatures (and reads payloads and image data). Without a verifier a call
on a selected image is an error saying so, never a pass.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from verno.core.cel.library import FunctionError, Library

__all__ = ["VerifyContext", "libraries", "verifying"]

#: (image, attestors, attestation or "") -> attestors that verified; or the payload for extractPayload
Verifier = Callable[[str, list[Any], str], int]


@dataclass
class VerifyContext:
    selects: Callable[[str], bool]
    attestations: frozenset[str] = frozenset()
    verifier: Verifier | None = None
    payloads: Callable[[str, str], Any] | None = None
    image_data: Callable[[str], Any] | None = None
    #: images the policy verified (``required``: every selected image must be)
    verified: set[str] = field(default_factory=set)
    #: images the policy checked (a signature or attestation function called on them)
    checked: set[str] = field(default_factory=set)


_CONTEXT: ContextVar[VerifyContext | None] = ContextVar("verno_cel_imageverify", default=None)

UNAVAILABLE = "no signature verifier in this evaluation (only an ImageValidatingPolicy's evaluation verifies images)"


@contextmanager
def verifying(context: VerifyContext) -> Iterator[VerifyContext]:
    token = _CONTEXT.set(context)
    try:
        yield context
    finally:
        _CONTEXT.reset(token)


def _context(function: str) -> VerifyContext:
    context = _CONTEXT.get()
    if context is None:
        raise FunctionError(f"{function}: only an ImageValidatingPolicy's evaluation verifies images")
    return context


def _attestation(context: VerifyContext, name: str, function: str) -> None:
    if name not in context.attestations:
        raise FunctionError(f"{function}: unknown attestation {name!r}: the policy declares "
                            f"{', '.join(sorted(context.attestations)) or 'none'}")


def _verify_signatures(image: str, attestors: list[Any]) -> int:
    context = _context("verifyImageSignatures")
    if not context.selects(image):
        return 0
    if context.verifier is None:
        raise FunctionError(f"verifyImageSignatures({image}): {UNAVAILABLE}")
    count = context.verifier(image, list(attestors), "")
    context.checked.add(image)
    if count:
        context.verified.add(image)
    return count


def _verify_attestations(image: str, attestation: str, attestors: list[Any]) -> int:
    context = _context("verifyAttestationSignatures")
    _attestation(context, attestation, "verifyAttestationSignatures")
    if not context.selects(image):
        return 0
    if context.verifier is None:
        raise FunctionError(f"verifyAttestationSignatures({image}, {attestation}): {UNAVAILABLE}")
    count = context.verifier(image, list(attestors), attestation)
    context.checked.add(image)
    if count:
        context.verified.add(image)
    return count


def _extract_payload(image: str, attestation: str) -> Any:
    context = _context("extractPayload")
    _attestation(context, attestation, "extractPayload")
    if context.payloads is None:
        raise FunctionError(f"extractPayload({image}, {attestation}): {UNAVAILABLE}")
    return context.payloads(image, attestation)


def _image_data(image: str) -> Any:
    context = _context("getImageData")
    if context.image_data is None:
        raise FunctionError(f"getImageData({image}): {UNAVAILABLE}")
    return context.image_data(image)


def libraries() -> list[Library]:
    lib = Library("kyverno.imageverify")
    lib.fn("verifyImageSignatures", ["string", "list(dyn)"], "int", _verify_signatures)
    lib.fn("verifyAttestationSignatures", ["string", "string", "list(dyn)"], "int", _verify_attestations)
    lib.fn("extractPayload", ["string", "string"], "dyn", _extract_payload)
    lib.fn("getImageData", ["string"], "dyn", _image_data)
    return [lib]
