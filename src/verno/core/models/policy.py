"""ClusterPolicy and Policy (kyverno.io/v1, v2beta1)."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from verno.core.models.base import JSON, Metadata, Model, unique_by
from verno.core.models.conditions import AnyAllConditions, Condition, Conditions
from verno.core.models.context import ContextEntry
from verno.core.models.match import LabelSelector, MatchResources

FailureAction = Literal["audit", "enforce", "Audit", "Enforce"]


class FailureActionOverride(Model):
    action: FailureAction
    namespaces: list[str] = []
    namespace_selector: LabelSelector | None = None


class Deny(Model):
    conditions: Conditions | None = None


class ForEachValidation(Model):
    list_: str = Field(alias="list")
    element_scope: bool | None = None
    context: list[ContextEntry] = []
    preconditions: Conditions | None = None
    pattern: JSON = None
    any_pattern: JSON = None
    deny: Deny | None = None
    foreach: list[ForEachValidation] | None = None


class CELValidation(Model):
    """One of ``validate.cel.expressions`` (admissionregistration.k8s.io/v1 Validation)."""

    expression: str = Field(min_length=1)
    message: str = ""
    message_expression: str = ""
    reason: str | None = None


class ParamKind(Model):
    api_version: str = Field(min_length=1)
    kind: str = Field(min_length=1)


class ParamRef(Model):
    name: str = ""
    namespace: str = ""
    selector: LabelSelector | None = None
    parameter_not_found_action: Literal["Allow", "Deny"] | None = None

    @model_validator(mode="after")
    def _name_or_selector(self) -> "ParamRef":
        if self.name and self.selector is not None:
            raise ValueError("paramRef sets both name and selector: set exactly one")
        return self


class AuditAnnotation(Model):
    key: str = Field(min_length=1, max_length=63, pattern=r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
    value_expression: str = Field(min_length=1)


class CELVariable(Model):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    expression: str = Field(min_length=1)


class CEL(Model):
    """``validate.cel``: Kubernetes ValidatingAdmissionPolicy expressions inside a rule."""

    generate: bool | None = None
    expressions: list[CELValidation] = []
    param_kind: ParamKind | None = None
    param_ref: ParamRef | None = None
    audit_annotations: list[AuditAnnotation] = []
    variables: list[CELVariable] = []

    @field_validator("variables")
    @classmethod
    def _unique_variables(cls, value: list[CELVariable]) -> list[CELVariable]:
        return unique_by(value, "name", "variable", "defined")

    @field_validator("audit_annotations")
    @classmethod
    def _unique_keys(cls, value: list[AuditAnnotation]) -> list[AuditAnnotation]:
        return unique_by(value, "key", "audit annotation key")

    @property
    def has_params(self) -> bool:
        """Whether ``params`` is declared (Kyverno: both ``paramKind`` and ``paramRef`` are set)."""
        return self.param_kind is not None and self.param_ref is not None


class MatchCondition(Model):
    """A ``celPreconditions`` entry (admissionregistration.k8s.io/v1 MatchCondition)."""

    name: str = Field(min_length=1)
    expression: str = Field(min_length=1)


class Validation(Model):
    message: str = ""
    failure_action: Literal["Audit", "Enforce"] | None = None
    failure_action_overrides: list[FailureActionOverride] = []
    allow_existing_violations: bool = True
    pattern: JSON = None
    any_pattern: list[JSON] | None = None
    deny: Deny | None = None
    foreach: list[ForEachValidation] | None = None
    pod_security: dict[str, Any] | None = None
    cel: CEL | None = None
    manifests: dict[str, Any] | None = None
    assert_: JSON = Field(default=None, alias="assert")

    @field_validator("pattern")
    @classmethod
    def _pattern_is_object(cls, value: Any) -> Any:
        if value is not None and not isinstance(value, dict):
            raise ValueError("a rule's pattern is matched against the whole resource, so it must be a mapping "
                             f"(got {type(value).__name__}); a pattern for list elements goes in a foreach")
        return value

    @field_validator("any_pattern")
    @classmethod
    def _any_pattern_objects(cls, value: Any) -> Any:
        for i, item in enumerate(value or ()):
            if not isinstance(item, dict):
                raise ValueError(f"anyPattern[{i}] is matched against the whole resource, so it must be a "
                                 f"mapping (got {type(item).__name__})")
        return value

    @model_validator(mode="after")
    def _one_check(self) -> "Validation":
        """Kyverno rejects a validate rule with more than one kind of check (one would silently win)."""
        fields = (("pattern", self.pattern), ("anyPattern", self.any_pattern), ("deny", self.deny),
                  ("foreach", self.foreach), ("podSecurity", self.pod_security), ("cel", self.cel),
                  ("manifests", self.manifests), ("assert", self.assert_))
        found = [name for name, value in fields if value is not None]
        if len(found) > 1:
            raise ValueError(f"a validate rule takes one of pattern, anyPattern, deny, foreach, podSecurity, cel, "
                             f"manifests and assert; this one sets {' and '.join(found)}: split it into rules")
        return self


class ForEachMutation(Model):
    list_: str = Field(default="", alias="list")
    order: Literal["Ascending", "Descending"] | None = None
    context: list[ContextEntry] = []
    preconditions: Conditions | None = None
    patch_strategic_merge: JSON = None
    patches_json6902: str = ""
    foreach: list[ForEachMutation] | None = None


class TargetResource(Model):
    api_version: str = ""
    kind: str = ""
    namespace: str = ""
    name: str = ""
    uid: str = ""
    selector: LabelSelector | None = None
    context: list[ContextEntry] = []
    preconditions: Conditions | None = None


class Mutation(Model):
    targets: list[TargetResource] = []
    patch_strategic_merge: JSON = None
    patches_json6902: str = ""
    foreach: list[ForEachMutation] | None = None
    mutate_existing_on_policy_update: bool | None = None


class CloneFrom(Model):
    namespace: str = ""
    name: str = ""


class CloneList(Model):
    namespace: str = ""
    kinds: list[str] = []
    selector: LabelSelector | None = None


class ForEachGeneration(Model):
    list_: str = Field(default="", alias="list")
    context: list[ContextEntry] = []
    preconditions: Conditions | None = None
    api_version: str = ""
    kind: str = ""
    namespace: str = ""
    name: str = ""
    uid: str = ""
    data: JSON = None
    clone: CloneFrom | None = None
    clone_list: CloneList | None = None


class Generation(ForEachGeneration):
    list_: str = Field(default="", alias="list")
    synchronize: bool = False
    orphan_downstream_on_policy_delete: bool = False
    generate_existing: bool | None = None
    foreach: list[ForEachGeneration] | None = None


class ImageExtractor(Model):
    path: str
    value: str = ""
    name: str = ""
    key: str = ""
    jmes_path: str = ""


class Rule(Model):
    name: str = Field(max_length=63)
    context: list[ContextEntry] = []
    report_properties: dict[str, str] = {}
    match: MatchResources = Field(default_factory=MatchResources)
    exclude: MatchResources | None = None
    preconditions: Conditions | None = None
    skip_background_requests: bool = True
    image_extractors: dict[str, list[ImageExtractor]] | None = None
    cel_preconditions: list[MatchCondition] | None = None
    mutate: Mutation | None = None
    validate_: Validation | None = Field(default=None, alias="validate")
    generate: Generation | None = None
    verify_images: list[dict[str, Any]] | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> "Rule":
        kinds = [k for k in ("mutate", "validate", "generate", "verifyImages") if self.raw_kind(k) is not None]
        if len(kinds) != 1:
            found = ", ".join(kinds) or "none"
            raise ValueError(
                f"rule {self.name!r} must set exactly one of mutate, validate, generate, verifyImages (found {found})"
            )
        if self.cel_preconditions and (self.validate_ is None or self.validate_.cel is None):
            raise ValueError(f"rule {self.name!r}: celPreconditions are only allowed in validate.cel rules; use "
                             "preconditions for other rules")
        return self

    def raw_kind(self, kind: str) -> Any:
        return {
            "mutate": self.mutate,
            "validate": self.validate_,
            "generate": self.generate,
            "verifyImages": self.verify_images,
        }[kind]

    @property
    def kind(self) -> str:
        """``validate``, ``mutate``, ``generate`` or ``verifyImages``."""
        for k in ("validate", "mutate", "generate", "verifyImages"):
            if self.raw_kind(k) is not None:
                return k
        raise AssertionError("validated rule without a kind")


class WebhookConfiguration(Model):
    failure_policy: Literal["Ignore", "Fail"] | None = None
    timeout_seconds: int | None = Field(default=None, ge=1, le=30)
    match_conditions: list[dict[str, Any]] | None = None


class Spec(Model):
    rules: list[Rule] = []
    apply_rules: Literal["All", "One"] | None = None
    background: bool = True
    admission: bool = True
    emit_warning: bool = False
    use_server_side_apply: bool = False
    webhook_configuration: WebhookConfiguration | None = None
    validation_failure_action: FailureAction = "Audit"
    validation_failure_action_overrides: list[FailureActionOverride] = []
    failure_policy: Literal["Ignore", "Fail"] | None = None
    webhook_timeout_seconds: int | None = None
    schema_validation: bool | None = None
    mutate_existing_on_policy_update: bool | None = None
    generate_existing: bool | None = None
    generate_existing_on_policy_update: bool | None = None

    @field_validator("rules")
    @classmethod
    def _unique_names(cls, rules: list[Rule]) -> list[Rule]:
        seen: set[str] = set()
        for rule in rules:
            if rule.name in seen:
                raise ValueError(f"duplicate rule name {rule.name!r}")
            seen.add(rule.name)
        return rules


class Policy(Model):
    """A ClusterPolicy or a namespaced Policy."""

    api_version: Literal["kyverno.io/v1", "kyverno.io/v2beta1"]
    kind: Literal["ClusterPolicy", "Policy"]
    metadata: Metadata
    spec: Spec
    status: JSON = None

    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def namespace(self) -> str:
        return self.metadata.namespace if self.kind == "Policy" else ""

    @property
    def key(self) -> str:
        """``name`` for a ClusterPolicy, ``namespace/name`` for a Policy (as Kyverno reports it)."""
        return f"{self.namespace}/{self.name}" if self.namespace else self.name

    @property
    def annotations(self) -> dict[str, str]:
        return self.metadata.annotations or {}


__all__ = ["Policy", "Rule", "Spec", "Condition", "AnyAllConditions"]
