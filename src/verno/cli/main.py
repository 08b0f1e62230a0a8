"""Entry point of the ``verno`` command. Every user-facing error is one line and exit code 1."""
from __future__ import annotations

import importlib
import io
import os
import sys
import traceback

import click

from verno import __version__
from verno.core.errors import VernoError


#: command name -> "module:attribute"; a command's module is imported only when that command runs
#: (or when help lists them all), so ``verno apply`` does not load the webhook or certificate code.
COMMANDS = {
    "apply": "verno.cli.apply:apply_command",
    "test": "verno.cli.test_cmd:test_command",
    "diff": "verno.cli.diff:diff_command",
    "fix": "verno.cli.fix:fix_command",
    "jp": "verno.cli.jp:jp_group",
    "plugins": "verno.cli.plugins_cmd:plugins_command",
    "serve": "verno.cli.serve:serve_command",
    "controller": "verno.cli.controller:controller_command",
    "webhook-config": "verno.cli.webhookconfig:webhook_config_command",
    "certs": "verno.cli.certs:certs_command",
    "migrate": "verno.cli.migrate:migrate_command",
}


def tolerate_unencodable_output() -> None:
    """Text that cannot be encoded (a lone surrogate a JSON or JMESPath escape produced in a value or an
    error message) is printed as a backslash escape, never an encoding error that hides the result."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="backslashreplace")


class VernoGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None and cmd_name in COMMANDS:
            module, attr = COMMANDS[cmd_name].split(":")
            command = getattr(importlib.import_module(module), attr)
            self.add_command(command, cmd_name)
        return command

    def invoke(self, ctx: click.Context):
        tolerate_unencodable_output()
        try:
            return super().invoke(ctx)
        except VernoError as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(1)
        except RecursionError:
            click.echo("Error: input nested too deeply to evaluate", err=True)
            ctx.exit(1)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException, SystemExit):
            raise
        except BrokenPipeError:
            ctx.exit(1)
        except Exception as exc:  # a bug: one line for the user, the traceback on request
            if os.environ.get("VERNO_DEBUG"):
                traceback.print_exc()
            click.echo(f"Error: internal error: {type(exc).__name__}: {exc} (set VERNO_DEBUG=1 for details)",
                       err=True)
            ctx.exit(1)


@click.group(cls=VernoGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="verno")
def cli() -> None:
    """Run Kyverno policies: offline against manifests, in tests, or as an admission webhook."""


def main() -> None:
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 4000))
    cli(prog_name="verno")


if __name__ == "__main__":  # pragma: no cover
    main()
