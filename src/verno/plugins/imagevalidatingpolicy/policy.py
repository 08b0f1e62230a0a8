"""A loaded ImageValidatingPolicy, evaluated as Kyverno's ivpol engine does (``pkg/cel/policies/ivpol``).

For one resource: ``matchConstraints`` (the policy's or an autogen variant's; not selected: no response) ->
``matchConditions`` (false: no response; an error: ``error``, or nothing under ``failurePolicy: Ignore``) ->
``policies.kyverno.io`` PolicyExceptions (one matches: ``skip``) -> the images: Kyverno's defaults for the
resource's kind (``containers``, ``initContainers``, ``ephemeralContainers`` of the Pod spec, of a
controller's template, of a CronJob's job template) and the policy's ``images`` extractors, each kept only
when ``matchImageReferences`` selects it (none: every image) -> with ``verifyDigest`` (the default) an image
without a digest fails (``image <ref> does not have a digest``) -> ``validations`` in order with ``images``,
``attestations`` and ``attestors`` bound (the first false: ``fail``; an error: ``error`` "failed to evaluate
policy: ...") -> ``pass`` "success". The rule is named after the policy (type ``ImageVerify``).

The verification functions check signatures through :class:`.verify.ImageVerifier`; the attestors'
CEL-valued fields (``key.expression`` ...) are evaluated first, into the attestors ``attestors`` binds.

In the mutating webhook (``Sources.webhook == "mutate"``) a policy with ``mutateDigest`` (the default)
resolves tag references instead of failing them for a missing digest, verifies, and only when the policy
passes pins every selected tag in the Pod spec (or a controller's template) to ``<image:tag>@<digest>``;
the pinned object is the response's ``patched_resource``. Outside admission nothing is pinned (Kyverno's
CLI does not mutate for this kind).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Callable

from verno.core import wildcard
from verno.core.cel import Activation, CELError, VariableSet
from verno.core.cel.conditions import evaluate_conditions
from verno.core.cel.admission import measured_admission_inputs
from verno.core.cel.exceptions import exception_rule, exceptions_for, match_exceptions
from verno.core.cel.libs.kyverno_imageverify import VerifyContext, verifying
from verno.core.errors import VernoError
from verno.core.matchresources import MatchResources, request_resource, simple_constraints
from verno.core.policykinds import KindInputs, payload_kind
from verno.core.request import Request
from verno.core.results import PolicyResponse, RuleResponse, Status
from verno.plugins.imagevalidatingpolicy.attestors import with_values
from verno.plugins.imagevalidatingpolicy.verify import ImageVerifier

RULE_TYPE = "ImageVerify"
_TYPED = ("request", "namespaceObject")
_POD_PATHS = {"pods": ("spec",), "deployments": ("spec", "template", "spec"), "statefulsets": ("spec", "template", "spec"),
              "daemonsets": ("spec", "template", "spec"), "replicasets": ("spec", "template", "spec"),
              "jobs": ("spec", "template", "spec"), "cronjobs": ("spec", "jobTemplate", "spec", "template", "spec")}
_DEFAULT_LISTS = ("containers", "initContainers", "ephemeralContainers")


def default_images(resource: str, obj: Mapping[str, Any] | None) -> dict[str, list[str]]:
    """Kyverno's default image lists for a resource (``pods``, ``deployments`` ...); none for other kinds."""
    path = _POD_PATHS.get(resource)
    if path is None:
        return {}
    node: Any = obj or {}
    for step in path:
        node = node.get(step) if isinstance(node, dict) else None
    out: dict[str, list[str]] = {}
    for key in _DEFAULT_LISTS:
        items = node.get(key) if isinstance(node, dict) else None
        out[key] = [str(c.get("image")) for c in items or [] if isinstance(c, dict) and c.get("image")]
    return out


def has_digest(image: str) -> bool:
    return "@" in image and image.rsplit("@", 1)[1].startswith("sha256:")


@dataclass
class Variant:
    config: str
    match: MatchResources | None
    conditions: list[tuple[str, Any]]
    variables: VariableSet
    validations: list[tuple[Any, str, Any]]  # (program, message, messageExpression program or None)
    audit_annotations: list[tuple[str, Any]]


