"""What the decision trace says about steps the core decides: which ``match``/``exclude`` clause selected a
resource and on what, and the traces of policies of other kinds (CEL policies, admission policies).

Nothing here runs unless a trace was asked for: the matcher's verdict is cached per request, so a rule
that matched is explained by checking its clauses once more, in the order the matcher checks them.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from verno.core.match import FilterMatcher, MatchBlock
from verno.core.models.match import MatchResources, ResourceFilter
from verno.core.request import Request
from verno.core.trace import Trace
from verno.core.userinfo import has_admission_info

#: while policies of other kinds are being explained, their traces by policy (``id`` -> (policy, trace));
#: None otherwise, and a kind's evaluation then records nothing (:func:`trace_for`)
KIND_TRACES: ContextVar[dict[int, tuple[Any, Trace]] | None] = ContextVar("verno_kind_traces", default=None)


def _filters(block: MatchResources) -> tuple[str, list[ResourceFilter]]:
    """The block's filters as written, in the order :class:`MatchBlock` compiled them."""
    if block.any:
        return "any", list(block.any)
    if block.all:
        return "all", list(block.all)
    return "direct", [block]


def matched_on(f: ResourceFilter, request: Request, use_user: bool) -> dict[str, Any]:
    """What of the request each criterion of a filter that selected it looked at."""
    desc = f.resources
    out: dict[str, Any] = {}
    if desc.operations:
        out["operations"] = request.operation
    if desc.kinds:
        if request.request_kind:
            group, version, kind = request.request_kind
        else:
            group, version, kind = request.group, request.version, request.kind
        gvk = "/".join(x for x in (group, version, kind) if x)
        out["kinds"] = f"{gvk}/{request.subresource}" if request.subresource else gvk
    if desc.name or desc.names:
        out["names"] = request.name
    if desc.namespaces:
        out["namespaces"] = request.name if request.kind == "Namespace" else request.namespace
    if desc.annotations:
        out["annotations"] = {k: request.annotations.get(k) for k in desc.annotations if k in request.annotations} \
            or dict(request.annotations)
    if desc.selector is not None:
        out["selector"] = dict(request.labels)
    if desc.namespace_selector is not None:
        out["namespaceSelector"] = dict(request.namespace_labels)
    if use_user:
        user = request.user_info or {}
        if f.subjects:
            out["subjects"] = user.get("username", "")
        if f.roles:
            out["roles"] = list(request.roles)
        if f.cluster_roles:
            out["clusterRoles"] = list(request.cluster_roles)
    return out


def explain_match(rule: Any, request: Request, trace: Trace) -> None:
    """Record which ``match`` clause selected ``request`` for ``rule`` (a matched
    :class:`~verno.core.prepare.PreparedRule`) and why its ``exclude`` did not exclude it.

    The entries depend on the blocks and the request alone: rules written alike share them, made once per
    request (as the matcher shares its verdict)."""
    matcher = rule.matcher
    key = ("explain", matcher.memo_key)
    entries = request.cache.get(key)
    if entries is None:
        spec = rule.rule
        made = Trace()
        use_user = has_admission_info(request)
        _match_block(matcher.match, spec.match, request, use_user, made)
        if matcher.exclude is not None and spec.exclude is not None:
            _exclude_block(matcher.exclude, spec.exclude, request, made)
        entries = request.cache[key] = made.entries
    trace.extend(entries)


def _match_block(block: MatchBlock, model: MatchResources, request: Request, use_user: bool, trace: Trace) -> None:
    mode, written = _filters(model)
    compiled: list[FilterMatcher] = block.filters
    label = "match" if mode == "direct" else f"match.{mode}"
    if mode == "all":
        on = [matched_on(f, request, use_user) for f in written]
        trace.add("match", clause=label, matched_on=on)
        return
    for index, (f, c) in enumerate(zip(written, compiled)):
        if not c.is_empty(use_user) and c.check(request, use_user) is None:
            clause = label if mode == "direct" else f"{label}[{index}]"
            trace.add("match", clause=clause, matched_on=matched_on(f, request, use_user))
            return
    trace.add("match", clause=label, matched_on={})  # a rule evaluated without its matcher's verdict


def _exclude_block(block: MatchBlock, model: MatchResources, request: Request, trace: Trace) -> None:
    mode, _ = _filters(model)
    label = "exclude" if mode == "direct" else f"exclude.{mode}"
    why = []
    for index, c in enumerate(block.filters):
        if c.is_empty(True):
            reason = "empty filter"
        else:
            reason = c.check(request, True) or "matches"
        why.append(reason if mode == "direct" else f"[{index}] {reason}")
    trace.add("exclude", clause=label, excluded=False, why=why)


# -- policies of other kinds ----------------------------------------------------------------------------

def trace_for(policy: Any) -> Trace | None:
    """The trace a policy of another kind records its steps in while it is explained, else None.

    A kind plugin calls it once per evaluation and records only when it gives a trace."""
    traces = KIND_TRACES.get()
    if traces is None:
        return None
    entry = traces.get(id(policy))
    if entry is None:
        entry = traces[id(policy)] = (policy, Trace())
    return entry[1]


@contextmanager
def kind_traces() -> Iterator[dict[int, tuple[Any, Trace]]]:
    """Explain the policies of other kinds evaluated inside: each records into its own trace."""
    traces: dict[int, tuple[Any, Trace]] = {}
    token = KIND_TRACES.set(traces)
    try:
        yield traces
    finally:
        KIND_TRACES.reset(token)


def attach_kind_traces(engine: Any, responses: list[Any], traces: dict[int, tuple[Any, Trace]]) -> None:
    """Give each rule response of a kind policy its policy's trace (and the plugins' trace entries)."""
    for response in responses:
        entry = traces.get(id(response.policy))
        trace = entry[1] if entry is not None and entry[0] is response.policy else Trace()
        request = Request(response.resource or {}, operation=response.operation)
        for rule in response.rules:
            engine.trace_rule(response.policy, None, request, rule, trace)
            rule.trace = trace
