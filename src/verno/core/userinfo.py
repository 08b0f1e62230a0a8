"""Who made the request: ``subjects``, ``roles`` and ``clusterRoles`` of a match/exclude filter.

K: pkg/engine/utils/match.go ``doesResourceMatchConditionBlock`` and pkg/utils/match/subjects.go:
- ``roles`` / ``clusterRoles``: any exact overlap with the request's roles / cluster roles;
- ``subjects``: a ServiceAccount matches the username ``system:serviceaccount:<ns>:<name>``, a User the
  username, a Group any of the groups; all are wildcard matches; any subject suffices;
- each criterion that is set must hold (they are AND-ed, whatever Kyverno's comment says).
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from verno.core import wildcard
from verno.core.models.match import Subject
from verno.core.request import Request

SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"


def has_admission_info(request: Request) -> bool:
    """False when nothing is known about the requester (Kyverno's empty ``RequestInfo``).

    In ``match`` blocks, user criteria are then dropped (K: ``matchesResourceDescriptionMatchHelper``).
    """
    known = request.cache.get("admission-info")
    if known is None:
        info = request.user_info or {}
        known = bool(request.roles or request.cluster_roles) or \
            any(info.get(k) for k in ("username", "uid", "groups", "extra"))
        request.cache["admission-info"] = known
    return known


def _subject_pattern(subject: Subject | dict[str, Any]) -> tuple[str, str]:
    """(kind, pattern) for one subject; the pattern is matched against the username or a group."""
    if isinstance(subject, dict):
        kind, name, ns = subject.get("kind", ""), subject.get("name", ""), subject.get("namespace", "")
    else:
        kind, name, ns = subject.kind, subject.name, subject.namespace
    if kind == "ServiceAccount":
        return kind, f"{SERVICE_ACCOUNT_PREFIX}{ns}:{name}"
    return kind, name


class UserMatcher:
    """The user criteria of one filter, compiled."""

    __slots__ = ("cluster_roles", "groups", "has_subjects", "roles", "users")

    def __init__(self, roles: Iterable[str] = (), cluster_roles: Iterable[str] = (),
                 subjects: Iterable[Subject | dict[str, Any]] = ()):
        self.roles = frozenset(roles)
        self.cluster_roles = frozenset(cluster_roles)
        users: list[str] = []
        groups: list[str] = []
        subjects = list(subjects)
        for subject in subjects:
            kind, pattern = _subject_pattern(subject)
            if kind in ("ServiceAccount", "User"):
                users.append(pattern)
            elif kind == "Group":
                groups.append(pattern)
        self.users = tuple(users)
        self.groups = tuple(groups)
        self.has_subjects = bool(subjects)

    @property
    def empty(self) -> bool:
        return not (self.roles or self.cluster_roles or self.has_subjects)

    def subjects_match(self, user_info: dict[str, Any] | None) -> bool:
        info = user_info or {}
        username = info.get("username") or ""
        for pattern in self.users:
            if wildcard.match(pattern, username):
                return True
        if self.groups:
            for group in info.get("groups") or ():
                for pattern in self.groups:
                    if wildcard.match(pattern, group):
                        return True
        return False

    def check(self, request: Request) -> str | None:
        """None when every criterion set holds; otherwise the first reason it does not."""
        if self.roles and self.roles.isdisjoint(request.roles):
            return "user info does not match roles for the given conditionBlock"
        if self.cluster_roles and self.cluster_roles.isdisjoint(request.cluster_roles):
            return "user info does not match clustersRoles for the given conditionBlock"
        if self.has_subjects and not self.subjects_match(request.user_info):
            return "user info does not match subject for the given conditionBlock"
        return None

    def matches(self, request: Request) -> bool:
        return self.check(request) is None
