"""match / exclude, compiled once per rule (K: pkg/engine/utils/match.go).

- ``match.any``: one filter must match; ``match.all``: every filter; otherwise the deprecated direct
  ``resources``/``subjects``/``roles``/``clusterRoles``.
- ``exclude`` is only looked at when the match succeeded: ``exclude.any`` excludes when one filter
  matches, ``exclude.all`` only when every filter does, the direct form when it matches.
- Inside a filter every field that is set must hold; ``operations`` is checked first.
- With no admission info (``Request.user_info`` empty and no roles), user criteria are dropped from
  ``match`` filters, as Kyverno does; a filter left with nothing in it does not match ("match cannot be
  empty"). ``exclude`` filters keep their user criteria, which then cannot match, so they exclude nothing.
- An empty exclude filter excludes nothing.

The matcher is agnostic of the namespaced-``Policy`` rule (the Engine applies it).
"""
from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from verno.core import wildcard
from verno.core.kinds import compile_kinds
from verno.core.models.match import MatchResources, ResourceDescription, ResourceFilter
from verno.core.request import Request
from verno.core.selectors import compile_selector
from verno.core.userinfo import UserMatcher, has_admission_info

StrPredicate = Callable[[str], bool]


def _patterns(patterns: list[str]) -> StrPredicate:
    """Any-of wildcard match, with exact patterns looked up in a set."""
    exact = frozenset(p for p in patterns if not wildcard.has_wildcard(p))
    wild = tuple(p for p in patterns if wildcard.has_wildcard(p))
    if "*" in wild:
        return lambda _value: True
    if not wild:
        return exact.__contains__

    def check(value: str) -> bool:
        if value in exact:
            return True
        for p in wild:
            if wildcard.match(p, value):
                return True
        return False

    return check


def _annotations(expected: dict[str, str]) -> Callable[[dict[str, Any]], bool]:
    """Kyverno's CheckAnnotations: every expected (key, value) pattern pair matches some annotation."""
    pairs = tuple(expected.items())

    def check(actual: dict[str, Any]) -> bool:
        for key, value in pairs:
            if not wildcard.has_wildcard(key):
                got = actual.get(key)
                if got is None or not wildcard.match(value, str(got)):
                    return False
                continue
            for k1, v1 in actual.items():
                if wildcard.match(key, k1) and wildcard.match(value, str(v1)):
                    break
            else:
                return False
        return True

    return check


def _is_empty_description(desc: ResourceDescription) -> bool:
    return not (desc.kinds or desc.name or desc.names or desc.namespaces or desc.annotations
                or desc.selector is not None or desc.namespace_selector is not None or desc.operations)


class FilterMatcher:
    """One ``{resources, subjects, roles, clusterRoles}`` filter, compiled."""

    __slots__ = (
        "annotations",
        "description_empty",
        "for_exception",
        "kinds",
        "names",
        "namespace_selector",
        "namespaces",
        "ns_selector_star",
        "operations",
        "selector",
        "user",
    )

    def __init__(self, desc: ResourceDescription, roles: list[str], cluster_roles: list[str],
                 subjects: list[Any], *, for_exception: bool = False):
        #: PolicyException semantics: a namespaceSelector is skipped (not an error) for a Namespace
        self.for_exception = for_exception
        self.description_empty = _is_empty_description(desc)
        self.operations = frozenset(desc.operations) if desc.operations else None
        self.kinds = compile_kinds(desc.kinds) if desc.kinds else None
        names = list(desc.names)
        self.names: list[StrPredicate] = []
        if desc.name:
            self.names.append(_patterns([desc.name]))
        if names:
            self.names.append(_patterns(names))
        self.namespaces = _patterns(desc.namespaces) if desc.namespaces else None
        self.annotations = _annotations(desc.annotations) if desc.annotations else None
        self.selector = compile_selector(desc.selector) if desc.selector is not None else None
        self.namespace_selector = (compile_selector(desc.namespace_selector)
                                   if desc.namespace_selector is not None else None)
        self.ns_selector_star = "*" in desc.kinds
        self.user = UserMatcher(roles, cluster_roles, subjects)

    @classmethod
    def from_filter(cls, f: ResourceFilter, *, for_exception: bool = False) -> FilterMatcher:
        return cls(f.resources, f.roles, f.cluster_roles, f.subjects, for_exception=for_exception)

    def is_empty(self, use_user: bool) -> bool:
        return self.description_empty and (not use_user or self.user.empty)

    def check(self, request: Request, use_user: bool = True) -> str | None:
        """None when the request satisfies the filter, else the first reason it does not.

        The caller handles emptiness (``is_empty``); ``use_user=False`` drops the user criteria.
        """
        if self.operations is not None and request.operation not in self.operations:
            return "operation does not match"
        if self.kinds is not None:
            if request.request_kind:
                group, version, kind = request.request_kind
            else:
                group, version, kind = request.group, request.version, request.kind
            if not self.kinds(group, version, kind, request.subresource):
                return "kind does not match"
        if self.names:
            for names in self.names:
                if not names(request.name):
                    return "name does not match"
        if self.namespaces is not None:
            ns = request.name if request.kind == "Namespace" else request.namespace
            if not self.namespaces(ns):
                return "namespace does not match"
        if self.annotations is not None and not self.annotations(request.annotations):
            return "annotations does not match"
        if self.selector is not None and not self.selector(request.labels):
            return "selector does not match"
        if self.namespace_selector is not None and self.for_exception:
            if request.kind not in ("Namespace", "") and not self.namespace_selector(request.namespace_labels):
                return "namespace selector does not match labels"
        elif self.namespace_selector is not None:
            if request.kind == "Namespace":
                return "namespace selector is not applicable for namespace resource"
            if (request.kind or self.ns_selector_star) and not self.namespace_selector(request.namespace_labels):
                return "namespace selector does not match labels"
        if use_user:
            return self.user.check(request)
        return None


