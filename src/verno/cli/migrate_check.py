"""``verno migrate --check -r MANIFESTS``: the original policies and their migrations run over the same
resources; every resource whose verdict or generated objects differ is listed.

For each translated rule the original's result on a resource (its rule, or its ``autogen-`` rules for Pod
controllers) is compared with the migrated policy's. A rule that does not apply (no match, preconditions or
match conditions false: ``skip``) and a policy that gives no response are the same verdict; ``fail``,
``pass``, ``error`` and ``warn`` must be equal; generated objects must be equal.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from verno.cli.compare import same_resource
from verno.cli.session import Session, iter_resources, resource_label
from verno.core.loading import Document
from verno.core.migration import Migration
from verno.core.policykinds import KindInputs

__all__ = ["Difference", "check"]

_NOT_APPLIED = "not applied"


@dataclass
class Difference:
    resource: str
    policy: str
    rule: str
    original: str
    migrated: str


def _verdict(status: Any) -> str:
    value = getattr(status, "value", str(status))
    return _NOT_APPLIED if value == "skip" else value


def _base_rule(name: str) -> str:
    for prefix in ("autogen-cronjob-", "autogen-"):
        if name.startswith(prefix):
            return name[len(prefix):]
    return name


def _same_generated(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> bool:
    return len(a) == len(b) and all(same_resource(x, y) for x, y in zip(a, b))


def check(engine: Any, policy_set: Any, migrations: list[Migration], resource_paths: list[str]) \
        -> tuple[int, int, list[Difference]]:
    """(resources, comparisons, differences) over every resource in ``resource_paths``."""
    by_policy = {m.policy: m for m in migrations}
    loaded: dict[str, Any] = {}
    for m in migrations:
        for doc in m.documents:
            kind = engine.policy_kinds.kind_of(doc["apiVersion"].split("/")[0], doc["kind"])
            loaded[doc["metadata"]["name"]] = kind.load(Document("<migrated>", 0, doc), engine)
    session = Session()
    resources = comparisons = 0
    differences: list[Difference] = []
    for doc in iter_resources(resource_paths):
        resource = doc.data
        resources += 1
        label = resource_label(resource)
        migrated: dict[str, tuple[str, list[dict[str, Any]]]] = {}
        inputs = KindInputs(session.sources, engine=engine)
        for m in migrations:
            # one original policy's rules in order, as Kyverno applies them: each mutation sees the resource the
            # previous rules patched, and (as the original's response) every mutation ends with the last patch
            current, mutated = resource, []
            for doc in m.documents:
                for response in session.evaluate_kinds(engine, [loaded[doc["metadata"]["name"]]], current, inputs):
                    rule = response.rules[0] if response.rules else None
                    out = list(rule.generated_resources) if rule else []
                    if rule is not None and rule.rule_type == "Mutation" and response.patched_resource is not None:
                        current = response.patched_resource
                        mutated.append(response.policy.name)
                    migrated[response.policy.name] = (_verdict(rule.status) if rule else _NOT_APPLIED, out)
            for name in mutated:
                migrated[name] = (migrated[name][0], [current])
        for prepared in policy_set.policies:
            migration = by_policy.get(prepared.policy.name)
            if migration is None:
                continue
            [response] = session.evaluate(engine, [prepared], resource)
            seen: dict[str, tuple[str, list[dict[str, Any]]]] = {}
            for rule in response.rules:
                base = _base_rule(rule.name)
                if base in migration.names:
                    out = list(rule.generated_resources)
                    if rule.rule_type == "Mutation" and response.patched_resource is not None:
                        out = [response.patched_resource]
                    seen[base] = (_verdict(rule.status), out)
            for rule_name, target in migration.names.items():
                original = seen.get(rule_name, (_NOT_APPLIED, []))
                new = migrated.get(target, (_NOT_APPLIED, []))
                comparisons += 1
                same_output = _same_generated(original[1], new[1])
                # a mutation that changed nothing is Kyverno's skip and a MutatingPolicy's pass: the same outcome
                no_op = bool(original[1]) and same_output and {original[0], new[0]} <= {"pass", _NOT_APPLIED}
                if (original[0] != new[0] and not no_op) or not same_output:
                    what = (lambda v: v[0] + (f" ({len(v[1])} generated)" if v[1] else ""))
                    differences.append(Difference(label, migration.policy, rule_name, what(original), what(new)))
    return resources, comparisons, differences