@dataclass
class ImageValidatingPolicy:
    kind: str
    api_version: str
    name: str
    namespace: str
    source: str
    annotations: Mapping[str, str]
    env: Any
    variants: list[Variant]
    extractors: list[tuple[str, Any]]
    references: list[Callable[[str], bool]]
    attestors: dict[str, Any]
    attestations: dict[str, str]
    verify_digest: bool
    mode: str
    failure_policy: str
    validation_actions: frozenset[str]
    admission: bool = True
    background: bool = True
    report_source: str = "KyvernoImageValidatingPolicy"
    timeout_seconds: int = 10
    document: Mapping[str, Any] = field(default_factory=dict, repr=False)
    #: attestor name -> (field, path the value goes to, compiled expression) of its CEL-valued fields
    attestor_programs: dict[str, list[tuple[str, tuple[str, ...], Any]]] = field(default_factory=dict)
    #: attestation name -> its spec (``{name, intoto | referrer}``)
    attestation_specs: dict[str, dict[str, Any]] = field(default_factory=dict)
    credentials: dict[str, Any] | None = None
    mutate_digest: bool = True
    required: bool = True

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}" if self.namespace else self.name

    def selects(self, image: str) -> bool:
        return not self.references or any(check(image) for check in self.references)

    def evaluate(self, request: Request, inputs: KindInputs, *, payload: bool | str = False) \
            -> PolicyResponse | None:
        kind = payload_kind(payload)
        obj = request.resource or request.old_resource or {}
        if self.mode == "JSON":
            if kind not in ("", "json"):
                return None
            values = {"object": obj}
            variant = self.variants[0]
            resource = ""
        else:
            if kind:
                return None
            if self.namespace and request.namespace != self.namespace:
                return None
            namespace = inputs.namespaces.get(request.namespace) if request.namespace else None
            if request.kind == "Namespace" and not request.namespace:
                namespace = None
            variant = next((v for v in self.variants if v.match is not None and v.match.matches(request, namespace)),
                           None)
            if variant is None:
                if self.variants[0].match is None or simple_constraints((self.document.get("spec") or {}).get("matchConstraints")):
                    return None
                return PolicyResponse(self, obj, [], operation=request.operation,
                                      namespace_labels=dict(request.namespace_labels))
            values, _ = measured_admission_inputs(request, namespace)
            values = {k: v for k, v in values.items() if v is not None or k not in _TYPED}
            resource = request_resource(request)[2]
        pins: dict[str, str] = {}
        record: dict[str, Any] = {}
        rule = self._rule(variant, values, resource, obj, inputs, pins, record)
        if rule is None:
            return None
        response = PolicyResponse(self, obj, [rule], operation=request.operation,
                                  namespace_labels=dict(request.namespace_labels))
        verification = request.cache.setdefault(VERIFICATION, Verification())
        verification.checked |= record.get("checked", set())
        verification.verified |= record.get("verified", set())
        if self.required and rule.status is Status.PASS and getattr(inputs.sources, "webhook", "") != "mutate":
            verification.required[id(response)] = record.get("images", [])
        if pins:
            rule.patched_resource = response.patched_resource = pinned(resource, obj, pins)
        return response

    def _rule(self, variant: Variant, values: dict[str, Any], resource: str, obj: Mapping[str, Any],
              inputs: KindInputs, pins: dict[str, str], record: dict[str, Any]) -> RuleResponse | None:
        def error(message: str) -> RuleResponse:
            return RuleResponse(self.name, RULE_TYPE, Status.ERROR, message)

        if variant.conditions:
            met, failed = evaluate_conditions((program for _name, program in variant.conditions), Activation(values))
            if failed is not None:
                return None if self.failure_policy == "Ignore" else error(f"failed to evaluate policy: {failed.detail}")
            if not met:
                return None
        compiled = exceptions_for(self.kind, self.name, inputs.companions, self.env, inputs.memo, variant.variables)
        outcome = match_exceptions(compiled, values)
        if outcome.exempt:
            rule = exception_rule(outcome, RULE_TYPE)
            rule.name = self.name if rule.name != "exception" else rule.name
            return rule
        if outcome.error is not None:
            return error(f"failed to evaluate policy: {outcome.error.detail}")
        source = values.get("object") if values.get("object") is not None else values.get("oldObject")
        images = default_images(resource, source)
        activation = Activation(values, variant.variables)
        try:
            for name, program in self.extractors:
                found = activation.evaluate(program)
                images[name] = [str(i) for i in (found or [])]
        except CELError as err:
            return error(f"failed to evaluate policy: {err.detail}")
        images = {k: [i for i in v if self.selects(i)] for k, v in images.items()}
        record["images"] = list(dict.fromkeys(i for v in images.values() for i in v))
        pinning = self.mutate_digest and getattr(inputs.sources, "webhook", "") == "mutate" and self.mode != "JSON"
        if self.verify_digest and not pinning:
            for image in (i for v in images.values() for i in v):
                if not has_digest(image):
                    return RuleResponse(self.name, RULE_TYPE, Status.FAIL, f"image {image} does not have a digest")
        try:
            attestors = self._attestors(activation)
        except CELError as err:
            return error(f"failed to evaluate policy: {err.detail}")
        bound = {**values, "images": images, "attestations": dict(self.attestations), "attestors": attestors}
        activation = Activation(bound, variant.variables)
        verifier = ImageVerifier(self, inputs, source, attestors)
        context = VerifyContext(self.selects, frozenset(self.attestations), verifier.count, verifier.payload,
                                verifier.image_data)
        properties: dict[str, str] = {}
        record["checked"], record["verified"] = context.checked, context.verified
        with verifying(context):
            try:
                for index, (program, message, message_program) in enumerate(variant.validations):
                    if activation.evaluate(program) is True:
                        continue
                    if message_program is not None:
                        try:
                            message = str(activation.evaluate(message_program))
                        except CELError as err:
                            message = f"failed to evaluate message expression: {err.detail}"
                    return RuleResponse(self.name, RULE_TYPE, Status.FAIL,
                                        message or f"CEL expression validation failed at index {index}",
                                        properties={"cel.validationIndex": str(index)})
                for key, program in variant.audit_annotations:
                    value = activation.evaluate(program)
                    if value not in (None, ""):
                        properties[key] = str(value)
            except CELError as err:
                return error(f"failed to evaluate policy: {err.detail}")
        if pinning:
            for image in dict.fromkeys(i for key in _DEFAULT_LISTS for i in images.get(key, ())):
                if has_digest(image):
                    continue
                try:
                    pins[image] = f"{verifier.resolve(image).reference_with_tag}@{verifier.resolve(image).digest}"
                except VernoError as exc:
                    return error(f"failed to update digest: {exc}")
        return RuleResponse(self.name, RULE_TYPE, Status.PASS, "success", properties=properties)

    def _attestors(self, activation: Activation) -> dict[str, Any]:
        """The attestors with their CEL-valued fields evaluated (Kyverno's ``CompiledAttestor.Evaluate``)."""
        out = {}
        for name, raw in self.attestors.items():
            values = []
            for where, path, program in self.attestor_programs.get(name, ()):
                value = activation.evaluate(program)
                if not isinstance(value, str):
                    raise CELError(where, f"attestor {name}: {where} must give a string, got {type(value).__name__}")
                values.append((path, value))
            out[name] = with_values(raw, values)
        return out



