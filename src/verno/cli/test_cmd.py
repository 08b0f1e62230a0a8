"""``verno test``: run Kyverno test suites (``kyverno-test.yaml``)."""
from __future__ import annotations

import sys
from typing import Any

import click

from verno.cli.coverage import Coverage, known_kinds
from verno.cli.coverage import finish as finish_coverage
from verno.cli.gc_policy import batch_mode
from verno.cli.registry_opts import registry_options, registry_sources
from verno.cli.table import render
from verno.cli.testing import Selector, SuiteRunner, TestRow, discover, expected_rows, load_tests
from verno.core.engine import Engine
from verno.core.errors import PluginError, VernoError


@click.command("test")
@click.argument("paths", nargs=-1, required=True)
@click.option("-f", "--file-name", default="kyverno-test.yaml", show_default=True, help="Test file name to look for.")
@click.option("-t", "--test-case-selector", "selector", default="policy=*,rule=*,resource=*", show_default=True,
              help="Run only matching results.")
@click.option("--detailed-results", is_flag=True, help="Add a MESSAGE column.")
@click.option("--fail-only", is_flag=True, help="Show failing results only.")
@click.option("--require-tests", is_flag=True, help="Fail when no test file is found.")
@click.option("-o", "--output-format", "output_format", default="", help="json, yaml, markdown, junit, sarif, or a plugin's format.")
@click.option("--remove-color", is_flag=True, help="Accepted for Kyverno compatibility; output has no color.")
@click.option("--coverage", "coverage_on", is_flag=True,
              help="Report which rules the results exercise, never exercise or can never match; vacuous "
                   "expectations are errors.")
@click.option("--coverage-format", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="Format of --coverage.")
@click.option("--min-coverage", type=click.FloatRange(0, 100), default=None,
              help="Exit non-zero when fewer than PCT percent of the rules are exercised (implies --coverage).")
@registry_options
def test_command(paths: tuple[str, ...], file_name: str, selector: str, detailed_results: bool, fail_only: bool,
                 require_tests: bool, output_format: str, remove_color: bool, registry: bool = False,
                 allow_insecure_registry: bool = False, registry_ca: str | None = None,
                 docker_config: str | None = None, allow_egress: tuple[str, ...] = (), coverage_on: bool = False,
                 coverage_format: str = "table", min_coverage: float | None = None) -> None:
    """Run the Kyverno test suites found in PATHS (directories are searched recursively).

    verifyImages rules need --registry (no registry is reached unless asked).
    """
    registry_kw = click.get_current_context().with_resource(
        registry_sources(registry, allow_insecure_registry, registry_ca, docker_config, allow_egress))
    batch_mode()
    engine = Engine()
    formats = engine.output_formats.for_command("test")
    if output_format and output_format not in formats:
        raise click.BadParameter(f"unknown format {output_format!r}; available: {', '.join(sorted(formats))}",
                                 param_hint="-o/--output-format")
    # with -o, stdout holds the formatted results alone (every format, built-in or a plugin's, is read by
    # a program): progress and notices go to stderr
    echo = (lambda msg="": click.echo(msg, err=True)) if output_format else click.echo
    sel = Selector.parse(selector)
    files = discover(paths, file_name)
    if not files:
        echo("\nNo test yamls available")
        if require_tests:
            raise VernoError(f"no {file_name} found in {', '.join(paths)}")
        if output_format:
            click.echo(_formatted(engine, output_format, [], {"passed": 0, "failed": 0, "errors": 0}))
        return
    all_rows: list[TestRow] = []
    coverage = Coverage() if coverage_on or min_coverage is not None else None
    errors = 0
    for path in files:
        for index, test, error in load_tests(path):
            name = f"{path}" + (f" (document {index + 1})" if index else "")
            echo(f"Loading test  ( {name} ) ...")
            if test is None:
                echo(f"  Error: {error}")
                errors += 1
                continue
            runner = SuiteRunner(engine, path, test, sel, echo, sources=registry_kw, document=index)
            try:
                outcome = runner.run()
            except VernoError as exc:
                echo(f"  Error: {exc}")
                errors += 1
                for result, res in expected_rows(test, sel):
                    all_rows.append(TestRow(0, path, result.policy, result.rule, res, "Fail", "Test error",
                                            str(exc), result.expected, counted_as="fail",
                                            expectation=runner.expectation_of(result)))
                continue
            for notice in outcome.notices:
                echo(f"  notice: {notice}")
            rows = outcome.rows
            if coverage is not None and outcome.policy_set is not None:
                coverage.add_suite(outcome.policy_set, rows, known_kinds() | outcome.kinds)
            if rows and all(r.reason == "Excluded" for r in rows):
                echo(f"  Warning: no expectation of {name} matched any rule: every result is Excluded; "
                     "check the policy, rule and resource names")
            for row in rows:
                row.id = len(all_rows) + 1
                all_rows.append(row)
            if not output_format:
                shown = [r for r in rows if not r.ok] if fail_only else rows
                if shown:
                    echo()
                    echo(_table(shown, detailed_results))
                    echo()
    passed = sum(1 for r in all_rows if r.counted_as in ("pass", "skip"))
    failed = sum(1 for r in all_rows if r.counted_as == "fail")
    summary = {"passed": passed, "failed": failed, "errors": errors}
    if output_format:
        click.echo(_formatted(engine, output_format, all_rows, summary))
    if fail_only:
        echo(f"\nTest Summary: {failed} out of {passed + failed} tests failed")
    else:
        echo(f"\nTest Summary: {passed} tests passed and {failed} tests failed")
    if failed and not output_format:
        echo()
        echo("Aggregated Failed Test Cases : ")
        failed_rows = [r for r in all_rows if not r.ok]
        echo(_table(failed_rows, detailed_results, renumber=True))
    coverage_failed = coverage is not None and finish_coverage(coverage, coverage_format, min_coverage, echo,
                                                               bool(output_format))
    if failed or errors or coverage_failed:
        if failed:
            click.echo(f"Error: {failed} tests failed", err=True)
        elif errors:
            click.echo(f"Error: {errors} test document(s) could not be loaded", err=True)
        sys.exit(1)


def _formatted(engine: Engine, name: str, rows: list[TestRow], summary: dict[str, int]) -> str:
    """The text of output format ``name``; a plugin's failing formatter is one error line naming it."""
    entry: Any = engine.output_formats.get(f"test:{name}")
    try:
        text = entry.value(rows, summary)
    except Exception as exc:  # noqa: BLE001 - a plugin's bug, reported as one line
        raise PluginError(f"output format {name!r} of plugin {entry.plugin} failed: "
                          f"{type(exc).__name__}: {exc}") from exc
    if not isinstance(text, str):
        raise PluginError(f"output format {name!r} of plugin {entry.plugin} returned {type(text).__name__}, "
                          "not text")
    return text


def _table(rows: list[TestRow], detailed: bool, renumber: bool = False) -> str:
    headers = ["ID", "POLICY", "RULE", "RESOURCE", "RESULT", "REASON"] + (["MESSAGE"] if detailed else [])
    out = []
    for i, r in enumerate(rows, 1):
        cells = [i if renumber else r.id, r.policy, r.rule, r.resource, r.result, r.reason]
        if detailed:
            cells.append(r.message)
        out.append(cells)
    return render(headers, out)
