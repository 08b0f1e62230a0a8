"""The policy store: an immutable snapshot of prepared policies, swapped atomically on reload.

A reload builds the complete new snapshot first (every policy parsed, prepared and checked) and then
replaces one reference; a request keeps the snapshot it started with, so nothing is ever evaluated
against a half-loaded set. A failed reload keeps the previous snapshot.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from verno.core.engine import Engine
from verno.core.loading import expand_paths
from verno.core.policyset import PolicySet, load_policy_set
from verno.core.prepare import PreparedPolicy

log = logging.getLogger("verno.server.policies")

#: rule kinds each webhook endpoint evaluates
#: (Kyverno: the mutating webhook verifies images and pins digests; the validating webhook checks the
#: verdicts recorded in the ``kyverno.io/verify-images`` annotation, ``required`` and ``verifyDigest``)
ENDPOINT_PHASES = {"mutate": ("mutate", "verifyImages"), "validate": ("verifyImages", "validate")}

#: the stages of plugin-registered policy kinds each endpoint evaluates (``core/policykinds.py``); an
#: ImageValidatingPolicy also runs at /mutate, where a passing one pins its images' tags to digests
#: (``validationConfigurations.mutateDigest``) and only an error blocks (its failures deny at /validate)
ENDPOINT_STAGES = {
    "mutate": ("mutating-admission-policy", "mutating-policy", "image-validating-policy"),
    "validate": ("validating-admission-policy", "validating-policy", "image-validating-policy"),
}


def failure_policy(policy: Any) -> str:
    """``Fail`` or ``Ignore``: webhookConfiguration.failurePolicy, else spec.failurePolicy, else Fail."""
    spec = policy.spec
    wc = spec.webhook_configuration
    value = (wc.failure_policy if wc is not None else None) or spec.failure_policy or "Fail"
    return "Ignore" if value == "Ignore" else "Fail"


def has_match_conditions(policy: Any) -> bool:
    """Whether the policy has ``webhookConfiguration.matchConditions`` (a webhook of its own)."""
    wc = policy.spec.webhook_configuration
    return wc is not None and bool(wc.match_conditions)


def phase_view(prepared: PreparedPolicy, phases: tuple[str, ...]) -> PreparedPolicy | None:
    """The policy restricted to the rules of ``phases`` (None when it has none)."""
    rules = [r for r in prepared.rules if r.kind in phases]
    if not rules:
        return None
    by_kind = {k: v for k, v in prepared.by_kind.items() if k in phases}
    return dataclasses.replace(prepared, rules=rules, by_kind=by_kind, kinds=frozenset(by_kind))


@dataclass(frozen=True)
class Snapshot:
    """One consistent set of policies and exceptions, with per-endpoint views."""

    policies: tuple[PreparedPolicy, ...] = ()
    exceptions: tuple[Any, ...] = ()
    by_endpoint: dict[str, tuple[PreparedPolicy, ...]] = field(default_factory=dict)
    #: id(policy model) -> rule name (as results carry it) -> rule model
    rules: dict[int, dict[str, Any]] = field(default_factory=dict)
    generation: int = 0
    #: what the set holds (every policy and exception, as loaded): equal digests, equal sets, in any process
    digest: str = ""
    #: policies of plugin-registered kinds that run at admission, and their companions (bindings, exceptions)
    kind_policies: tuple[Any, ...] = ()
    kinds_by_endpoint: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    companions: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: policies of plugin-registered kinds that patch existing targets (a MutatingPolicy's mutateExisting),
    #: handed to the controller whether or not they also run at admission
    mutators: tuple[Any, ...] = ()

    @classmethod
    def build(cls, policies: Iterable[PreparedPolicy], exceptions: Iterable[Any], generation: int,
              kind_policies: Iterable[Any] = (), companions: dict[str, list[dict[str, Any]]] | None = None,
              stage_of: Callable[[Any], str] | None = None) -> "Snapshot":
        kind_policies = tuple(kind_policies)
        active_kinds = tuple(k for k in kind_policies if k.admission)
        kinds_by_endpoint: dict[str, tuple[Any, ...]] = {}
        for endpoint, stages in ENDPOINT_STAGES.items():
            served = tuple(k for k in active_kinds if stage_of is not None and stage_of(k) in stages)
            kinds_by_endpoint[endpoint] = served
            kinds_by_endpoint[f"{endpoint}/fail"] = tuple(k for k in served if k.failure_policy != "Ignore")
            kinds_by_endpoint[f"{endpoint}/ignore"] = tuple(k for k in served if k.failure_policy == "Ignore")
        active = tuple(p for p in policies if p.policy.spec.admission)
        views: dict[str, tuple[PreparedPolicy, ...]] = {}
        for endpoint, phases in ENDPOINT_PHASES.items():
            viewed = tuple(v for v in (phase_view(p, phases) for p in active) if v is not None)
            # a policy with matchConditions is served on its own fine-grained path only: the API server
            # checks the conditions for that webhook, so the shared webhooks must not evaluate it
            for v in viewed:
                if has_match_conditions(v.policy):
                    views[f"{endpoint}/finegrained/{v.policy.key}"] = (v,)
            all_ = tuple(v for v in viewed if not has_match_conditions(v.policy))
            views[endpoint] = all_
            # Kyverno's /<endpoint>/fail and /<endpoint>/ignore serve the policies of that failurePolicy
            views[f"{endpoint}/fail"] = tuple(v for v in all_ if failure_policy(v.policy) == "Fail")
            views[f"{endpoint}/ignore"] = tuple(v for v in all_ if failure_policy(v.policy) == "Ignore")
        rules = {id(p.policy): {r.name: r.rule for r in p.rules} for p in active}
        exceptions = tuple(exceptions)
        companions = dict(companions or {})
        return cls(active, exceptions, views, rules, generation,
                   set_digest(policies, exceptions, kind_policies, companions), active_kinds, kinds_by_endpoint,
                   companions, tuple(k for k in kind_policies if getattr(k, "mutate_existing", None)))

    def for_endpoint(self, route: str) -> tuple[PreparedPolicy, ...]:
        """Policies for a route key: ``mutate``, ``validate``, ``mutate/fail``, ``validate/ignore``, or
        ``validate/finegrained/<policy key>`` (that policy alone, whatever its failurePolicy)."""
        return self.by_endpoint.get(route, ())

    def kinds_for(self, route: str) -> tuple[Any, ...]:
        """Policies of plugin-registered kinds for a route key (none on fine-grained routes)."""
        return self.kinds_by_endpoint.get(route, ())

    @property
    def policy_count(self) -> int:
        return len(self.policies) + len(self.kind_policies)

    def rule(self, policy: Any, name: str) -> Any:
        return self.rules.get(id(policy), {}).get(name)


def set_digest(policies: Iterable[PreparedPolicy], exceptions: Iterable[Any], kind_policies: Iterable[Any] = (),
               companions: dict[str, list[dict[str, Any]]] | None = None) -> str:
    """A digest of a policy set's content, the same in every process that loaded the same set."""
    import hashlib

    h = hashlib.sha256()
    docs: list[Any] = [item.model_dump(mode="json", by_alias=True, exclude_none=True)
                       for item in [p.policy for p in policies] + list(exceptions)]
    docs += [k.document for k in kind_policies]
    docs += [doc for key in sorted(companions or {}) for doc in (companions or {})[key]]
    for doc in docs:
        h.update(json.dumps(doc, sort_keys=True, default=str).encode())
        h.update(b"\0")
    return h.hexdigest()[:32]


