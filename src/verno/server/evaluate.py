"""The engine side of the server: an Engine, the policy store, data sources; one evaluation -> Decision."""
from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from verno.core.engine import Engine
from verno.core.policykinds import KindInputs
from verno.core.prepare import PreparedPolicy
from verno.core.request import Request
from verno.core.sources import Sources
from verno.registry import Registries
from verno.registry.access import configured_pool
from verno.server import messages
from verno.server.decide import Decision, mutate_decision, validate_decision
from verno.server.metrics import Metrics
from verno.server.policies import ENDPOINT_PHASES, FilePolicyStore, PolicyStore, Snapshot
from verno.server.settings import Settings


@dataclass
class Evaluator:
    engine: Engine
    store: PolicyStore
    sources: Sources
    stop: Callable[[], None]
    _validate_sources: Sources | None = None
    #: cluster mode: writes the UpdateRequests of generate rules (``server/handoff.py``)
    handoff: Any = None
    #: ``--explain-denials``: a /validate denial carries the blocking rules' decision traces after Kyverno's
    #: text, when the first evaluation took at most ``explain_budget`` seconds (the traces come from
    #: evaluating the blocking policies once more, so an allowed request pays nothing)
    explain_denials: bool = False
    explain_budget: float = 0.0

    def evaluate(self, endpoint: str, snapshot: Snapshot, policies: tuple[PreparedPolicy, ...],
                 request: Request, kinds: tuple[Any, ...] = ()) -> Decision:
        """Runs in an evaluation process: the route's ClusterPolicies, then its policies of other kinds."""
        started = time.monotonic()
        phases = ENDPOINT_PHASES[endpoint]
        sources = self.sources if endpoint == "mutate" else self.validate_sources
        responses = self.engine.evaluate(list(policies), request, sources=sources,
                                         exceptions=snapshot.exceptions, phases=phases) if policies else []
        if kinds:
            patched = next((r.patched_resource for r in reversed(responses) if r.patched_resource is not None
                            and r.patched_resource is not request.resource), None)
            subject = request.with_resource(patched) if patched is not None else request
            responses += self.engine.evaluate_kinds(kinds, subject, self.kind_inputs(snapshot, request, sources))
        if endpoint == "mutate":
            return mutate_decision(self.engine, snapshot, request, responses)
        decision = validate_decision(snapshot, request, responses)
        if not decision.allowed and self.explain_denials and time.monotonic() - started <= self.explain_budget:
            decision.message += self._explanation(snapshot, policies, request, kinds, sources, responses)
        return decision

    def _explanation(self, snapshot: Snapshot, policies: tuple[PreparedPolicy, ...], request: Request,
                     kinds: tuple[Any, ...], sources: Sources, responses: list[Any]) -> str:
        """The blocking rules' traces: the policies with a failing or erroring rule, evaluated once more
        with traces (a /validate evaluation changes nothing, so it decides the same way)."""
        from verno.core.explain import attach_kind_traces, kind_traces
        from verno.core.results import Status

        bad = {id(r.policy) for r in responses if any(x.status in (Status.FAIL, Status.ERROR) for x in r.rules)}
        again = [p for p in policies if id(p.policy) in bad]
        explained = self.engine.evaluate(again, request, sources=sources, exceptions=snapshot.exceptions,
                                         phases=ENDPOINT_PHASES["validate"], explain=True) if again else []
        failing_kinds = tuple(k for k in kinds if id(k) in bad)
        if failing_kinds:
            with kind_traces() as traces:
                kind_responses = self.engine.evaluate_kinds(failing_kinds, request,
                                                            self.kind_inputs(snapshot, request, sources))
            attach_kind_traces(self.engine, kind_responses, traces)
            explained += kind_responses
        blocking: list[tuple[Any, Any]] = []
        validate_decision(snapshot, request, explained, blocking)
        traces_of = [(r.policy.key, rule.name, rule.trace.as_list() if rule.trace is not None else [])
                     for r, rule in blocking]
        return messages.explanation(traces_of) if traces_of else ""

    def kind_inputs(self, snapshot: Snapshot, request: Request, sources: Sources) -> KindInputs:
        """What policies of other kinds read: the set's companions and the request namespace's labels."""
        namespaces: dict[str, dict[str, Any]] = {}
        if request.namespace:
            labels = self.store.namespace_labels(request.namespace)
            if labels is not None:
                namespaces[request.namespace] = {"apiVersion": "v1", "kind": "Namespace",
                                                 "metadata": {"name": request.namespace, "labels": dict(labels)}}
        return KindInputs(sources, snapshot.companions, namespaces=namespaces, engine=self.engine)

    @property
    def validate_sources(self) -> Sources:
        """The sources of /validate: rule kinds whose work belongs to /mutate check what it recorded
        (verifyImages: the verdicts), reaching no registry."""
        if self._validate_sources is None:
            self._validate_sources = dataclasses.replace(self.sources, webhook="validate")
        return self._validate_sources


def _track(store: PolicyStore, metrics: Metrics) -> None:
    def on_swap(snap: Snapshot) -> None:
        metrics.policies.set(value=snap.policy_count)
        metrics.generation.set(value=snap.generation)
        metrics.reloads.inc("success")

    store.on_swap.append(on_swap)
    store.on_failure.append(lambda error: metrics.reloads.inc("failure"))


def registries(settings: Settings) -> Registries:
    """The worker process's registry pool (one pooled client per registry, per process)."""
    return configured_pool(docker_config=settings.docker_config, registry_ca=settings.registry_ca,
                           allow_insecure=settings.allow_insecure_registry, egress=settings.egress,
                           timeout=settings.registry_timeout)


def _sources(settings: Settings, pool: Registries, **extra: Any) -> Sources:
    from verno.core.cel.cluster_data import ClusterCelData

    cel_data = ClusterCelData(extra.get("cluster"), egress=settings.egress, egress_timeout=settings.registry_timeout,
                              registry_client=pool)
    return Sources(webhook="mutate", registry_access=True, registry_client=pool,
                   allow_insecure_registry=settings.allow_insecure_registry, egress=settings.egress,
                   egress_timeout=settings.registry_timeout, cel_data=cel_data, **extra)


def _stopping(*steps: Callable[[], None]) -> Callable[[], None]:
    def stop() -> None:
        for step in steps:
            step()
    return stop


def build_evaluator(settings: Settings, metrics: Metrics) -> Evaluator:
    """Load plugins and policies (file mode: synchronously; cluster mode: watches start here)."""
    engine = Engine()
    pool = registries(settings)
    if settings.cluster_mode:
        from verno.server.cluster import start_cluster_store

        from verno.server.handoff import HandOff
        from verno.server.settings import own_namespace

        store, client, stop = start_cluster_store(engine, settings)
        _track(store, metrics)
        handoff = HandOff(client.raw_post, own_namespace() or "verno", background_user=settings.background_username)
        return Evaluator(engine, store, _sources(settings, pool, cluster=client),
                         _stopping(stop, handoff.close, pool.close), handoff=handoff,
                         explain_denials=settings.explain_denials, explain_budget=settings.explain_budget)
    file_store = FilePolicyStore(engine, settings.policies, poll_interval=settings.poll_interval)
    _track(file_store, metrics)
    file_store.load()
    file_store.start()
    return Evaluator(engine, file_store, _sources(settings, pool), _stopping(file_store.stop, pool.close),
                     explain_denials=settings.explain_denials, explain_budget=settings.explain_budget)
