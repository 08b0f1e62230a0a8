"""The engine side of the server: an Engine, the policy store, data sources; one evaluation -> Decision."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from verno.core.engine import Engine
from verno.core.prepare import PreparedPolicy
from verno.core.request import Request
from verno.core.sources import Sources
from verno.server.decide import Decision, mutate_decision, validate_decision
from verno.server.metrics import Metrics
from verno.server.policies import FilePolicyStore, PolicyStore, Snapshot
from verno.server.settings import Settings


@dataclass
class Evaluator:
    engine: Engine
    store: PolicyStore
    sources: Sources
    stop: Callable[[], None]

    def evaluate(self, endpoint: str, snapshot: Snapshot, policies: tuple[PreparedPolicy, ...],
                 request: Request) -> Decision:
        """Runs in a worker thread."""
        responses = self.engine.evaluate(list(policies), request, sources=self.sources,
                                         exceptions=snapshot.exceptions)
        if endpoint == "mutate":
            return mutate_decision(request, responses)
        return validate_decision(snapshot, request, responses)


def _track(store: PolicyStore, metrics: Metrics) -> None:
    def on_swap(snap: Snapshot) -> None:
        metrics.policies.set(value=len(snap.policies))
        metrics.generation.set(value=snap.generation)
        metrics.reloads.inc("success")

    store.on_swap.append(on_swap)
    store.on_failure.append(lambda error: metrics.reloads.inc("failure"))


def build_evaluator(settings: Settings, metrics: Metrics) -> Evaluator:
    """Load plugins and policies (file mode: synchronously; cluster mode: watches start here)."""
    engine = Engine()
    if settings.cluster_mode:
        from verno.server.cluster import start_cluster_store

        store, client, stop = start_cluster_store(engine, settings)
        _track(store, metrics)
        return Evaluator(engine, store, Sources(cluster=client), stop)
    file_store = FilePolicyStore(engine, settings.policies, poll_interval=settings.poll_interval)
    _track(file_store, metrics)
    file_store.load()
    file_store.start()
    return Evaluator(engine, file_store, Sources(), file_store.stop)
