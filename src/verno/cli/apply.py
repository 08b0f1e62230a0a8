"""``verno apply``: policies against resources, with Kyverno's output, counts and exit codes."""
from __future__ import annotations

import json
import sys
from typing import Any

import click
import yaml

from verno.cli.gc_policy import batch_mode, keep_for_run
from verno.cli.mutated_output import MutationOutput
from verno.cli.progress import Progress
from verno.cli.registry_opts import registry_notice, registry_options, registry_sources
from verno.cli.report import Counts, policy_reports, report_result
from verno.cli.session import (
    ResourceFiles,
    Session,
    iter_resources,
    load_userinfo,
    load_values,
    merge_values,
    parse_set,
    resource_label,
)
from verno.cli.table import render
from verno.core.engine import Engine
from verno.core.policyset import load_policy_set
from verno.core.results import Status


@click.command("apply")
@click.argument("policies", nargs=-1, required=True)
@click.option("-r", "--resource", "--resources", "resources", multiple=True, help="Resource file or directory (repeatable); - for stdin.")
@click.option("--target-resource", "--target-resources", "target_resources", multiple=True,
              help="Target resource file or directory for mutateExisting rules (repeatable).")
@click.option("-o", "--output", "output", default="",
              help="Write mutated and generated resources to a file, or to a directory (one file each).")
@click.option("-f", "--values-file", "values_file", default="", help="Values file (kind: Values).")
@click.option("-s", "--set", "set_values", multiple=True, help="Variables: key=value,key2=value2.")
@click.option("-u", "--userinfo", "userinfo", default="", help="UserInfo file (roles, clusterRoles, subjects).")
@click.option("-e", "--exception", "--exceptions", "exceptions", multiple=True, help="PolicyException file (repeatable).")
@click.option("--audit-warn", is_flag=True, help="Report failures of Audit rules as warnings.")
@click.option("--warn-exit-code", type=int, default=0, help="Exit code when there are warnings and no failures.")
@click.option("--warn-no-pass", is_flag=True, help="Use --warn-exit-code when nothing passed.")
@click.option("-p", "--policy-report", "policy_report", is_flag=True, help="Print PolicyReports instead of text.")
@click.option("--output-format", type=click.Choice(["yaml", "json"]), default="yaml", help="Format of -p reports.")
@click.option("-t", "--table", "table", is_flag=True, help="Print results as a table.")
@click.option("--detailed-results", is_flag=True, help="Add messages to the table.")
@click.option("--remove-color", is_flag=True, help="Accepted for Kyverno compatibility; output has no color.")
@registry_options
def apply_command(policies: tuple[str, ...], resources: tuple[str, ...], values_file: str,
                  set_values: tuple[str, ...], userinfo: str, exceptions: tuple[str, ...], audit_warn: bool,
                  warn_exit_code: int, warn_no_pass: bool, policy_report: bool, output_format: str, table: bool,
                  detailed_results: bool, remove_color: bool, target_resources: tuple[str, ...] = (),
                  output: str = "", registry: bool = False, allow_insecure_registry: bool = False,
                  registry_ca: str | None = None, docker_config: str | None = None) -> None:
    """Apply POLICIES (files or directories) to resources.

    verifyImages rules need --registry: verno reaches no registry unless asked, so that CI runs never
    go to the network silently (Kyverno's CLI always does).
    """
    if not resources:
        raise click.UsageError("give resources with -r/--resource")
    batch_mode()
    registry_kw = click.get_current_context().with_resource(
        registry_sources(registry, allow_insecure_registry, registry_ca, docker_config))
    engine = Engine()
    policy_set = load_policy_set(engine, policies, exceptions)
    for notice in policy_set.notices:
        click.echo(f"notice: {notice}", err=True)
    engine.require_handlers(policy_set.policies)
    notice = registry_notice(policy_set.policies, registry)
    if notice:
        click.echo(f"notice: {notice}", err=True)
    values = merge_values(load_values(values_file) if values_file else None, None, parse_set(set_values))
    targets = [d.data for d in iter_resources(target_resources)] if target_resources else []
    session = Session.build(values, load_userinfo(userinfo) if userinfo else None, cluster_resources=targets,
                            **registry_kw)
    quiet = policy_report or table
    docs = ResourceFiles(resources)  # counted first, then read and evaluated one document at a time
    total = docs.count()
    keep_for_run()  # plugins, policies and held documents
    if not quiet:
        extra = f" with {len(policy_set.exceptions)} exception(s)" if policy_set.exceptions else ""
        click.echo(f"\nApplying {policy_set.rule_count} policy rule(s) to {total} resource(s){extra}...")

    counts = Counts()
    all_responses = []
    rows: list[list[Any]] = []
    progress = Progress("resources", total)
    mutation_output = None if quiet else MutationOutput(lambda text: click.echo(text, nl=False), output)
    for doc in docs:
        responses = session.evaluate(engine, policy_set.policies, doc.data, exceptions=policy_set.exceptions)
        progress.advance()
        if mutation_output is not None:
            mutation_output.policy_responses(responses, _resource_path(doc.data), _name_of(doc.data))
        for response in responses:
            if not response.rules:
                continue
            failed: list[str] = []
            for rule in response.rules:
                result = report_result(response, rule, audit_warn)
                counts.add(result)
                if table:
                    row = [len(rows) + 1, response.policy.key, rule.name, resource_label(response.resource), result]
                    rows.append(row + [rule.message] if detailed_results else row)
                if rule.status == Status.FAIL:
                    failed.append(f"{len(failed) + 1} - {rule.name} {rule.message}")
            if failed and not quiet:
                warn = audit_warn and all(report_result(response, r, True) == "warn"
                                          for r in response.rules if r.status == Status.FAIL)
                how = "failed as audit warning" if warn else "failed"
                click.echo(f"\npolicy {response.policy.key} -> resource {resource_label(response.resource)} {how}:")
                for line in failed:
                    click.echo(line)
        if policy_report:
            all_responses.extend(responses)
    progress.close()

    if policy_report:
        reports = policy_reports(all_responses, audit_warn)
        if output_format == "json":
            click.echo(json.dumps(reports[0] if len(reports) == 1 else reports, indent=2))
        else:
            click.echo("---\n".join(yaml.safe_dump(r, sort_keys=False) for r in reports), nl=False)
    elif table:
        headers = ["ID", "POLICY", "RULE", "RESOURCE", "RESULT"] + (["MESSAGE"] if detailed_results else [])
        click.echo(render(headers, rows))
    else:
        click.echo(f"\n{counts.line()}")
    sys.exit(exit_code(counts, warn_exit_code, warn_no_pass))


def _resource_path(resource: dict[str, Any]) -> str:
    """``<ns>/<Kind>/<name>`` as Kyverno prints the resource a policy was applied to."""
    meta = resource.get("metadata") or {}
    return f"{meta.get('namespace') or ''}/{resource.get('kind') or ''}/{meta.get('name') or ''}"


def _name_of(resource: dict[str, Any]) -> str:
    return str((resource.get("metadata") or {}).get("name") or "")


def exit_code(counts: Counts, warn_exit_code: int, warn_no_pass: bool) -> int:
    """Kyverno's exit codes: 1 on failures or errors, else the warn code where asked."""
    if counts.fail or counts.error:
        return 1
    if counts.warn and warn_exit_code:
        return warn_exit_code
    if warn_no_pass and counts.pass_ == 0:
        return warn_exit_code
    return 0
