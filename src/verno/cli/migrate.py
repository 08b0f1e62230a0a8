"""``verno migrate POLICY...``: ClusterPolicies and Policies written as the equivalent CEL policies.

Prints YAML: for each input policy a comment naming it, a comment per rule that could not be translated
(and why), then one document per translated rule. Every document printed was loaded back by verno's own
loader for its kind; one that does not load is reported as untranslated with the loader's error, never
printed. The exit code is 0 when every rule was translated, 1 otherwise (``--allow-partial``: 0).
"""
from __future__ import annotations

import sys
from typing import Any
import click
import yaml

from verno.core.engine import Engine
from verno.core.errors import VernoError
from verno.core.loading import Document, iter_path_documents
from verno.core.migration import Migration, migrate_policy
from verno.core.migration.cleanup import is_cleanup_policy, migrate_cleanup_policy
from verno.core.policyset import no_policies_error, policy_set_from_documents

__all__ = ["migrate_command", "migrate_paths"]


def _checked(engine: Engine, migration: Migration) -> Migration:
    """Drop (and report) any document verno itself cannot load."""
    kept = []
    for doc in migration.documents:
        group = doc["apiVersion"].split("/")[0]
        kind = engine.policy_kinds.kind_of(group, doc["kind"])
        rule = next((r for r, n in migration.names.items() if n == doc["metadata"]["name"]), "")
        try:
            if kind is None:
                raise VernoError(f"verno runs no {doc['kind']} (its plugin is not installed)")
            kind.load(Document("<migrated>", 0, doc), engine)
        except VernoError as exc:
            migration.untranslated.append((rule, f"the translation does not load: {exc}"))
            migration.names.pop(rule, None)
            continue
        kept.append(doc)
    migration.documents = kept
    return migration


def migrate_paths(engine: Engine, paths: list[str]) -> tuple[Any, list[Migration]]:
    """The policy set of ``paths`` and the migration of every ClusterPolicy/Policy in it, and of every
    CleanupPolicy/ClusterCleanupPolicy (to DeletingPolicies; verno does not run those itself)."""
    documents = list(iter_path_documents(paths))
    cleanup = [d for d in documents if is_cleanup_policy(d.data)]
    policy_set = policy_set_from_documents(engine, [d for d in documents if not is_cleanup_policy(d.data)],
                                           exceptions_in_policies=True)
    if not policy_set.policies and not policy_set.kind_policies and not cleanup:
        raise no_policies_error(engine, ", ".join(paths))
    migrations = [_checked(engine, migrate_policy(engine, prepared.policy, prepared.source))
                  for prepared in policy_set.policies]
    return policy_set, migrations + [_checked(engine, migrate_cleanup_policy(d)) for d in cleanup]


def _dump(migrations: list[Migration]) -> str:
    out: list[str] = []
    for m in migrations:
        translated = len(m.names)
        total = translated + len(m.untranslated)
        out.append(f"# {m.source}: {m.policy}: {translated} of {total} rules translated")
        for rule, why in m.untranslated:
            out.append(f"# rule {rule} not translated: {why}")
        for doc in m.documents:
            out.append("---")
            out.append(yaml.safe_dump(doc, sort_keys=False, width=120).rstrip())
    return "\n".join(out) + "\n"


@click.command("migrate")
@click.argument("policies", nargs=-1, required=True)
@click.option("--allow-partial", is_flag=True, help="Exit 0 even when some rules could not be translated.")
@click.option("--check", "check_", is_flag=True,
              help="Run the original and the migrated policies over -r resources and list every difference.")
@click.option("-r", "--resource", "resources", multiple=True, help="Resources for --check (files or directories).")
@click.option("--target-resource", "target_resources", multiple=True,
              help="Existing resources mutateExisting rules patch, for --check (files or directories).")
def migrate_command(policies: tuple[str, ...], allow_partial: bool, check_: bool, resources: tuple[str, ...],
                    target_resources: tuple[str, ...]) -> None:
    """Write ClusterPolicies and Policies as the equivalent CEL policies (ValidatingPolicy,
    GeneratingPolicy ...), one per rule, saying what could not be translated and why.

    With --check -r MANIFESTS, run both over the manifests instead and list every resource whose verdict or
    generated objects differ (exit 1 when one does)."""
    engine = Engine()
    policy_set, migrations = migrate_paths(engine, list(policies))
    if check_:
        if not resources:
            raise click.UsageError("--check needs resources: -r FILE_OR_DIR")
        from verno.cli.migrate_check import check

        count, comparisons, differences = check(engine, policy_set, migrations, list(resources),
                                                list(target_resources))
        for d in differences:
            click.echo(f"{d.resource}: {d.policy}/{d.rule}: {d.original} -> {d.migrated}")
        click.echo(f"{count} resources, {comparisons} rule verdicts compared, {len(differences)} differ",
                   err=True)
        sys.exit(1 if differences else 0)
    sys.stdout.write(_dump(migrations))
    partial = any(not m.whole for m in migrations)
    translated = sum(len(m.names) for m in migrations)
    total = translated + sum(len(m.untranslated) for m in migrations)
    click.echo(f"{translated} of {total} rules translated; {sum(m.whole for m in migrations)} of "
               f"{len(migrations)} policies whole", err=True)
    if partial and not allow_partial:
        sys.exit(1)

