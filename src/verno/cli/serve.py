"""``verno serve``: the admission webhook server (HTTPS; /mutate, /validate, health, metrics)."""
from __future__ import annotations

import os

import click

from verno.cli.registry_opts import EGRESS_HELP, parse_egress


@click.command("serve")
@click.option("--policies", "policies", multiple=True, help="Policy file or directory (repeatable); reloaded on change.")
@click.option("--tls-cert", required=True, type=click.Path(exists=True, dir_okay=False), help="Serving certificate (PEM).")
@click.option("--tls-key", required=True, type=click.Path(exists=True, dir_okay=False), help="Private key (PEM).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=9443, show_default=True, type=click.IntRange(0, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64), help="Worker processes.")
@click.option("--timeout", default=8.0, show_default=True, type=click.FloatRange(0.05, 30),
              help="Seconds within which every admission request is answered.")
@click.option("--kubeconfig", default=None, type=click.Path(exists=True, dir_okay=False),
              help="Watch policies, exceptions and namespaces in this cluster instead of reading files.")
@click.option("--in-cluster", is_flag=True, help="Watch the cluster verno runs in (service account).")
@click.option("--exclude-namespace", "exclude_namespaces", multiple=True,
              help="Namespace never evaluated (repeatable; replaces the default: kube-system and verno's own).")
@click.option("--threads", default=4, show_default=True, type=click.IntRange(1, 256),
              help="Not used any more (evaluations run in --evaluators processes); accepted so existing "
                   "command lines keep working.")
@click.option("--log-level", default="INFO", show_default=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False))
@click.option("--registry-ca", default=None, type=click.Path(exists=True, dir_okay=False),
              help="verifyImages: a PEM file of CA certificates trusted for image registries.")
@click.option("--allow-insecure-registry", is_flag=True,
              help="verifyImages: plain HTTP (and unverified TLS) allowed for every registry.")
@click.option("--docker-config", default=None, type=click.Path(exists=True, dir_okay=False),
              help="verifyImages: registry credentials from this docker config.json "
                   "(default: $DOCKER_CONFIG/config.json or ~/.docker/config.json).")
@click.option("--allow-egress", "allow_egress", multiple=True, metavar="CIDR|HOST",
              help=EGRESS_HELP)
# -- connection limits and evaluation processes -------------------------------------------------------
@click.option("--evaluators", default=2, show_default=True, type=click.IntRange(1, 64),
              help="Evaluation processes per worker: requests evaluated at once. One whose evaluation passes "
                   "--timeout is stopped and replaced.")
@click.option("--header-timeout", default=10.0, show_default=True, type=click.FloatRange(0.5, 300),
              help="Seconds for a TLS handshake, and for a request's line and headers to arrive.")
@click.option("--keepalive-timeout", default=30.0, show_default=True, type=click.FloatRange(0.5, 3600),
              help="Seconds an idle kept-alive connection stays open.")
@click.option("--max-connections", default=2000, show_default=True, type=click.IntRange(0, 1_000_000),
              help="Open connections per worker; more are closed at once (0: no cap).")
@click.option("--max-connections-per-client", default=1000, show_default=True, type=click.IntRange(0, 1_000_000),
              help="Open connections per worker from one client address (0: no cap).")
@click.option("--controller-username", default=None,
              help="The user verno controller's requests come as (default: system:serviceaccount:<namespace>:"
                   "verno-controller); generate rules with skipBackgroundRequests (the default) ignore its requests.")
@click.option("--explain-denials/--no-explain-denials", default=False, show_default=True,
              help="Append the blocking rules' decision traces (match, conditions, pattern path with expected and "
                   "found values, CEL values) to a denial's message, after Kyverno's text.")
def serve_command(policies: tuple[str, ...], tls_cert: str, tls_key: str, host: str, port: int, workers: int,
                  timeout: float, kubeconfig: str | None, in_cluster: bool, exclude_namespaces: tuple[str, ...],
                  threads: int, log_level: str, registry_ca: str | None = None, allow_insecure_registry: bool = False,
                  docker_config: str | None = None, evaluators: int = 2, header_timeout: float = 10.0,
                  keepalive_timeout: float = 30.0, max_connections: int = 2000,
                  max_connections_per_client: int = 1000,
                  allow_egress: tuple[str, ...] = (), controller_username: str | None = None,
                  explain_denials: bool = False) -> None:
    """Serve Kyverno policies as a Kubernetes admission webhook."""
    from verno.server import logging as jsonlog
    from verno.server.settings import ENV, Settings, default_excluded_namespaces
    from verno.server.connections import Protocol
    from verno.server.tls import Config

    if kubeconfig and in_cluster:
        raise click.UsageError("give --kubeconfig or --in-cluster, not both")
    if not policies and not (kubeconfig or in_cluster):
        raise click.UsageError("give --policies PATH, or --kubeconfig/--in-cluster to watch a cluster")
    if policies and (kubeconfig or in_cluster):
        raise click.UsageError("--policies and cluster mode are exclusive")
    from verno.core.loading import expand_paths

    expand_paths(policies)  # a missing path fails now, as one line
    egress = parse_egress(allow_egress)
    excluded = list(exclude_namespaces) if exclude_namespaces else default_excluded_namespaces()
    if registry_ca and "-----BEGIN CERTIFICATE-----" not in open(registry_ca, encoding="utf-8", errors="replace").read():
        raise click.BadParameter(f"{registry_ca} holds no PEM certificate", param_hint="--registry-ca")
    settings = Settings(list(policies), timeout, excluded, kubeconfig, in_cluster, log_level.upper(), threads,
                        registry_ca=os.path.abspath(registry_ca) if registry_ca else None,
                        allow_insecure_registry=allow_insecure_registry,
                        docker_config=os.path.abspath(docker_config) if docker_config else None,
                        allow_egress=list(egress.entries))
    settings.evaluators, settings.header_timeout, settings.keepalive_timeout = evaluators, header_timeout, keepalive_timeout
    settings.max_connections, settings.max_connections_per_client = max_connections, max_connections_per_client
    settings.controller_username = controller_username or ""
    settings.explain_denials = explain_denials
    os.environ[ENV] = settings.to_env()
    jsonlog.setup(settings.log_level)
    config = Config(
        "verno.server.app:create_app", factory=True, host=host, port=port, workers=workers,
        ssl_certfile=tls_cert, ssl_keyfile=tls_key, http=Protocol, loop="verno.server.connections:new_loop",
        lifespan="on", log_config=jsonlog.log_config(settings.log_level), access_log=False, server_header=False,
        date_header=False, timeout_keep_alive=keepalive_timeout, timeout_graceful_shutdown=int(timeout) + 5,
    )
    from verno.server.runner import Server

    server = Server(config)
    if workers > 1:
        import inspect

        from uvicorn.supervisors import Multiprocess

        sock = config.bind_socket()
        if "target" in inspect.signature(Multiprocess.__init__).parameters:  # uvicorn < 0.31
            Multiprocess(config, target=server.run, sockets=[sock]).run()  # type: ignore[call-arg]
        else:
            Multiprocess(config, sockets=[sock]).run()
    else:
        server.run()
    if not server.started and workers == 1:
        raise SystemExit(3)
