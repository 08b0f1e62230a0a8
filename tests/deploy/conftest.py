"""Rendering the Helm chart in tests, with Helm's own template engine.

helm itself is not installed here; the ``helm-python-sdk`` wheel carries Helm's Go SDK (the same engine,
sprig functions and ``crds/`` handling as ``helm template``), so the chart is rendered exactly as Helm
would render it. ``render(values, ...)`` returns the manifests (CRDs first, as ``helm install`` applies
them) as parsed documents.
"""
from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "verno"
#: the oldest Kubernetes the chart supports (Chart.yaml kubeVersion) and the newest schema shipped
K8S_VERSIONS = ("1.27.0", "1.37.0")

helm = pytest.importorskip("helm_python", reason="Helm's engine (helm-python-sdk) has no wheel for this platform")
kubernetes_validate = pytest.importorskip("kubernetes_validate")


@dataclass(frozen=True)
class Certs:
    ca: bytes
    cert: str
    key: str

    @property
    def ca_bundle(self) -> str:
        return base64.b64encode(self.ca).decode("ascii")


@pytest.fixture(scope="session")
def certs(tmp_path_factory) -> Certs:
    """Certificates made with ``verno certs``, as a user would before installing."""
    from click.testing import CliRunner

    from verno.cli.main import cli

    out = tmp_path_factory.mktemp("chart-certs")
    result = CliRunner().invoke(cli, ["certs", "--service", "verno", "--namespace", "verno-system",
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    return Certs((out / "ca.crt").read_bytes(), (out / "tls.crt").read_text(), (out / "tls.key").read_text())


def merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def render_chart(values: dict[str, Any] | None = None, *, release: str = "verno",
                 namespace: str = "verno-system") -> list[dict[str, Any]]:
    """The chart's manifests for ``values`` (CRDs first), empty documents dropped."""
    docs: list[dict[str, Any]] = []
    with helm.Chart.load(str(CHART)) as chart:
        for crd in sorted(chart.crds, key=lambda c: c["name"]):
            docs.extend(d for d in yaml.safe_load_all(crd["data"]) if d)
        rendered = chart.render(values or {}, name=release, namespace=namespace, is_install=True)
    for name in sorted(rendered):
        if name.endswith((".yaml", ".yml")):
            docs.extend(d for d in yaml.safe_load_all(rendered[name]) if d)
    return docs


@pytest.fixture
def render(certs) -> Callable[..., list[dict[str, Any]]]:
    """``render(values=None, release=..., namespace=...)`` with the certificates filled in."""
    def _render(values: dict[str, Any] | None = None, **kw: Any) -> list[dict[str, Any]]:
        base = {"webhooks": {"caBundle": certs.ca_bundle}, "tls": {"cert": certs.cert, "key": certs.key}}
        return render_chart(merge(base, values or {}), **kw)
    return _render


def validate_all(docs: list[dict[str, Any]]) -> None:
    """Every document against the Kubernetes OpenAPI schemas (strict: no unknown fields)."""
    assert docs
    for doc in docs:
        for version in K8S_VERSIONS:
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                raise AssertionError(f"{doc['kind']}/{doc['metadata'].get('name')} invalid for "
                                     f"Kubernetes {version}: {exc.message}") from None


@pytest.fixture
def validate() -> Callable[[list[dict[str, Any]]], None]:
    return validate_all


@pytest.fixture
def chart_dir() -> Path:
    return CHART
