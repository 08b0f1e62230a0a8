"""What ``verno serve`` was asked to do; passed to worker processes through the environment."""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field

from verno.core.egress import EgressPolicy

ENV = "VERNO_SERVE_SETTINGS"
SERVICE_ACCOUNT_NAMESPACE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"


def own_namespace() -> str:
    """The namespace verno runs in: $POD_NAMESPACE, else the service account's, else empty."""
    ns = os.environ.get("POD_NAMESPACE", "")
    if not ns and os.path.isfile(SERVICE_ACCOUNT_NAMESPACE):
        try:
            with open(SERVICE_ACCOUNT_NAMESPACE, encoding="utf-8") as fh:
                ns = fh.read().strip()
        except OSError:
            ns = ""
    return ns


def default_excluded_namespaces() -> list[str]:
    return [ns for ns in ("kube-system", own_namespace()) if ns]


@dataclass
class Settings:
    policies: list[str] = field(default_factory=list)
    timeout: float = 8.0
    exclude_namespaces: list[str] = field(default_factory=default_excluded_namespaces)
    kubeconfig: str | None = None
    in_cluster: bool = False
    log_level: str = "INFO"
    #: not used (``--threads`` of earlier versions; evaluations run in ``evaluators`` processes)
    threads: int = 4
    #: seconds between policy-file change checks
    poll_interval: float = 1.0
    max_body_bytes: int = 16 * 1024 * 1024
    #: verifyImages: PEM file of CAs trusted for registries, plain HTTP allowed, docker config.json path
    registry_ca: str | None = None
    allow_insecure_registry: bool = False
    docker_config: str | None = None
    #: ``--allow-egress`` entries: addresses and hosts registries and apiCall services may be reached at
    allow_egress: list[str] = field(default_factory=list)
    #: evaluation processes per worker (each evaluates one request at a time; one past its deadline is
    #: stopped and replaced, so no evaluation outlives ``timeout``)
    evaluators: int = 2
    #: seconds for a TLS handshake, and for a request's head (request line and headers) to arrive
    header_timeout: float = 10.0
    #: seconds an idle kept-alive connection stays open
    keepalive_timeout: float = 30.0
    #: open connections per worker process, in all and per client address (0: no cap)
    max_connections: int = 2000
    max_connections_per_client: int = 1000
    #: the user ``verno controller``'s requests come as: generate rules with ``skipBackgroundRequests`` (the
    #: default) hand none of them over, so what the controller writes does not trigger generation again
    controller_username: str = ""
    #: ``--explain-denials``: append the blocking rules' decision traces to a denial's message (after
    #: Kyverno's text, which stays as it is)
    explain_denials: bool = False

    @property
    def background_username(self) -> str:
        return self.controller_username or \
            f"system:serviceaccount:{own_namespace() or 'verno'}:verno-controller"

    @property
    def explain_budget(self) -> float:
        """Seconds the first evaluation of a denied request may have taken for the denial to be explained:
        explaining evaluates the blocking policies once more, within the request's deadline."""
        return self.timeout * 0.25

    @property
    def egress(self) -> EgressPolicy:
        """The egress fence of ``allow_egress`` (entries were checked when ``serve`` started)."""
        return EgressPolicy.parse(self.allow_egress)

    @property
    def registry_timeout(self) -> float:
        """Each registry call's timeout: below the request timeout, so a verification is answered in time."""
        return max(0.2, min(10.0, self.timeout * 0.5))

    @property
    def cluster_mode(self) -> bool:
        return bool(self.kubeconfig) or self.in_cluster

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls) -> "Settings":
        raw = os.environ.get(ENV)
        return cls(**json.loads(raw)) if raw else cls()
