"""Test files (``cli.kyverno.io/v1alpha1``, kind Test): Kyverno's ``kyverno-test.yaml``."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from verno.core.models.base import Metadata, Model
from verno.core.models.values import ValuesBody

Result = Literal["pass", "fail", "warn", "error", "skip"]


class ResourceSpec(Model):
    group: str = ""
    version: str = ""
    kind: str = ""
    namespace: str = ""
    subresource: str = ""
    name: str = ""


class TestResult(Model):
    policy: str
    rule: str = ""
    kind: str = ""
    resources: list[str] = []
    resource_specs: list[ResourceSpec] = []
    result: Result | None = None
    status: Result | None = None
    operation: Literal["CREATE", "UPDATE", "DELETE", "CONNECT"] | None = None
    patched_resources: str = ""
    patched_resource: str = ""
    generated_resource: str = ""
    generated_resources: list[str] = []
    clone_source_resource: str = ""
    fail_on_missing_resources: bool = False
    namespace: str = ""
    resource: str = ""
    is_validating_policy: bool = False
    is_mutating_policy: bool = False
    is_generating_policy: bool = False
    is_image_validating_policy: bool = False
    is_deleting_policy: bool = False
    is_validating_admission_policy: bool = False
    is_mutating_admission_policy: bool = False

    @property
    def expected(self) -> str:
        return self.result or self.status or ""

    @property
    def cel_policy_flag(self) -> str | None:
        """The name of the CEL/VAP policy flag set on this result, if any."""
        for name in (
            "isValidatingPolicy", "isMutatingPolicy", "isGeneratingPolicy", "isImageValidatingPolicy",
            "isDeletingPolicy", "isValidatingAdmissionPolicy", "isMutatingAdmissionPolicy",
        ):
            if getattr(self, _snake(name)):
                return name
        return None


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name)


class APICallResponseBody(Model):
    """``response`` of an ``apiCallResponses`` entry: the status code and the JSON body an apiCall or a CEL
    ``http`` call gets."""
    status_code: int = Field(default=200, ge=100, le=599)
    body: Any = None


class APICallResponse(Model):
    url: str = ""
    url_path: str = ""
    method: Literal["GET", "POST"] = "GET"
    response: APICallResponseBody = APICallResponseBody()


class Projection(Model):
    name: str
    path: str = ""


class GlobalContextEntryMock(Model):
    name: str
    data: Any = None
    resources: list[dict[str, Any]] = []
    resource_files: list[str] = []
    field_path: str = ""
    projections: list[Projection] = []


class TestFile(Model):
    # Kyverno's CLI reads Test documents whatever their group (some of its own suites say kyverno.io/v1)
    api_version: Literal["cli.kyverno.io/v1alpha1", "cli.kyverno.io/v1beta1", "kyverno.io/v1"]
    kind: Literal["Test"]
    metadata: Metadata = Field(default_factory=Metadata)
    policies: list[str] = []
    resources: list[str] = []
    target_resources: list[str] = []
    param_resources: list[str] = []
    cluster_resources: list[str] = []
    variables: str = ""
    values: ValuesBody | None = None
    userinfo: str = ""
    exceptions: list[str] = []
    context: str = ""
    json_payloads: list[str] = []
    #: deprecated single form of ``jsonPayloads``
    json_payload: str = ""
    http_payloads: list[str] = []
    envoy_payloads: list[str] = []
    api_call_responses: list[APICallResponse] = []
    global_context_entries: list[GlobalContextEntryMock] = []
    results: list[TestResult] = []

    @model_validator(mode="before")
    @classmethod
    def _deprecated_schema(cls, data: Any) -> Any:
        if isinstance(data, dict) and "name" in data and "metadata" not in data:
            raise ValueError("uses a deprecated schema (top-level name) — please migrate to cli.kyverno.io/v1alpha1")
        return data
