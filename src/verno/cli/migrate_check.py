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


def _is_existing(doc: dict[str, Any]) -> bool:
    return bool(((doc.get("spec") or {}).get("evaluation") or {}).get("mutateExisting", {}).get("enabled"))


def _per_target(rules: list[Any]) -> tuple[str, list[dict[str, Any]]]:
    """mutateExisting responses (one per target; skipped targets left out) as one verdict and the patched
    targets."""
    applied = [r for r in rules if _verdict(r.status) != _NOT_APPLIED]
    if not applied:
        return _NOT_APPLIED, []
    return ",".join(_verdict(r.status) for r in applied), [r.patched_resource for r in applied if r.patched_resource]


def check(engine: Any, policy_set: Any, migrations: list[Migration], resource_paths: list[str],
          target_paths: list[str] | tuple[str, ...] = ()) -> tuple[int, int, list[Difference]]:
    """(resources, comparisons, differences) over every resource in ``resource_paths``; mutateExisting rules
    patch the resources of ``target_paths`` (a Test's ``targetResources``), compared target by target."""
    by_policy = {m.policy: m for m in migrations}
    loaded: dict[str, Any] = {}
    existing: set[str] = set()
    for m in migrations:
        for doc in m.documents:
            kind = engine.policy_kinds.kind_of(doc["apiVersion"].split("/")[0], doc["kind"])
            loaded[doc["metadata"]["name"]] = kind.load(Document("<migrated>", 0, doc), engine)
            if _is_existing(doc):
                existing.add(doc["metadata"]["name"])
    session = Session()
    targets = [d.data for d in iter_resources(list(target_paths))] if target_paths else []
    session.sources.cluster_resources = targets
    resources = comparisons = 0
    differences: list[Difference] = []
    for doc in iter_resources(resource_paths):
        resource = doc.data
        resources += 1
        label = resource_label(resource)
        migrated: dict[str, tuple[str, list[dict[str, Any]]]] = {}
        inputs = KindInputs(session.sources, engine=engine, targets=targets)
        for m in migrations:
            # one original policy's rules in order, as Kyverno applies them: each mutation sees the resource the
            # previous rules patched, and (as the original's response) every mutation ends with the last patch
            current, mutated = resource, []
            for doc in m.documents:
                name = doc["metadata"]["name"]
                if name in existing:
                    responses = session.evaluate_kinds(engine, [loaded[name]], current, inputs) if targets else []
                    migrated[name] = _per_target([r for resp in responses for r in resp.rules])
                    continue
                for response in session.evaluate_kinds(engine, [loaded[name]], current, inputs):
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
            for base in {_base_rule(r.name) for r in response.rules}:
                if migration.names.get(base) in existing:
                    seen[base] = _per_target([r for r in response.rules if _base_rule(r.name) == base])
            for rule in response.rules:
                base = _base_rule(rule.name)
                if base in migration.names and migration.names[base] not in existing:
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
