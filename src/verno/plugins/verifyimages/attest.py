"""``attestations``: verified in-toto statements of a type, then ``conditions`` over the predicate.

As in Kyverno, the statement's ``predicate`` is put at the root of the JSON context while the
conditions run (``{{ runDetails.builder.id }}``); the rest of the context stays visible. Predicate
checkers registered through ``verno_register_predicate_checkers`` run on every statement of a
matching type (the registered name is a URI or a wildcard).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from verno.core import wildcard
from verno.core.errors import PluginFailure, VernoError
from verno.core.memo import IdentityMemo
from verno.core.models.conditions import AnyAllConditions
from verno.core.signatures.cosign import Target, verify_attestations, verify_attestor_set
from verno.core.signatures.crypto import VerifyFailure
from verno.plugins.verifyimages.spec import Attestation, Attestor

#: a raw ``{any, all}`` block (policy-owned, so identity-memoized) -> the typed conditions
_typed = IdentityMemo(lambda block: block if isinstance(block, list) else AnyAllConditions.model_validate(block))


def check_attestation(rc: Any, attestation: Attestation, target: Target,
                      fetch: Callable[[Attestor, Target], list[dict[str, Any]]] = verify_attestations) -> None:
    """Raises VerifyFailure naming the attestation when it is missing, unverified or fails a condition.

    ``fetch(entry, target)`` gives the statements ``entry`` verifies: cosign ``.att`` layers by default,
    Sigstore bundles for ``type: SigstoreBundle``."""
    statements: list[dict[str, Any]] = []

    def of_type(entry):
        found = [s for s in fetch(entry, target) if s.get("predicateType") == attestation.type]
        if not found:
            raise VerifyFailure(f"attestations not found for predicate type {attestation.type}")
        return found

    if not attestation.attestors:
        raise VerifyFailure(f"attestation {attestation.name}: no attestors to verify it with")
    for aset in attestation.attestors:
        statements.extend(verify_attestor_set(aset, of_type))
    for statement in statements:
        _conditions(rc, attestation, statement, target)
        _checkers(rc, attestation, statement)


def _conditions(rc: Any, attestation: Attestation, statement: dict[str, Any], target: Target) -> None:
    if not attestation.conditions:
        return
    predicate = statement.get("predicate")
    rc.context.checkpoint()
    try:
        if isinstance(predicate, dict):
            for key, value in predicate.items():
                rc.context.set(key, value)
        for block in attestation.conditions:
            ok, msg = rc.check_conditions(_typed(block))
            if not ok:
                raise VerifyFailure(f"attestation checks failed for {target.image} and predicate "
                                    f"{attestation.type}: {msg or 'conditions not met'}")
    finally:
        rc.context.restore()


def _checkers(rc: Any, attestation: Attestation, statement: dict[str, Any]) -> None:
    for entry in rc.engine.predicate_checkers:
        if wildcard.match(entry.name, attestation.type):
            try:
                ok, msg = entry.value(statement, attestation.raw, rc)
            except VernoError:
                raise
            except Exception as exc:  # a plugin's checker: the rule errors, naming the plugin
                raise PluginFailure(entry.plugin, f"attestation predicate checker {entry.name}", exc) from exc
            if not ok:
                raise VerifyFailure(f"predicate check {entry.name} ({entry.plugin}) failed: {msg}")
