"""UserInfo files (``cli.kyverno.io/v1alpha1``, kind UserInfo): who makes the simulated request."""
from __future__ import annotations

from typing import Literal

from verno.core.models.base import Metadata, Model


class RequestUser(Model):
    username: str = ""
    uid: str = ""
    groups: list[str] = []
    extra: dict[str, list[str]] = {}


class UserInfoFile(Model):
    api_version: Literal["cli.kyverno.io/v1alpha1", "cli.kyverno.io/v1beta1"]
    kind: Literal["UserInfo"]
    metadata: Metadata | None = None
    roles: list[str] = []
    cluster_roles: list[str] = []
    user_info: RequestUser = RequestUser()
