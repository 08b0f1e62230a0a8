"""Rule ``context`` entries."""
from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, model_validator

from verno.core.models.base import JSON, Model


class Variable(Model):
    value: JSON = None
    jmes_path: str = ""
    default: JSON = None


class ConfigMapReference(Model):
    name: str
    namespace: str = ""


class RequestData(Model):
    key: str
    value: JSON = None


class HTTPHeader(Model):
    key: str
    value: str


class ServiceCall(Model):
    url: str
    ca_bundle: str = ""
    headers: list[HTTPHeader] = []


class APICall(Model):
    url_path: str = ""
    service: ServiceCall | None = None
    method: Literal["GET", "POST"] = "GET"
    data: list[RequestData] = []
    jmes_path: str = ""
    default: JSON = None


class ImageRegistryCredentials(Model):
    allow_insecure_registry: bool = False
    providers: list[str] = []
    secrets: list[str] = []


class ImageRegistry(Model):
    reference: str
    jmes_path: str = ""
    image_registry_credentials: ImageRegistryCredentials | None = None


class GlobalContextReference(Model):
    name: str
    jmes_path: str = ""


class ContextEntry(Model):
    """One entry; keys other than the built-in sources are loaders registered by plugins."""

    model_config = ConfigDict(extra="allow")
    name: str
    variable: Variable | None = None
    config_map: ConfigMapReference | None = None
    api_call: APICall | None = None
    image_registry: ImageRegistry | None = None
    global_reference: GlobalContextReference | None = None

    @model_validator(mode="after")
    def _one_source(self) -> "ContextEntry":
        sources = [k for k in SOURCE_FIELDS if getattr(self, SOURCE_FIELDS[k]) is not None]
        sources += list(self.model_extra or {})
        if len(sources) > 1:
            raise ValueError(f"context entry {self.name!r} sets {', '.join(sources)}; set exactly one")
        return self

    def source_key(self) -> str | None:
        """The entry's loader key (``apiCall``, or a plugin's), or None for a bare name."""
        for key, attr in SOURCE_FIELDS.items():
            if getattr(self, attr) is not None:
                return key
        extra = list(self.model_extra or {})
        return extra[0] if extra else None


SOURCE_FIELDS = {
    "variable": "variable",
    "configMap": "config_map",
    "apiCall": "api_call",
    "imageRegistry": "image_registry",
    "globalReference": "global_reference",
}
