"""Loading policies and PolicyExceptions into a prepared set the engine evaluates."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable

from verno.core.errors import LoadError, VernoError
from verno.core.loading import Document, iter_path_documents, kind_of, validate_model
from verno.core.models.cel_exception import CELPolicyException
from verno.core.models.exception import PolicyException
from verno.core.models.policy import Policy
from verno.core.policykinds import KindPolicy, kind_key
from verno.core.prepare import PreparedPolicy

if TYPE_CHECKING:  # pragma: no cover
    from verno.core.engine import Engine

KYVERNO_POLICY_KINDS = {"ClusterPolicy", "Policy"}

#: companions whose shape the core knows (it evaluates them for every kind that reads them)
COMPANION_MODELS = {"policies.kyverno.io/PolicyException": CELPolicyException}

#: Policy kinds of Kyverno and Kubernetes that verno reads but does not run yet, by API group. A document
#: of one of them is an error (never skipped): a CI gate must not pass on policies it did not evaluate.
#: (ValidatingPolicy, NamespacedValidatingPolicy and policies.kyverno.io PolicyException are run by the
#: validatingpolicy plugin; without it they are "not a policy" errors like any unregistered kind.)
NOT_YET_SUPPORTED = {
    "policies.kyverno.io": {
        "MutatingPolicy", "NamespacedMutatingPolicy", "GeneratingPolicy", "NamespacedGeneratingPolicy",
        "ImageValidatingPolicy", "NamespacedImageValidatingPolicy", "DeletingPolicy", "NamespacedDeletingPolicy",
    },
    "admissionregistration.k8s.io": {
        "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding", "MutatingAdmissionPolicy",
        "MutatingAdmissionPolicyBinding",
    },
    "kyverno.io": {"CleanupPolicy", "ClusterCleanupPolicy"},
}


@dataclass
class PolicySet:
    policies: list[PreparedPolicy] = field(default_factory=list)
    exceptions: list[PolicyException] = field(default_factory=list)
    #: policies of plugin-registered kinds (CEL policies, admission policies), in load order
    kind_policies: list[KindPolicy] = field(default_factory=list)
    #: companion documents of those kinds (bindings, CEL exceptions) by ``group/Kind``
    companions: dict[str, list[dict]] = field(default_factory=dict)

    @property
    def rule_count(self) -> int:
        return sum(len(p.rules) for p in self.policies)

    @property
    def policy_count(self) -> int:
        return len(self.policies) + len(self.kind_policies)

    def find(self, key: str) -> PreparedPolicy | None:
        for p in self.policies:
            if p.policy.key == key or p.name == key:
                return p
        return None

    def find_kind_policy(self, key: str) -> KindPolicy | None:
        for p in self.kind_policies:
            if p.key == key or p.name == key:
                return p
        return None


def load_policy_set(engine: Engine, policy_paths: Iterable[str], exception_paths: Iterable[str] = (),
                    *, exceptions_in_policies: bool = True, allow_empty: bool = False) -> PolicySet:
    """Policies (and, in policy paths, PolicyExceptions) from files, directories or ``-``.

    Every document must be one verno runs: any other kind is an error naming the file and document.
    Policy paths that hold no policy at all are an error too, unless ``allow_empty`` (a webhook may
    start with an empty directory; a CI run that checked nothing must not pass).
    """
    policy_paths = list(policy_paths)
    out = policy_set_from_documents(engine, iter_path_documents(policy_paths), iter_path_documents(exception_paths),
                                    exceptions_in_policies=exceptions_in_policies)
    if policy_paths and not out.policies and not out.kind_policies and not allow_empty:
        raise no_policies_error(engine, ", ".join(policy_paths))
    return out


def policy_set_from_documents(engine: Engine, policy_docs: Iterable[Document],
                              exception_docs: Iterable[Document] = (), *,
                              exceptions_in_policies: bool = True) -> PolicySet:
    """Policies and PolicyExceptions from documents already read (from files, or from elsewhere such as a
    git revision), with the checks :func:`load_policy_set` makes per document; an empty set is the caller's
    to judge."""
    out = PolicySet()
    for doc in policy_docs:
        _add(engine, out, doc, exceptions=exceptions_in_policies, policies=True)
    for doc in exception_docs:
        _add(engine, out, doc, exceptions=True, policies=False)
    return out


def no_policies_error(engine: Engine, where: str) -> LoadError:
    """The error for policy paths that hold no policy at all."""
    return LoadError(where, f"no policies found: expected {_policy_kinds_text(engine)} documents")


def add_documents(engine: Engine, out: PolicySet, docs: Iterable[Document], *, policies: bool = True,
                  exceptions: bool = True) -> PolicySet:
    """Add documents read elsewhere (a cluster's objects) to ``out``: policies (when ``policies``),
    PolicyExceptions (when ``exceptions``) and companions, with the same checks as files get."""
    for doc in docs:
        _add(engine, out, doc, exceptions=exceptions, policies=policies)
    return out


def _policy_kinds_text(engine: Engine) -> str:
    return ", ".join(["kyverno.io ClusterPolicy", "Policy"] + sorted(engine.policy_kinds.names()))


def _add(engine: Engine, out: PolicySet, doc: Document, *, exceptions: bool, policies: bool) -> None:
    api_version, kind = kind_of(doc.data)
    group = api_version.split("/")[0]
    if policies and kind in KYVERNO_POLICY_KINDS and group == "kyverno.io":
        policy = validate_model(Policy, doc)
        if not policy.name:
            raise LoadError(doc.source, "a policy needs a name", document=doc.index, field="metadata.name")
        try:
            out.policies.append(engine.prepare(policy, source=doc.source))
        except LoadError:
            raise
        except VernoError as exc:
            raise LoadError(doc.source, str(exc), document=doc.index) from None
        return
    if exceptions and kind == "PolicyException" and group == "kyverno.io":
        out.exceptions.append(validate_model(PolicyException, doc))
        return
    if isinstance(doc.data, dict) and engine.policy_kinds.is_companion(group, kind):
        model = COMPANION_MODELS.get(kind_key(group, kind))
        if model is not None:  # checked here, where the file and document are known
            validate_model(model, doc)
        for reader in engine.policy_kinds.companions[kind_key(group, kind)]:
            if reader.check_companion is not None:
                reader.check_companion(doc, engine)
        out.companions.setdefault(kind_key(group, kind), []).append(doc.data)
        return
    policy_kind = engine.policy_kinds.kind_of(group, kind) if policies else None
    if policy_kind is not None:
        try:
            out.kind_policies.append(policy_kind.load(doc, engine))
        except LoadError:
            raise
        except VernoError as exc:
            raise LoadError(doc.source, str(exc), document=doc.index) from None
        return
    if not isinstance(doc.data, dict) or not kind:
        raise LoadError(doc.source, "not a Kubernetes object (no kind)", document=doc.index)
    raise LoadError(doc.source, _not_loadable(api_version, kind, group, policies=policies, exceptions=exceptions),
                    document=doc.index, field="kind")


def _not_loadable(api_version: str, kind: str, group: str, *, policies: bool, exceptions: bool) -> str:
    """Why a document cannot be read where it was given, and what to do instead."""
    what = f"{kind} ({api_version})"
    if kind in NOT_YET_SUPPORTED.get(group, ()):
        return f"{what} is not supported yet: verno runs kyverno.io ClusterPolicy, Policy and PolicyException" \
               " and the kinds of its installed plugins (verno plugins)"
    if group == "kyverno.io" and kind in KYVERNO_POLICY_KINDS:
        return f"{what} is a policy, found among PolicyExceptions: give policy files as policies"
    if group == "kyverno.io" and kind == "PolicyException":
        return f"{what} is a PolicyException, found among policies: give it with -e/--exception"
    expected = "kyverno.io ClusterPolicy or Policy" if policies else "kyverno.io PolicyException"
    if policies and exceptions:
        expected += " (or PolicyException)"
    return f"{what} is not a policy: expected {expected} documents here"
