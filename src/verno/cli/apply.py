"""``verno apply``: policies against resources, with Kyverno's output, counts and exit codes."""
from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any, Callable

import click
from click.core import ParameterSource

from verno.cli.apply_run import Evaluation, outcomes, worker_count
from verno.cli.formats import join_lines
from verno.cli.gc_policy import batch_mode, keep_for_run
from verno.cli.progress import Progress
from verno.cli.registry_opts import registry_notice, registry_options, registry_sources
from verno.cli.report import Counts, policy_reports
from verno.cli.session import (
    ResourceFiles,
    Session,
    iter_resources,
    load_userinfo,
    load_values,
    merge_values,
    namespace_objects,
    parse_set,
)
from verno.cli.table import render
from verno.core.engine import Engine
from verno.core.errors import PluginError
from verno.core.policykinds import KindInputs
from verno.core.loading import iter_path_documents
from verno.core.policyset import PolicySet, add_documents, load_policy_set

if TYPE_CHECKING:  # pragma: no cover
    from verno.cli.apply_cluster import Cluster, HeldResources


@click.command("apply")
@click.argument("policies", nargs=-1)
@click.option("-r", "--resource", "--resources", "resources", multiple=True,
              help="Resource file or directory (repeatable); - for stdin. With --cluster: a resource name.")
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
@click.option("--output-format", default="yaml", show_default=True,
              help="Format of -p reports: yaml, json; sarif (a SARIF 2.1.0 log, without -p); or a plugin's format.")
@click.option("-t", "--table", "table", is_flag=True, help="Print results as a table.")
@click.option("--detailed-results", is_flag=True, help="Add messages to the table.")
@click.option("--remove-color", is_flag=True, help="Accepted for Kyverno compatibility; output has no color.")
@click.option("--explain", is_flag=True,
              help="Show each rule's decision trace: as text, as JSON with --output-format json, or as the "
                   "verno.io/explain property of -p reports.")
@click.option("-c", "--cluster", "cluster", is_flag=True,
              help="Apply to the resources in the cluster of the kubeconfig's current context (with no POLICIES: "
                   "the cluster's own policies).")
@click.option("--kubeconfig", "kubeconfig", default=None, type=click.Path(dir_okay=False),
              help="With --cluster: the kubeconfig file (default: $KUBECONFIG or ~/.kube/config).")
@click.option("--context", "kube_context", default=None, help="With --cluster: the kubeconfig context to use.")
@click.option("-n", "--namespace", "namespace", default="",
              help="With --cluster: only resources (and Policies) of this namespace.")
@click.option("--cluster-wide-resources", "cluster_wide", is_flag=True,
              help="With --cluster and -n: also apply to cluster-scoped resources.")
