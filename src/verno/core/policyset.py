"""Loading policies and PolicyExceptions into a prepared set the engine evaluates."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable

from verno.core.errors import LoadError, VernoError
from verno.core.loading import Document, iter_path_documents, kind_of, validate_model
from verno.core.models.exception import PolicyException
from verno.core.models.policy import Policy
from verno.core.prepare import PreparedPolicy

if TYPE_CHECKING:  # pragma: no cover
    from verno.core.engine import Engine

KYVERNO_POLICY_KINDS = {"ClusterPolicy", "Policy"}


@dataclass
class PolicySet:
    policies: list[PreparedPolicy] = field(default_factory=list)
    exceptions: list[PolicyException] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)

    @property
    def rule_count(self) -> int:
        return sum(len(p.rules) for p in self.policies)

    def find(self, key: str) -> PreparedPolicy | None:
        for p in self.policies:
            if p.policy.key == key or p.name == key:
                return p
        return None


def load_policy_set(engine: Engine, policy_paths: Iterable[str], exception_paths: Iterable[str] = (),
                    *, exceptions_in_policies: bool = True) -> PolicySet:
    """Policies (and, in policy paths, PolicyExceptions) from files, directories or ``-``."""
    out = PolicySet()
    for doc in iter_path_documents(policy_paths):
        _add(engine, out, doc, exceptions=exceptions_in_policies, policies=True)
    for doc in iter_path_documents(exception_paths):
        _add(engine, out, doc, exceptions=True, policies=False)
    return out


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
    if not isinstance(doc.data, dict) or not kind:
        raise LoadError(doc.source, "not a Kubernetes object (no kind)", document=doc.index)
    what = "a PolicyException" if kind == "PolicyException" else f"{api_version} {kind}"
    out.notices.append(f"{doc.where}: skipping {what}: not a kyverno.io/v1 policy")
