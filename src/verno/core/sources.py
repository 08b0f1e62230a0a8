"""Where context loaders get data from: Values files, mocks and a Test's cluster objects offline, a cluster
client online."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from verno.core.egress import STRICT, EgressPolicy


class ClusterClient(Protocol):
    """What a cluster-backed loader needs; implemented over the ``kubernetes`` client in cluster mode."""

    def get_configmap(self, namespace: str, name: str) -> dict[str, Any] | None: ...

    def get_secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        """A Secret as the API returns it (``data`` base64-encoded), or None when it does not exist."""

    def raw_get(self, url_path: str) -> Any: ...

    def raw_post(self, url_path: str, body: Any) -> Any: ...


class TargetFinder(Protocol):
    """Cluster mode: the objects one mutateExisting target spec selects."""

    def __call__(self, selector: dict[str, Any]) -> list[dict[str, Any]]:
        """``selector``: the target spec with its variables substituted (``apiVersion``, ``kind``,
        ``namespace``, ``name`` with wildcards, ``uid``, ``selector``), the namespace already a namespaced
        Policy's own. Raises a :class:`~verno.core.errors.VernoError` when the cluster cannot be read."""


@dataclass
class Sources:
    """Data handed to context loaders through ``rc.sources``."""

    #: variables for every policy and resource (Values ``globalValues`` and ``--set``)
    global_values: dict[str, Any] = field(default_factory=dict)
    #: a merged Values file (per-policy, per-rule, per-resource values), or None
    values: Any = None
    #: mocked API responses: (method, url or urlPath) -> response dict {statusCode, body}
    api_call_responses: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    #: global context entries by name -> data
    global_context: dict[str, Any] = field(default_factory=dict)
    #: a cluster client, when verno runs against a cluster
    cluster: ClusterClient | None = None
    #: the cluster a Test describes (its ``clusterResources``, with its resources and target resources),
    #: read by ``configMap`` and ``apiCall`` entries as Kyverno's CLI reads its fake cluster; None when the
    #: Test gives no ``clusterResources`` (then those entries need a mock or a Values file)
    offline_cluster: ClusterClient | None = None
    #: parameter objects of CEL validations offline (a Test's ``paramResources``), read by ``paramRef``
    #: when no cluster client is given
    params: list[dict[str, Any]] = field(default_factory=list)
    #: whether image registries may be reached (``--registry``)
    registry_access: bool = False
    #: resources available to clone/list lookups offline (``clusterResources``)
    cluster_resources: list[dict[str, Any]] = field(default_factory=list)
    #: where mutateExisting targets are read from in cluster mode (``verno controller``); None: they are
    #: selected from ``cluster_resources``
    targets: TargetFinder | None = None
    #: clone sources one rule may read offline, by ``<policy key>/<rule name>`` (a Test's
    #: ``cloneSourceResource``); Kyverno scopes them to that rule only
    clone_sources: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: an OCI registry client (``image_data(reference, credentials)``), when registries may be reached
    registry_client: Any = None
    #: plain HTTP (and unverified TLS) for every registry (``--allow-insecure-registry``); a policy's
    #: ``imageRegistryCredentials.allowInsecureRegistry`` allows it for its own rule
    allow_insecure_registry: bool = False
    #: where registries and apiCall services may be reached (``--allow-egress``): public addresses for
    #: registries, nothing for apiCall services unless an entry names them
    egress: EgressPolicy = STRICT
    #: seconds an apiCall service call may take in all (connect, redirects, body)
    egress_timeout: float = 10.0
    #: the admission webhook evaluating the request: ``"mutate"``, ``"validate"``, or ``""`` outside admission
    #: (``verno apply``, ``verno test``). At ``"validate"`` a rule kind whose work belongs to the mutating
    #: webhook checks what that webhook recorded and reaches no registry (verifyImages: the verdicts of the
    #: ``kyverno.io/verify-images`` annotation, with ``verifyDigest`` and ``required``)
    webhook: str = ""
    #: what the CEL data libraries (``resource``, ``http``, ``globalContext``, ``image.GetMetadata``) read
    #: (:class:`verno.core.cel.datasources.CelData`): a Test's context offline, the cluster in the webhook
    cel_data: Any = None
    #: a Test's Context file (``cli.kyverno.io`` Context): ``{"resources": [...], "images": [...]}`` that CEL
    #: policies' ``resource.Get/List`` and ``image.GetMetadata`` read offline (empty without one)
    cel_context: dict[str, Any] = field(default_factory=dict)

    def rule_values(self, policy: str, rule: str) -> tuple[dict[str, Any], dict[str, list[Any]]]:
        """Values and foreachValues a Values file gives one rule."""
        if self.values is None:
            return {}, {}
        pv = self.values.policy(policy)
        if pv is None:
            return {}, {}
        for r in pv.rules:
            if r.name == rule:
                return r.values, r.foreach_values
        return {}, {}

    def resource_values(self, policy: str, resource_name: str) -> dict[str, Any]:
        if self.values is None:
            return {}
        pv = self.values.policy(policy)
        if pv is None:
            return {}
        for r in pv.resources:
            if r.name == resource_name:
                return r.values
        return {}
