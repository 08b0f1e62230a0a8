"""``verno jp``: evaluate JMESPath the way policies do, and list the functions."""
from __future__ import annotations

import json
import sys

import click

from verno.core.engine import Engine
from verno.core.errors import LoadError, VernoError
from verno.core.loading import read_text
from verno.core.yamlio import iter_documents


@click.group("jp")
def jp_group() -> None:
    """JMESPath with Kyverno's functions."""


@jp_group.command("query")
@click.argument("expressions", nargs=-1)
@click.option("-i", "--input", "input_path", default="-", show_default=True, help="YAML/JSON input file, - for stdin.")
@click.option("-q", "--query-file", "query_files", multiple=True, help="Read an expression from a file.")
@click.option("-u", "--unquoted", is_flag=True, help="Print string results without quotes.")
@click.option("-c", "--compact", is_flag=True, help="Compact JSON output.")
def query(expressions: tuple[str, ...], input_path: str, query_files: tuple[str, ...], unquoted: bool,
          compact: bool) -> None:
    """Evaluate EXPRESSIONS against an input document."""
    exprs = list(expressions) + [read_text(f).strip() for f in query_files]
    if not exprs:
        raise click.UsageError("give at least one expression")
    docs = [d for _, d in iter_documents(read_text(input_path), input_path)]
    if len(docs) != 1:
        raise LoadError(input_path, f"expected one document, found {len(docs)}")
    engine = Engine()
    for expr in exprs:
        result = engine.jmespath.search(expr, docs[0])
        if unquoted and isinstance(result, str):
            click.echo(result)
        else:
            click.echo(json.dumps(result, indent=None if compact else 2, sort_keys=False))


@jp_group.command("function")
@click.argument("names", nargs=-1)
def function(names: tuple[str, ...]) -> None:
    """List custom JMESPath functions (all, or the NAMES given)."""
    engine = Engine()
    entries = sorted(engine.functions, key=lambda e: e.name)
    if names:
        entries = [e for e in entries if e.name in names]
        missing = set(names) - {e.name for e in entries}
        if missing:
            raise VernoError(f"unknown function(s): {', '.join(sorted(missing))}")
    for e in entries:
        args = e.options.get("args", ())
        arg_types = args[0] if args else []
        sig = ", ".join("|".join(t) if isinstance(t, list) else "..." for t in arg_types)
        returns = e.options.get("returns", "any")
        click.echo(f"Name: {e.name}")
        click.echo(f"  Signature: {e.name}({sig}) {returns}")
        if e.options.get("description"):
            click.echo(f"  Description: {e.options['description']}")
        click.echo(f"  Plugin: {e.plugin}")
        click.echo()


@jp_group.command("parse")
@click.argument("expressions", nargs=-1, required=True)
def parse(expressions: tuple[str, ...]) -> None:
    """Print the parsed AST of EXPRESSIONS."""
    engine = Engine()
    for expr in expressions:
        compiled = engine.jmespath.compile(expr)
        click.echo(json.dumps(getattr(compiled, "parsed", str(compiled)), indent=2, default=str))
    sys.stdout.flush()