@registry_options
def apply_command(policies: tuple[str, ...], resources: tuple[str, ...], values_file: str,
                  set_values: tuple[str, ...], userinfo: str, exceptions: tuple[str, ...], audit_warn: bool,
                  warn_exit_code: int, warn_no_pass: bool, policy_report: bool, output_format: str, table: bool,
                  detailed_results: bool, remove_color: bool, target_resources: tuple[str, ...] = (),
                  output: str = "", registry: bool = False, allow_insecure_registry: bool = False,
                  registry_ca: str | None = None, docker_config: str | None = None,
                  allow_egress: tuple[str, ...] = (), explain: bool = False, cluster: bool = False,
                  kubeconfig: str | None = None, kube_context: str | None = None, namespace: str = "",
                  cluster_wide: bool = False) -> None:
    """Apply POLICIES (files or directories) to resources.

    verifyImages rules need --registry: verno reaches no registry unless asked, so that CI runs never
    go to the network silently (Kyverno's CLI always does).
    """
    _check_arguments(policies, resources, cluster, kubeconfig, kube_context, namespace, cluster_wide)
    batch_mode()
    registry_kw = click.get_current_context().with_resource(
        registry_sources(registry, allow_insecure_registry, registry_ca, docker_config, allow_egress))
    engine = Engine()
    report_format, whole_run = _report_format(engine, output_format, policy_report)
    policy_report = policy_report or whole_run  # a format of the whole run (SARIF) is the output by itself
    explain_mode = _explain_mode(explain, policy_report, table, output_format)
    live: Cluster | None = None
    if cluster:  # the kubernetes client is loaded only for a cluster
        from verno.cli.apply_cluster import Cluster, HeldResources

        live = Cluster.connect(kubeconfig, kube_context)
    if live is not None and not policies:
        policy_set = _cluster_policy_set(engine, live, namespace, exceptions)
    else:
        policy_set = load_policy_set(engine, policies, exceptions)
    engine.require_handlers(policy_set.policies)
    notice = registry_notice(policy_set.policies, registry)
    if notice:
        click.echo(f"notice: {notice}", err=True)
    values = merge_values(load_values(values_file) if values_file else None, None, parse_set(set_values))
    targets = [d.data for d in iter_resources(target_resources)] if target_resources else []
    session = Session.build(values, load_userinfo(userinfo) if userinfo else None, cluster_resources=targets,
                            **registry_kw)
    namespaces = namespace_objects(values)
    quiet = policy_report or table or explain_mode == "json"
    docs: ResourceFiles | HeldResources
    if live is not None:
        docs = HeldResources(live.resources(policy_set, namespace, cluster_wide, resources), live.where)
        namespaces = _with_cluster(live, session, namespace, namespaces)
    else:
        docs = ResourceFiles(resources)  # counted first, then read and evaluated one document at a time
    total = docs.count()
    keep_for_run()  # plugins, policies and held documents
    if not quiet:
        extra = f" with {len(policy_set.exceptions)} exception(s)" if policy_set.exceptions else ""
        click.echo(f"\nApplying {policy_set.rule_count + len(policy_set.kind_policies)} policy rule(s) to {total} resource(s){extra}...")

    kind_inputs = KindInputs(session.sources, policy_set.companions, namespaces=namespaces, engine=engine)
    evaluation = Evaluation(session, engine, policy_set.policies, policy_set.exceptions, audit_warn, quiet, table,
                            detailed_results, policy_report, output, policy_set.kind_policies, kind_inputs,
                            explain=explain_mode)
    workers = worker_count(evaluation, total)
    if live is not None and workers > 1:
        live.before_fork()
    counts = Counts()
    all_responses = []
    sources: list[tuple[str, int] | None] = []  # where each response's resource was read from
    rows: list[list[Any]] = []
    explained: list[dict[str, Any]] = []
    progress = Progress("resources", total)
    for outcome in outcomes(evaluation, docs, workers):
        progress.advance()
        for text, newline in outcome.echoes:
            click.echo(text, nl=newline)
        for result in outcome.results:
            counts.add(result)
        for row in outcome.rows:
            rows.append([len(rows) + 1, *row])
        all_responses.extend(outcome.responses)
        explained.extend(outcome.explained)
        sources.extend([outcome.source] * len(outcome.responses))
    progress.close()

    if policy_report:
        assert report_format is not None
        click.echo(report_format(all_responses, sources, audit_warn), nl=False)
    elif explain_mode == "json":
        click.echo(json.dumps({"results": explained, "summary": counts.as_dict()}, indent=2, ensure_ascii=False))
    elif table:
        headers = ["ID", "POLICY", "RULE", "RESOURCE", "RESULT"] + (["MESSAGE"] if detailed_results else [])
        click.echo(render(headers, rows))
    else:
        click.echo(f"\n{counts.line()}")
    sys.exit(exit_code(counts, warn_exit_code, warn_no_pass))


def _check_arguments(policies: tuple[str, ...], resources: tuple[str, ...], cluster: bool, kubeconfig: str | None,
                     kube_context: str | None, namespace: str, cluster_wide: bool) -> None:
    if cluster:
        if namespace and "/" in namespace:
            raise click.BadParameter(f"{namespace!r} is not a namespace name", param_hint="-n/--namespace")
        return
    for flag, given in (("--kubeconfig", kubeconfig), ("--context", kube_context), ("-n/--namespace", namespace),
                        ("--cluster-wide-resources", cluster_wide)):
        if given:
            raise click.UsageError(f"{flag} needs --cluster")
    if not policies:
        raise click.UsageError("require policy: give policy files or directories (or --cluster to apply the "
                               "cluster's own policies to its resources)")
    if not resources:
        raise click.UsageError("give resources with -r/--resource (or --cluster to apply to the cluster's "
                               "resources)")


