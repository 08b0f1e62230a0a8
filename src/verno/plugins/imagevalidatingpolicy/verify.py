"""Signature checks of an ImageValidatingPolicy's evaluation: what ``verifyImageSignatures``,
``verifyAttestationSignatures``, ``extractPayload`` and ``getImageData`` do (Kyverno's ``ivfuncs``).

One :class:`ImageVerifier` per evaluation. An image is resolved to its digest once (a registry that cannot
be reached, or an image that does not exist, is an error naming the image: ``failed to get imagedata: ...``).
Each attestor is then checked on its own, through :mod:`verno.core.signatures` for cosign and
:func:`.notary.verify_notary` for notary: an attestor that does not verify counts 0 (as in Kyverno, where a
failed check is logged and not counted), a registry or policy problem (a key verno cannot use, the public
Sigstore services it never contacts) is an error. ``intoto`` attestations are cosign ``.att`` DSSE
envelopes, else Sigstore bundle referrers; the verified predicate is kept for ``extractPayload``.
``referrer`` attestations are verified by notary attestors only (a cosign attestor counts 0); their
payload is, as in Kyverno, the first referrer of that artifactType's single layer, parsed as JSON.

Outcomes are kept per (policy, attestor as evaluated, attestation, image digest, credentials) for the
evaluation and, failures as well as passes (never errors), in the engine's TTL cache across requests.
Registries are reached through the run's pool (``verno.registry``, behind the egress fence).
"""
from __future__ import annotations

import json
import weakref
from dataclasses import dataclass
from typing import Any

from verno.core.cel.library import FunctionError
from verno.core.errors import VernoError
from verno.core.images import ImageError, parse_image_reference
from verno.core.signatures.attestor import Attestor
from verno.core.signatures.bundle import bundle_offline_problem, verify_bundles
from verno.core.signatures.cache import TTLCache
from verno.core.signatures.cosign import Target, public_services_needed, verify_attestations, verify_signatures
from verno.core.signatures.crypto import VerifyFailure
from verno.core.signatures.secrets import needs_cluster
from verno.plugins.imagevalidatingpolicy.attestors import cosign_attestor
from verno.plugins.imagevalidatingpolicy.notary import verify_notary
from verno.registry import Registries
from verno.registry.access import named_secret_credentials, registries_for, with_credentials

MAX_REFERRERS = 50  # Kyverno's bound on the referrers of one image
_engine_state: "weakref.WeakKeyDictionary[Any, dict[str, Any]]" = weakref.WeakKeyDictionary()
_NO_ENGINE: dict[str, Any] = {}


def state(engine: Any) -> dict[str, Any]:
    """Per-engine state: the verification cache and the registry pools built for it."""
    if engine is None:
        return _NO_ENGINE.setdefault("state", {"cache": TTLCache(), "registries": {}, "credentialed": {}})
    s = _engine_state.get(engine)
    if s is None:
        s = _engine_state[engine] = {"cache": TTLCache(), "registries": {}, "credentialed": {}}
    return s


@dataclass(frozen=True)
class Resolved:
    image: str
    registry: str
    path: str
    tag: str
    digest: str

    @property
    def reference_with_tag(self) -> str:
        return f"{self.registry}/{self.path}:{self.tag or 'latest'}"


#: the settings that avoid the public Sigstore services, as an ImageValidatingPolicy spells them
FIELDS = {"roots": "cosign.keyless.roots or cosign.trustedRoot", "rekor_pubkey": "cosign.ctlog.rekorPubKey",
          "ignore_tlog": "cosign.ctlog.insecureIgnoreTlog", "ctlog_pubkey": "cosign.ctlog.ctLogPubKey",
          "ignore_sct": "cosign.ctlog.insecureIgnoreSCT"}


def offline_problem(entry: Attestor) -> str:
    """Why ``entry`` would need the public Sigstore services (checked before any network), or ""."""
    return public_services_needed(entry, FIELDS)