class PolicyStore:
    """Holds the current snapshot; ``ready`` once a first snapshot was installed."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._snapshot = Snapshot()
        self._ready = threading.Event()
        self._generation = 0
        self._lock = threading.Lock()
        self.on_swap: list[Callable[[Snapshot], None]] = []
        self.on_failure: list[Callable[[str], None]] = []

    @property
    def snapshot(self) -> Snapshot:
        return self._snapshot

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    def wait_ready(self, timeout: float | None = None) -> bool:
        return self._ready.wait(timeout)

    def install(self, policies: Iterable[PreparedPolicy], exceptions: Iterable[Any], kind_policies: Iterable[Any] = (),
                companions: dict[str, list[dict[str, Any]]] | None = None) -> Snapshot:
        """Build a snapshot from fully prepared policies and make it current (one reference swap)."""
        with self._lock:
            self._generation += 1
            snap = Snapshot.build(policies, exceptions, self._generation, kind_policies, companions,
                                  self.engine.stage_of)
            self._snapshot = snap
        self._ready.set()
        for hook in self.on_swap:
            hook(snap)
        return snap

    def namespace_labels(self, namespace: str) -> dict[str, str] | None:
        """Labels of a namespace when known (cluster mode), else None."""
        return None


def _fingerprint(paths: list[str]) -> tuple[tuple[str, int, int], ...]:
    """(path, mtime, size) of every policy file; a directory or file that cannot be read raises."""
    out = []
    for path in expand_paths(paths):
        try:
            st = os.stat(path)
        except FileNotFoundError:  # removed since the walk: the next check sees the directory without it
            continue
        out.append((path, st.st_mtime_ns, st.st_size))
    return tuple(out)


class FilesChanged(RuntimeError):
    """Policy files changed while they were being loaded: the set read may mix old and new files."""


#: longest wait between two attempts to load a set that failed and did not change since
MAX_RETRY_INTERVAL = 30.0


class FilePolicyStore(PolicyStore):
    """Policies (and PolicyExceptions) from files and directories, reloaded when they change.

    Fails closed: a set replaces the current one only when every file was listed and read (a directory
    that cannot be listed or a file that cannot be opened, as under descriptor exhaustion, is a load
    error, never a smaller set) and no file changed while loading. A failed load keeps the last good
    set, is logged at error level and counted, and is retried with backoff until it succeeds.
    """

    def __init__(self, engine: Engine, paths: list[str], *, poll_interval: float = 1.0):
        super().__init__(engine)
        self.paths = list(paths)
        self.poll_interval = poll_interval
        self._seen: tuple[tuple[str, int, int], ...] = ()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._force = threading.Event()
        self.last_error: str | None = None
        self.reloads: dict[str, int] = {"success": 0, "failure": 0}
        #: monotonic time before which a failed, unchanged set is not tried again
        self._retry_at = 0.0
        self._check_lock = threading.Lock()
        self._retry_interval = poll_interval

    def load(self) -> Snapshot:
        """Load every path; raises on any error (the current snapshot is kept)."""
        seen = _fingerprint(self.paths)
        started = time.perf_counter()
        policy_set: PolicySet = load_policy_set(self.engine, self.paths, allow_empty=True)
        self.engine.require_handlers(policy_set.policies)
        if _fingerprint(self.paths) != seen:
            raise FilesChanged("policy files changed while they were loaded; loading again")
        previous = self.snapshot
        snap = self.install(policy_set.policies, policy_set.exceptions, policy_set.kind_policies,
                            policy_set.companions)
        self._seen = seen
        self._retry_interval = self.poll_interval
        if not snap.policy_count and previous.policy_count:
            log.warning("the policy files now hold no policy: every request is allowed",
                        extra={"paths": self.paths, "previous_policies": previous.policy_count})
        log.info("policies loaded", extra={"policies": snap.policy_count, "exceptions": len(snap.exceptions),
                                           "files": len(seen), "generation": snap.generation,
                                           "seconds": round(time.perf_counter() - started, 4)})
        return snap

    def check(self, *, force: bool = False) -> bool:
        """Reload when any file changed (added, removed, modified), when ``force``, or when the last load
        failed and its retry is due; True when a new set was installed."""
        with self._check_lock:
            return self._check(force)

    def _check(self, force: bool) -> bool:
        try:
            seen = _fingerprint(self.paths)
        except Exception as exc:  # a path vanished or cannot be listed: keep serving the current set
            self._fail(exc)
            return False
        retry = self.last_error is not None and time.monotonic() >= self._retry_at
        if seen == self._seen and not force and not retry:
            return False
        try:
            self.load()
        except Exception as exc:
            if seen != self._seen:
                self._retry_interval = self.poll_interval
            self._seen = seen
            self._fail(exc)
            return False
        self.reloads["success"] += 1
        if self.last_error is not None:
            log.info("policy load recovered", extra={"generation": self.snapshot.generation})
        self.last_error = None
        return True

    def _fail(self, exc: Exception) -> None:
        self.reloads["failure"] += 1
        self.last_error = str(exc)
        self._retry_at = time.monotonic() + self._retry_interval
        self._retry_interval = min(MAX_RETRY_INTERVAL, self._retry_interval * 2)
        log.error("policy load failed; keeping the last good policies",
                  extra={"error": str(exc), "generation": self.snapshot.generation,
                         "policies": self.snapshot.policy_count})
        for hook in self.on_failure:
            hook(str(exc))

    def reload(self) -> None:
        """Ask the watch thread to load the files again now (SIGHUP)."""
        self._force.set()

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="verno-policy-watch", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._force.set()

    def _run(self) -> None:
        while True:
            forced = self._force.wait(self.poll_interval)
            if self._stop.is_set():
                return
            self._force.clear()
            try:
                self.check(force=forced)
            except Exception:  # the watch must outlive any one failed check
                log.exception("policy check failed")