#: the request memo key of what the request's ImageValidatingPolicies verified
VERIFICATION = "imagevalidatingpolicy.verification"


@dataclass
class Verification:
    """What every ImageValidatingPolicy of one request checked and verified, and the passing policies with
    ``required`` and the images they select (by response), for :func:`finish`."""
    checked: set[str] = field(default_factory=set)
    verified: set[str] = field(default_factory=set)
    required: dict[int, list[str]] = field(default_factory=dict)


def finish(request: Request, responses: list[PolicyResponse]) -> None:
    """``validationConfigurations.required``, once every policy of the request ran: a passing policy fails
    for the first image it selects that no policy verified (Kyverno's messages: a check was made and failed,
    or none was made)."""
    verification = request.cache.get(VERIFICATION)
    if not isinstance(verification, Verification):
        return
    for response in responses:
        images = verification.required.get(id(response))
        if not images or not response.rules or response.rules[0].status is not Status.PASS:
            continue
        for image in images:
            if image in verification.verified:
                continue
            rule = response.rules[0]
            rule.status = Status.FAIL
            rule.message = (f"image {image} failed signature or attestation verification"
                            if image in verification.checked else
                            f"image {image} is not verified: no policy performed a signature or attestation "
                            "check on it")
            break


def pinned(resource: str, obj: Mapping[str, Any], pins: dict[str, str]) -> dict[str, Any]:
    """A copy of ``obj`` with each container image of its Pod spec found in ``pins`` replaced by its pin."""
    import copy

    out = copy.deepcopy(dict(obj))
    node: Any = out
    for step in _POD_PATHS.get(resource, ()):
        node = node.get(step) if isinstance(node, dict) else None
    if isinstance(node, dict):
        for key in _DEFAULT_LISTS:
            for container in node.get(key) or []:
                if isinstance(container, dict) and container.get("image") in pins:
                    container["image"] = pins[container["image"]]
    return out


def glob_check(glob: str) -> Callable[[str], bool]:
    return lambda image: wildcard.match(glob, image)
