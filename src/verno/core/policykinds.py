"""Policy kinds run by plugins: what a plugin registers, what a loaded policy of such a kind offers.

The ``kyverno.io/v1`` ClusterPolicy and Policy are the core's own: their rules go to the rule hooks. Every
other policy kind (Kyverno's CEL kinds, Kubernetes' ValidatingAdmissionPolicy, a third party's) is a
:class:`PolicyKind` a plugin registers through ``verno_register_policy_kinds``: it names the documents it
loads (``group/Kind``), the companion documents it reads beside them (bindings, exceptions), the stage at
which it runs for a resource, and a loader that turns one document into a :class:`KindPolicy`.

A :class:`KindPolicy` evaluates itself against one :class:`~verno.core.request.Request` and returns a
:class:`~verno.core.results.PolicyResponse` whose ``policy`` is the KindPolicy itself (``None``: the policy
does not apply to the resource at all, as Kyverno gives no response for unmatched constraints). The CLI,
reports and the webhook read the attributes below and nothing kind-specific.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:  # pragma: no cover
    from verno.core.loading import Document
    from verno.core.request import Request
    from verno.core.results import PolicyResponse
    from verno.core.sources import Sources

#: Kyverno's per-resource order of the policy kinds that run after a ClusterPolicy's mutate, verifyImages and
#: validate rules (``processor/policy_processor.go``): each stage sees the resource as patched by earlier ones.
STAGES = (
    "mutating-admission-policy",
    "mutating-policy",
    "validating-admission-policy",
    "validating-policy",
    "generating-policy",
    "image-validating-policy",
    "deleting-policy",
)


@runtime_checkable
class KindPolicy(Protocol):
    """One loaded policy of a plugin's kind."""

    #: ``Kind`` of the document (``ValidatingPolicy``), ``group/version`` it was read as, and its name
    kind: str
    api_version: str
    name: str
    #: the namespace of a namespaced kind, ``""`` for a cluster-wide one
    namespace: str
    #: the file it came from, and the document as read (what the webhook's policy-set digest covers)
    source: str
    document: Mapping[str, Any]
    #: ``metadata.annotations`` (reports read ``policies.kyverno.io/scored``, category and severity)
    annotations: Mapping[str, str]
    #: the report ``source`` of its results (``KyvernoValidatingPolicy``, ``ValidatingAdmissionPolicy``)
    report_source: str
    #: ``Fail`` or ``Ignore``: how the webhook answers when it cannot evaluate the policy
    failure_policy: str
    #: what a failing result does at admission: a subset of ``Deny``, ``Warn``, ``Audit``
    validation_actions: frozenset[str]
    #: whether the webhook evaluates it, and whether background scans do
    admission: bool
    background: bool

    @property
    def key(self) -> str:
        """``<namespace>/<name>`` or ``<name>``: how Test results and reports name the policy."""

    # Optional: ``admission_message(rule, action) -> str``, the words of a denial (``action`` "Deny") or a
    # warning ("Warn") at admission; without it, Kyverno's ``Policy <name> failed: <message>``. A rule's
    # ``validationActions`` property (comma-separated) overrides :attr:`validation_actions` for that rule.
    # Optional: ``mutate_existing``, truthy for a mutating policy that patches existing objects (targets)
    # instead of the admitted one; it is then given its candidate targets in :attr:`KindInputs.targets`
    # (``verno controller`` lists them from its ``spec.targetMatchConstraints.resourceRules``, else its
    # ``spec.matchConstraints.resourceRules``) and answers one rule per target carrying the patched target.

    def evaluate(self, request: Request, inputs: KindInputs, *, payload: bool | str = False) \
            -> PolicyResponse | None:
        """The policy's response for one resource. ``payload`` (see :func:`payload_kind`) says when the
        resource is not a Kubernetes object: ``"json"`` (or ``True``) a JSON payload, ``"envoy"`` an Envoy
        authorization request, ``"http"`` an HTTP one; a kind that reads no such payload returns ``None``.

        ``None`` means the policy does not apply at all (no response, as Kyverno's engines give none for
        unmatched constraints). Runtime failures of the policy's expressions are ``error`` rule responses;
        a :class:`~verno.core.errors.VernoError` is for input the engine cannot evaluate at all.
        """


#: what a Test may hand a kind policy instead of a Kubernetes object (``jsonPayloads``, ``envoyPayloads``,
#: ``httpPayloads``)
PAYLOAD_KINDS = ("json", "envoy", "http")

#: API versions of a policy kind tried in a cluster, preferred first
CLUSTER_VERSIONS = ("v1", "v1beta1", "v1alpha1")


def payload_kind(payload: bool | str) -> str:
    """``""`` for a Kubernetes object, else one of :data:`PAYLOAD_KINDS` (``True`` is ``"json"``)."""
    if payload is True:
        return "json"
    if not payload:
        return ""
    if payload not in PAYLOAD_KINDS:
        raise ValueError(f"unknown payload kind {payload!r}: use one of {', '.join(PAYLOAD_KINDS)}")
    return payload  # type: ignore[return-value]