def _filters(block: MatchResources) -> tuple[str, list[FilterMatcher]]:
    if block.any:
        return "any", [FilterMatcher.from_filter(f) for f in block.any]
    if block.all:
        return "all", [FilterMatcher.from_filter(f) for f in block.all]
    return "direct", [FilterMatcher.from_filter(block)]


class MatchBlock:
    """A compiled ``match`` or ``exclude`` block (``any`` / ``all`` / direct)."""

    __slots__ = ("filters", "mode")

    def __init__(self, block: MatchResources):
        self.mode, self.filters = _filters(block)

    # -- match semantics -------------------------------------------------------------------------------
    def _match_one(self, f: FilterMatcher, request: Request, use_user: bool) -> str | None:
        if f.is_empty(use_user):
            return "match cannot be empty"
        return f.check(request, use_user)

    def match_reason(self, request: Request) -> str | None:
        """None when the block (used as ``match``) selects the request."""
        use_user = has_admission_info(request)
        if self.mode == "any":
            reasons = []
            for f in self.filters:
                why = self._match_one(f, request, use_user)
                if why is None:
                    return None
                reasons.append(why)
            return "no resource matched (" + "; ".join(reasons) + ")"
        for f in self.filters:
            why = self._match_one(f, request, use_user)
            if why is not None:
                return why
        return None

    # -- exclude semantics -----------------------------------------------------------------------------
    @staticmethod
    def _excludes_one(f: FilterMatcher, request: Request) -> bool:
        return not f.is_empty(True) and f.check(request, True) is None

    def exclude_reason(self, request: Request) -> str | None:
        """A reason when the block (used as ``exclude``) excludes the request, else None."""
        if self.mode == "all":
            for f in self.filters:
                if not self._excludes_one(f, request):
                    return None
            return "resource excluded since the combination of all criteria exclude it"
        for f in self.filters:
            if self._excludes_one(f, request):
                return "resource excluded since one of the criteria excluded it"
        return None


def plain_kinds(block: MatchResources) -> frozenset[str] | None:
    """The kinds a match block can select, when every filter lists only plain kind names.

    None when any filter has no kinds or a kind with a group, version, subresource or wildcard: then
    the full matcher decides.
    """
    filters = list(block.any or block.all or [block])
    kinds: set[str] = set()
    for f in filters:
        names = f.resources.kinds
        if not names:
            return None
        for name in names:
            if any(c in name for c in "/*?."):
                return None
            kinds.add(name)
    return frozenset(kinds)


def _memo_key(match: MatchResources, exclude: MatchResources | None) -> str:
    """One interned string per distinct (match, exclude) pair: rules written alike share their verdict."""
    dump = match.model_dump_json(by_alias=True, exclude_defaults=True)
    if exclude is not None:
        dump += "\x00" + exclude.model_dump_json(by_alias=True, exclude_defaults=True)
    return sys.intern("match\x00" + dump)


class RuleMatcher:
    """Whether a rule applies to a request: its match succeeds and its exclude does not.

    The verdict depends on the blocks and the request alone, so it is kept in the request's cache under
    a key shared by every rule with the same blocks (ten policies matching Pods decide once per resource).
    """

    __slots__ = ("exclude", "kinds", "match", "memo_key", "rule_name")

    def __init__(self, rule: Any, policy: Any = None):
        self.rule_name = rule.name
        self.match = MatchBlock(rule.match)
        self.exclude = MatchBlock(rule.exclude) if rule.exclude is not None else None
        self.kinds = plain_kinds(rule.match)
        self.memo_key = _memo_key(rule.match, rule.exclude)

    @classmethod
    def from_blocks(cls, name: str, match: MatchResources, exclude: MatchResources | None = None) -> RuleMatcher:
        """A matcher for anything with match/exclude blocks (PolicyExceptions, cleanup policies)."""
        self = cls.__new__(cls)
        self.rule_name = name
        self.match = MatchBlock(match)
        self.exclude = MatchBlock(exclude) if exclude is not None else None
        self.kinds = plain_kinds(match)
        self.memo_key = _memo_key(match, exclude)
        return self

    def matches(self, request: Request) -> bool:
        # fast path: a plain resource whose kind no filter names cannot match
        if self.kinds is not None and request.kind not in self.kinds and not request.subresource \
                and request.request_kind is None:
            return False
        verdict = request.cache.get(self.memo_key)
        if verdict is None:
            verdict = self.match.match_reason(request) is None and (
                self.exclude is None or self.exclude.exclude_reason(request) is None)
            request.cache[self.memo_key] = verdict
        return verdict

    def reason(self, request: Request) -> str | None:
        """None when the rule applies; otherwise why not (for debugging and detailed results)."""
        why = self.match.match_reason(request)
        if why is None and self.exclude is not None:
            why = self.exclude.exclude_reason(request)
        if why is None:
            return None
        return f"rule {self.rule_name} not matched: {why}"
