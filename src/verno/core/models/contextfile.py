"""Context files (``cli.kyverno.io/v1alpha1``, kind Context): the cluster objects and image metadata a
``kyverno test`` run serves to the CEL ``resource`` and ``image.GetMetadata`` functions."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from verno.core.models.base import Metadata, Model


class ImageData(Model):
    """One ``spec.images`` entry: what ``image.GetMetadata(image)`` returns for exactly that reference."""

    image: str
    resolved_image: str = ""
    registry: str = ""
    repository: str = ""
    identifier: str = ""
    tag: str = ""
    digest: str = ""
    image_index: Any = None
    manifest: Any = None
    config: Any = None


class ContextSpec(Model):
    resources: list[dict[str, Any]] = []
    images: list[ImageData] = []

    @field_validator("resources")
    @classmethod
    def _objects(cls, resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for i, obj in enumerate(resources):
            for key in ("apiVersion", "kind"):
                if not isinstance(obj.get(key), str) or not obj.get(key):
                    raise ValueError(f"resources[{i}].{key} is required (a non-empty string)")
            metadata = obj.get("metadata")
            if not isinstance(metadata, dict) or not isinstance(metadata.get("name"), str) \
                    or not metadata.get("name"):
                raise ValueError(f"resources[{i}].metadata.name is required (a non-empty string)")
        return resources


class ContextFile(Model):
    api_version: Literal["cli.kyverno.io/v1alpha1"]
    kind: Literal["Context"]
    metadata: Metadata = Field(default_factory=Metadata)
    spec: ContextSpec = Field(default_factory=ContextSpec)