def _cluster_policy_set(engine: Engine, live: Cluster, namespace: str, exceptions: tuple[str, ...]) -> PolicySet:
    """The cluster's own policies and exceptions, with the exception files given."""
    from verno.cli.apply_cluster import ClusterError

    policy_set = add_documents(engine, PolicySet(), live.policy_documents(engine, namespace))
    if not policy_set.policies and not policy_set.kind_policies:
        where = f" in namespace {namespace} or cluster-wide" if namespace else ""
        raise ClusterError(f"no policies found{where} in the cluster at {live.where}: expected "
                           f"{', '.join(['kyverno.io ClusterPolicy', 'Policy', *sorted(engine.policy_kinds.names())])}"
                           " objects; give policy files, or create policies in the cluster")
    return add_documents(engine, policy_set, iter_path_documents(exceptions), policies=False)


def _with_cluster(live: Cluster, session: Session, namespace: str,
                  given: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The cluster's Namespaces (labels for namespaceSelector, objects for ``namespaceObject``) and its API
    for context lookups, added to the session; what a Values file gives for a namespace wins."""
    found = live.namespaces(namespace)
    labels = {name: dict((obj.get("metadata") or {}).get("labels") or {}) for name, obj in found.items()}
    session.namespace_labels = {**labels, **session.namespace_labels}
    client = live.data_source()
    session.sources.cluster = client
    from verno.core.cel.cluster_data import ClusterCelData

    session.sources.cel_data = ClusterCelData(client, egress=session.sources.egress,
                                              egress_timeout=session.sources.egress_timeout,
                                              registry_client=session.sources.registry_client)
    return {**found, **given}


def _report_format(engine: Engine, name: str, policy_report: bool) -> tuple[Callable[..., str] | None, bool]:
    """The ``--output-format`` of ``-p`` reports, from the formats registered for apply: ``(responses, their
    sources, audit_warn) -> text``, and whether it is a format of the whole run (registered with
    ``reads="responses"``: given ``(source, response)`` pairs rather than PolicyReports, printed without -p)."""
    explicit = click.get_current_context().get_parameter_source("output_format") != ParameterSource.DEFAULT
    if not policy_report and not explicit:
        return None, False
    entry = engine.output_formats.get(f"apply:{name}")
    if entry is None:
        available = ", ".join(sorted(engine.output_formats.for_command("apply"))) or "none (is the output-formats " \
            "plugin disabled by VERNO_DISABLE_PLUGINS?)"
        raise click.BadParameter(f"unknown format {name!r}; available: {available}", param_hint="--output-format")
    formatter = entry.value
    join = entry.options.get("join") or join_lines
    whole_run = entry.options.get("reads") == "responses"

    def render_reports(responses: list[Any], sources: list[Any], audit_warn: bool) -> str:
        texts = []
        inputs = [list(zip(sources, responses))] if whole_run else policy_reports(responses, audit_warn)
        for report in inputs:
            try:
                text = formatter(report, audit_warn) if whole_run else formatter(report)
            except Exception as exc:  # noqa: BLE001 - a plugin's bug, reported as one line naming it
                raise PluginError(f"output format {name!r} of plugin {entry.plugin} failed: "
                                  f"{type(exc).__name__}: {exc}") from exc
            if not isinstance(text, str):
                raise PluginError(f"output format {name!r} of plugin {entry.plugin} returned "
                                  f"{type(text).__name__}, not text")
            texts.append(text)
        return join_lines(texts) if len(texts) == 1 else join(texts)

    return render_reports, whole_run


def _explain_mode(explain: bool, policy_report: bool, table: bool, output_format: str) -> str:
    """Where ``--explain`` puts the traces: "report" (-p), "json" (--output-format json), "text"; "" for none."""
    if not explain:
        return ""
    if policy_report:
        return "report"
    if table:
        raise click.UsageError("--explain cannot be shown in a table: drop -t, or add --output-format json or -p")
    if click.get_current_context().get_parameter_source("output_format") == ParameterSource.DEFAULT:
        return "text"
    if output_format != "json":
        raise click.BadParameter(f"--explain without -p is shown as text or as json, not {output_format!r}",
                                 param_hint="--output-format")
    return "json"


def exit_code(counts: Counts, warn_exit_code: int, warn_no_pass: bool) -> int:
    """Kyverno's exit codes: 1 on failures or errors, else the warn code where asked."""
    if counts.fail or counts.error:
        return 1
    if counts.warn and warn_exit_code:
        return warn_exit_code
    if warn_no_pass and counts.pass_ == 0:
        return warn_exit_code
    return 0