class ImageVerifier:
    """The verification functions' backend for one evaluation of one policy."""

    def __init__(self, policy: Any, inputs: Any, resource: dict[str, Any] | None, attestors: dict[str, Any]):
        self.policy = policy
        self.sources = inputs.sources
        self.state = state(inputs.engine)
        self.resource = resource or {}
        self.attestors = attestors
        credentials = policy.credentials or {}
        self.insecure = bool(credentials.get("allowInsecureRegistry"))
        self._pool: Registries | None = None
        self._credential_key: tuple[Any, ...] = ()
        self._resolved: dict[str, Resolved] = {}
        self._outcomes: dict[tuple[Any, ...], tuple[bool, list[Any], str]] = {}
        self._payloads: dict[tuple[str, str], Any] = {}

    # -- registries ----------------------------------------------------------------------------------------
    def pool(self) -> Registries:
        if self._pool is None:
            base = registries_for(self.sources, self.state["registries"], "ImageValidatingPolicy verification")
            extra = self._secret_credentials()
            self._pool = with_credentials(base, extra, self.state["credentialed"])
            self._credential_key = tuple(sorted(extra.items()))
        return self._pool

    def _secret_credentials(self) -> dict[str, Any]:
        credentials = self.policy.credentials or {}
        what = "credentials.secrets"
        for provider in credentials.get("providers") or []:
            if provider != "default":
                raise VernoError(f"credentials.providers: {provider} is not supported (verno reads the docker "
                                 "config and pull Secrets)")
        named = [(what, str(n)) for n in credentials.get("secrets") or []]
        for attestor_name, attestor in sorted(self.attestors.items()):
            source = ((attestor.get("cosign") or {}).get("source") or {}) if isinstance(attestor, dict) else {}
            for secret in source.get("PullSecrets") or []:
                if isinstance(secret, dict) and secret.get("name"):
                    named.append((f"attestor {attestor_name}: cosign.source.PullSecrets", str(secret["name"])))
        if not named:
            return {}
        cluster = getattr(self.sources, "cluster", None)
        if cluster is None:
            raise needs_cluster(named[0][0], ", ".join(n for _, n in named))
        return named_secret_credentials(cluster, named)

    def resolve(self, image: str) -> Resolved:
        """The image and its digest (the tag resolved once per evaluation); a VernoError naming the image."""
        hit = self._resolved.get(image)
        if hit is None:
            try:
                info = parse_image_reference(image)
            except ImageError as exc:
                raise VernoError(f"invalid image reference {image!r}: {exc}") from None
            client = self.pool().client(info.registry, insecure=self.insecure)
            digest = info.digest or client.resolve(info.path, info.tag or "latest").digest
            hit = self._resolved[image] = Resolved(image, info.registry, info.path, info.tag, digest)
        return hit

    def _image(self, image: str) -> Resolved:
        try:
            return self.resolve(image)
        except VernoError as exc:
            raise FunctionError(f"failed to get imagedata: {exc}") from None

    # -- the CEL functions -----------------------------------------------------------------------------------
    def count(self, image: str, attestors: list[Any], attestation: str) -> int:
        """How many of ``attestors`` verify ``image`` (its signature, or ``attestation`` when given)."""
        named = [self._attestor(item) for item in attestors]
        resolved = self._image(image)
        spec = self.policy.attestation_specs.get(attestation) if attestation else None
        return sum(1 for name, attestor in named if self._verified(resolved, name, attestor, attestation, spec))

    def payload(self, image: str, attestation: str) -> Any:
        """``extractPayload``: the verified in-toto predicate, or the referrer's payload."""
        spec = self.policy.attestation_specs.get(attestation) or {}
        resolved = self._image(image)
        if spec.get("intoto") is not None:
            key = (f"{resolved.registry}/{resolved.path}@{resolved.digest}", attestation)
            if key not in self._payloads:
                raise FunctionError(f"failed to get payload: intoto attestation payload cannot be fetched before "
                                    f"verifying intoto attestation {attestation} of {image}")
            return self._payloads[key]
        kind = str((spec.get("referrer") or {}).get("type") or "")
        try:
            return self._referrer_payload(resolved, kind)
        except VernoError as exc:
            raise FunctionError(f"failed to get payload: {exc}") from None

    def image_data(self, image: str) -> Any:
        try:
            return self.pool().image_data(image, {"allowInsecureRegistry": self.insecure})
        except VernoError as exc:
            raise FunctionError(f"failed to get imagedata: {exc}") from None

    # -- checks ------------------------------------------------------------------------------------------------
    def _attestor(self, item: Any) -> tuple[str, dict[str, Any]]:
        name = item if isinstance(item, str) else (item.get("name") if isinstance(item, dict) else None)
        if not isinstance(name, str) or name not in self.attestors:
            raise FunctionError(f"attestor not found in policy: {name if isinstance(name, str) else repr(item)}")
        return name, self.attestors[name]

    def _verified(self, resolved: Resolved, name: str, attestor: dict[str, Any], attestation: str,
                  spec: dict[str, Any] | None) -> bool:
        where = f"{resolved.registry}/{resolved.path}@{resolved.digest}"
        key = (self.policy.key, json.dumps(attestor, sort_keys=True, default=str), attestation,
               json.dumps(spec, sort_keys=True, default=str) if spec else "", where, self.insecure,
               self._credential_key)
        outcome = self._outcomes.get(key)
        if outcome is None:
            outcome = self.state["cache"].get(key)
        if outcome is None:
            try:
                payloads = self._check(resolved, name, attestor, spec)
                outcome = (True, payloads, "")
            except VerifyFailure as exc:
                outcome = (False, [], str(exc))
            except VernoError as exc:
                verb = "verifyAttestationSignatures" if spec is not None else "verifyImageSignatures"
                raise FunctionError(f"{verb}({resolved.image}): {exc}") from None
            self.state["cache"].put(key, outcome)
        self._outcomes[key] = outcome
        if outcome[0] and spec is not None and outcome[1]:
            self._payloads.setdefault((where, attestation), outcome[1][0])
        return outcome[0]

    def _check(self, resolved: Resolved, name: str, attestor: dict[str, Any], spec: dict[str, Any] | None) -> list[Any]:
        """The verified payloads (none for a signature); VerifyFailure when ``attestor`` does not verify."""
        target = Target(resolved.image, resolved.registry, resolved.path, resolved.digest, self.pool(), self.insecure)
        if attestor.get("notary") is not None:
            return verify_notary(name, attestor["notary"], target, spec)
        entry = cosign_attestor(name, attestor.get("cosign") or {})
        problem = offline_problem(entry)
        if problem:
            raise VernoError(problem)
        bundles = not bundle_offline_problem(entry)
        if spec is None:
            try:
                verify_signatures(entry, target)
            except VerifyFailure as legacy:
                if not bundles:
                    raise
                try:
                    verify_bundles(entry, target)
                except VerifyFailure as exc:
                    raise VerifyFailure(f"{legacy}; {exc}") from None
            return []
        if spec.get("intoto") is None:
            raise VerifyFailure(f"attestor {name}: a cosign attestor verifies intoto attestations only")
        kind = str((spec.get("intoto") or {}).get("type") or "")
        reasons: list[str] = []
        statements: list[dict[str, Any]] = []
        try:
            statements = [s for s in verify_attestations(entry, target) if s.get("predicateType") == kind]
        except VerifyFailure as exc:
            reasons.append(str(exc))
        if not statements and bundles:
            try:
                statements = verify_bundles(entry, target, kind)
            except VerifyFailure as exc:
                reasons.append(str(exc))
        if not statements:
            raise VerifyFailure(f"required predicate type {kind} not found" +
                                (f": {'; '.join(reasons)}" if reasons else ""))
        return [s.get("predicate") for s in statements]

    def _referrer_payload(self, resolved: Resolved, artifact_type: str) -> Any:
        client = self.pool().client(resolved.registry, insecure=self.insecure)
        found = client.referrers(resolved.path, resolved.digest, artifact_type)
        if len(found) > MAX_REFERRERS:
            raise VernoError(f"too many referrers found for {resolved.image}, max limit is {MAX_REFERRERS}")
        if not found:
            raise VernoError(f"artifact of type {artifact_type} not found for {resolved.image}")
        manifest = client.manifest(resolved.path, found[0]["digest"])
        layers = manifest.json.get("layers") or []
        if len(layers) != 1:
            raise VernoError(f"invalid referrer {found[0]['digest']} of {resolved.image}: it must have one layer")
        blob = client.blob(resolved.path, layers[0]["digest"])
        try:
            return json.loads(blob)
        except ValueError:
            raise VernoError(f"the {artifact_type} referrer of {resolved.image} is not JSON") from None
