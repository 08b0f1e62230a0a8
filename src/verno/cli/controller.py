"""``verno controller``: generate and synchronize in a cluster, one leader among replicas."""
from __future__ import annotations

import os
import signal
import sys

import click

from verno.cli.registry_opts import EGRESS_HELP, parse_egress


@click.command("controller")
@click.option("--kubeconfig", default=None, type=click.Path(exists=True, dir_okay=False),
              help="The cluster to work in (a kubeconfig file).")
@click.option("--in-cluster", is_flag=True, help="Work in the cluster verno runs in (service account).")
@click.option("--namespace", default=None,
              help="Namespace of the controller's own objects (Lease, UpdateRequests) "
                   "[default: $POD_NAMESPACE, else verno].")
@click.option("--workers", default=4, show_default=True, type=click.IntRange(1, 256),
              help="UpdateRequests processed at once.")
@click.option("--scan-interval", default="1h", show_default=True,
              help="How often every policy is reconciled again (generateExisting) and every resource scanned again "
                   "(background scans), as a Go duration (30s, 10m, 1h).")
@click.option("--openreports", is_flag=True,
              help="Write background-scan results as openreports.io/v1alpha1 Report/ClusterReport instead of "
                   "wgpolicyk8s.io/v1alpha2 PolicyReport/ClusterPolicyReport.")
@click.option("--leader-elect/--no-leader-elect", default=True, show_default=True,
              help="Work only while holding the Lease (replicas wait as candidates).")
@click.option("--leader-election-retry-period", default="2s", show_default=True,
              help="Lease retry period (Go duration); the lease lasts 6 times and must be renewed within 5 times "
                   "this, as Kyverno derives them.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address of the health and metrics endpoints.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535),
              help="Port of /health/liveness, /health/readiness and /metrics.")
@click.option("--log-level", default="INFO", show_default=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False))
@click.option("--registry-ca", default=None, type=click.Path(exists=True, dir_okay=False),
              help="A PEM file of CA certificates trusted for registries (ImageValidatingPolicies in background "
                   "scans).")
@click.option("--allow-insecure-registry", is_flag=True, help="Plain HTTP (and unverified TLS) allowed for registries.")
@click.option("--docker-config", default=None, type=click.Path(exists=True, dir_okay=False),
              help="The docker config.json registry credentials are read from "
                   "(default: $DOCKER_CONFIG/config.json or ~/.docker/config.json).")
@click.option("--allow-egress", "allow_egress", multiple=True, metavar="CIDR|HOST", help=EGRESS_HELP)
def controller_command(kubeconfig: str | None, in_cluster: bool, namespace: str | None, workers: int,
                       scan_interval: str, openreports: bool, leader_elect: bool, leader_election_retry_period: str,
                       host: str, port: int, log_level: str, registry_ca: str | None = None,
                       allow_insecure_registry: bool = False, docker_config: str | None = None,
                       allow_egress: tuple[str, ...] = ()) -> None:
    """Create and synchronize what generate rules describe, from the webhook's UpdateRequests; scan resources
    against background policies into PolicyReports."""
    from verno.controller.controller import ControllerSettings, default_namespace, main_loop
    from verno.server import logging as jsonlog

    if bool(kubeconfig) == in_cluster:
        raise click.UsageError("give exactly one of --kubeconfig FILE or --in-cluster")
    interval = _duration(scan_interval, "--scan-interval")
    retry = _duration(leader_election_retry_period, "--leader-election-retry-period")
    settings = ControllerSettings(kubeconfig=kubeconfig, in_cluster=in_cluster,
                                  namespace=namespace or default_namespace(), workers=workers,
                                  scan_interval=interval, leader_elect=leader_elect, retry_period=retry,
                                  lease_duration=max(1, round(6 * retry)), renew_deadline=5 * retry,
                                  host=host, port=port, openreports=openreports,
                                  registry_ca=os.path.abspath(registry_ca) if registry_ca else None,
                                  allow_insecure_registry=allow_insecure_registry,
                                  docker_config=os.path.abspath(docker_config) if docker_config else None,
                                  allow_egress=list(parse_egress(allow_egress).entries))
    if registry_ca and "-----BEGIN CERTIFICATE-----" not in open(registry_ca, encoding="utf-8",
                                                                  errors="replace").read():
        raise click.BadParameter(f"{registry_ca} holds no PEM certificate", param_hint="--registry-ca")

    def started() -> None:  # the credentials were read: from here on this process is the controller
        jsonlog.setup(log_level.upper())
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    sys.exit(main_loop(settings, started))


def _duration(text: str, option: str) -> float:
    from verno.core.duration import duration_seconds

    try:
        seconds = float(duration_seconds(text))
    except Exception as exc:
        raise click.BadParameter(f"{text!r} is not a duration: {exc}", param_hint=option) from None
    if seconds <= 0:
        raise click.BadParameter(f"{text!r} must be positive", param_hint=option)
    return seconds