@dataclass
class KindInputs:
    """What a policy of a plugin's kind may read besides the resource, for one run."""

    #: the data sources of the run (Values, mocks, the offline or real cluster, egress rules)
    sources: Sources
    #: companion documents by ``group/Kind`` (bindings, exceptions), each a parsed object
    companions: Mapping[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: parameter objects (a Test's ``paramResources``; the cluster's objects in the webhook)
    params: list[dict[str, Any]] = field(default_factory=list)
    #: Namespace objects by name (a Values file's ``namespaces``; the cluster's in the webhook)
    namespaces: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    #: the engine, for its CEL libraries and services
    engine: Any = None
    #: what kinds compute once per run (companions parsed and compiled for a policy), by a key of their own
    memo: dict[Any, Any] = field(default_factory=dict)
    #: existing objects a mutating kind may patch instead of the resource (a Test's ``targetResources``)
    targets: list[dict[str, Any]] = field(default_factory=list)


#: ``loader(document, engine) -> KindPolicy``: reads one policy document; raises
#: :class:`~verno.core.errors.LoadError` (naming the field) for a document it cannot run.
Loader = Callable[["Document", Any], KindPolicy]


@dataclass(frozen=True)
class PolicyKind:
    """A policy kind a plugin runs.

    :param group: the API group of its documents (``policies.kyverno.io``)
    :param kinds: the ``Kind`` names it loads (``ValidatingPolicy``, ``NamespacedValidatingPolicy``)
    :param stage: one of :data:`STAGES`
    :param load: the document loader
    :param companions: ``group/Kind`` of the other documents it reads (``admissionregistration.k8s.io/
        ValidatingAdmissionPolicyBinding``); they may be given with policies or with exceptions and reach
        :attr:`KindInputs.companions`. Several kinds may share a companion (CEL PolicyExceptions).
    :param cluster_versions: the API versions, preferred first, the webhook and the controller list and watch
        its documents (and companions) at in cluster mode: the first the cluster serves is used (Kubernetes
        serves MutatingAdmissionPolicy at ``v1beta1`` before 1.36; older Kyverno CRDs stop at ``v1beta1``)
    :param check_companion: ``check(document, engine)``, called for each companion document when it is
        loaded; raises :class:`~verno.core.errors.LoadError` (naming the field) for one it cannot use.
    :param finish: ``finish(request, responses)``, called after every policy of one evaluation ran, with the
        responses of this kind's policies, which it may revise
    """

    group: str
    kinds: frozenset[str]
    stage: str
    load: Loader
    companions: frozenset[str] = frozenset()
    cluster_versions: tuple[str, ...] = CLUSTER_VERSIONS
    check_companion: Callable[["Document", Any], None] | None = None
    #: ``finish(request, responses)``: called once every policy of a request ran, with this kind's responses
    #: (in order), which it may revise (ImageValidatingPolicy's ``required``: an image no policy verified)
    finish: Callable[[Any, list[Any]], None] | None = None

    def __post_init__(self) -> None:
        if self.stage not in STAGES:
            raise ValueError(f"policy kind stage {self.stage!r} is not one of {', '.join(STAGES)}")


def kind_key(group: str, kind: str) -> str:
    """``group/Kind``: how policy kinds and companions are registered and looked up."""
    return f"{group}/{kind}"


class PolicyKindRegistry:
    """Policy kinds by ``group/Kind``, filled by ``verno_register_policy_kinds``.

    Two plugins registering the same kind is a start-up error naming both; companions may be shared.
    """

    def __init__(self) -> None:
        from verno.core.registry import Registry

        self.kinds: Registry[PolicyKind] = Registry("policy kind")
        #: ``group/Kind`` of a companion -> the policy kinds that read it
        self.companions: dict[str, list[PolicyKind]] = {}

    def registrar(self, plugin: str) -> Callable[[PolicyKind], None]:
        def register(kind: PolicyKind) -> None:
            from verno.core.errors import PluginError

            if not isinstance(kind, PolicyKind):
                raise PluginError(f"plugin {plugin} registered a policy kind that is not a PolicyKind: {kind!r}")
            for name in sorted(kind.kinds):
                self.kinds.add(kind_key(kind.group, name), kind, plugin)
            for companion in sorted(kind.companions):
                self.companions.setdefault(companion, []).append(kind)

        return register

    def kind_of(self, group: str, kind: str) -> PolicyKind | None:
        entry = self.kinds.get(kind_key(group, kind))
        return entry.value if entry is not None else None

    def is_companion(self, group: str, kind: str) -> bool:
        return kind_key(group, kind) in self.companions

    def names(self) -> list[str]:
        return self.kinds.names()

    def by_plugin(self, plugin: str) -> list[str]:
        return self.kinds.by_plugin(plugin)
