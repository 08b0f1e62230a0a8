"""PolicyException matching (K: pkg/engine/utils/exceptions.go ``MatchesException``).

An exception applies to a request when its ``match`` selects the resource and its ``conditions`` (if
any) hold. Its match differs from a rule's in a few ways Kyverno has:
- only ``any`` / ``all`` count (no direct ``resources``), and an exception with neither matches nothing;
- an empty filter matches nothing;
- user criteria are always checked, even with no admission info (so they cannot match then);
- a ``namespaceSelector`` is skipped, not failed, for a Namespace.
A condition that errors makes the exception not apply.
"""
from __future__ import annotations

from typing import Any

from verno.core.errors import VernoError
from verno.core.match import FilterMatcher
from verno.core.models.exception import PolicyException
from verno.core.request import Request


class PreparedException:
    """An exception's match block, compiled once."""

    __slots__ = ("exception", "filters", "mode")

    def __init__(self, exception: PolicyException):
        self.exception = exception
        match = exception.spec.match
        if match.any:
            self.mode = "any"
            self.filters = [FilterMatcher.from_filter(f, for_exception=True) for f in match.any]
        elif match.all:
            self.mode = "all"
            self.filters = [FilterMatcher.from_filter(f, for_exception=True) for f in match.all]
        else:
            self.mode = "none"
            self.filters = []

    def _filter_matches(self, f: FilterMatcher, request: Request) -> bool:
        return not f.is_empty(True) and f.check(request, True) is None

    def resource_matches(self, request: Request) -> bool:
        if self.mode == "any":
            return any(self._filter_matches(f, request) for f in self.filters)
        if self.mode == "all":
            return all(self._filter_matches(f, request) for f in self.filters)
        return False

    def matches(self, request: Request, rc: Any) -> bool:
        if not self.resource_matches(request):
            return False
        conditions = self.exception.spec.conditions
        if conditions is None:
            return True
        try:
            ok, _ = rc.check_conditions(conditions)
        except VernoError:
            return False
        return bool(ok)


_CACHE: dict[int, tuple[PolicyException, PreparedException]] = {}
_CACHE_MAX = 4096


def prepare_exception(exception: PolicyException) -> PreparedException:
    """The compiled form of ``exception``, built on first use and cached by identity."""
    entry = _CACHE.get(id(exception))
    if entry is not None and entry[0] is exception:
        return entry[1]
    if len(_CACHE) >= _CACHE_MAX:
        _CACHE.clear()
    prepared = PreparedException(exception)
    _CACHE[id(exception)] = (exception, prepared)
    return prepared


def exception_matches(exc: PolicyException | PreparedException, request: Request, rc: Any) -> bool:
    """Whether the exception's match and conditions select this request."""
    prepared = exc if isinstance(exc, PreparedException) else prepare_exception(exc)
    return prepared.matches(request, rc)
