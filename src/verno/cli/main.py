"""Entry point of the ``verno`` command. Every user-facing error is one line and exit code 1."""
from __future__ import annotations

import os
import sys
import traceback

import click

from verno import __version__
from verno.core.errors import VernoError


class VernoGroup(click.Group):
    def invoke(self, ctx: click.Context):
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


def _register() -> None:
    from verno.cli.apply import apply_command
    from verno.cli.certs import certs_command
    from verno.cli.jp import jp_group
    from verno.cli.plugins_cmd import plugins_command
    from verno.cli.serve import serve_command
    from verno.cli.test_cmd import test_command
    from verno.cli.webhookconfig import webhook_config_command

    cli.add_command(apply_command)
    cli.add_command(test_command)
    cli.add_command(jp_group)
    cli.add_command(plugins_command)
    cli.add_command(serve_command)
    cli.add_command(webhook_config_command)
    cli.add_command(certs_command)


_register()


def main() -> None:
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 4000))
    cli(prog_name="verno")


if __name__ == "__main__":  # pragma: no cover
    main()
