"""The built-in ``verifyImages`` rule kind: cosign signatures and attestations, keyed and keyless,
against real OCI registries, offline-capable (private roots, Rekor and CT keys given in the policy)."""
from __future__ import annotations

from typing import Any

from verno.core.hookspecs import hookimpl


@hookimpl(trylast=True)
def verno_verify_images(rc: Any) -> list[Any]:
    # the registry client and the signature code load with the first verifyImages rule, not at start-up
    from verno.plugins.verifyimages.rule import verify_images_rule

    return verify_images_rule(rc)


@hookimpl
def verno_admitted_object(request: Any, responses: list[Any], resource: dict[str, Any]) -> dict[str, Any] | None:
    from verno.plugins.verifyimages.verdicts import admitted_object

    return admitted_object(responses, resource)
