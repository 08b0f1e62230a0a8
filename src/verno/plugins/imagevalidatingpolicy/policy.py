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
from verno.core.matchresources import MatchResources, request_resource, simple_constraints
from verno.core.policykinds import KindInputs, payload_kind
from verno.core.request import Request
from verno.core.results import PolicyResponse, RuleResponse, Status

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
        rule = self._rule(variant, values, resource, obj, inputs)
        if rule is None:
            return None
        return PolicyResponse(self, obj, [rule], operation=request.operation,
                              namespace_labels=dict(request.namespace_labels))

    def _rule(self, variant: Variant, values: dict[str, Any], resource: str, obj: Mapping[str, Any],
              inputs: KindInputs) -> RuleResponse | None:
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
        if self.verify_digest:
            for image in (i for v in images.values() for i in v):
                if not has_digest(image):
                    return RuleResponse(self.name, RULE_TYPE, Status.FAIL, f"image {image} does not have a digest")
        bound = {**values, "images": images, "attestations": dict(self.attestations),
                 "attestors": dict(self.attestors)}
        activation = Activation(bound, variant.variables)
        context = VerifyContext(self.selects, frozenset(self.attestations))
        properties: dict[str, str] = {}
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
        return RuleResponse(self.name, RULE_TYPE, Status.PASS, "success", properties=properties)



def glob_check(glob: str) -> Callable[[str], bool]:
    return lambda image: wildcard.match(glob, image)
