"""``verno plugins``: what is loaded and what each plugin registered."""
from __future__ import annotations

import json

import click

from verno.core.engine import Engine


@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def plugins_command(as_json: bool) -> None:
    """List loaded plugins, the hooks they implement and what they registered."""
    summary = Engine().plugin_summary()
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    for entry in summary:
        click.echo(f"{entry['name']} ({entry['module']})")
        if entry["hooks"]:
            click.echo(f"  hooks: {', '.join(entry['hooks'])}")
        for key, label in (("operators", "operators"), ("functions", "JMESPath functions"),
                           ("context_loaders", "context loaders"),
                           ("predicate_checkers", "predicate checkers"), ("output_formats", "output formats")):
            if entry[key]:
                click.echo(f"  {label} ({len(entry[key])}): {', '.join(entry[key])}")
