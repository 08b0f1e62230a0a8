"""The chart's values.schema.json, NOTES.txt, the optional cert-manager Certificate and the optional
ServiceMonitors, rendered with Helm's engine."""
from __future__ import annotations

import json
import re
from typing import Any

import jsonschema
import pytest
import yaml

helm_python = pytest.importorskip("helm_python", reason="Helm's engine (helm-python-sdk) has no wheel here")

from tests.deploy.conftest import CHART, merge, render_chart  # noqa: E402

SCHEMA = json.loads((CHART / "values.schema.json").read_text())
VALUES = yaml.safe_load((CHART / "values.yaml").read_text())
CUSTOM_KINDS = ("cert-manager.io/v1", "monitoring.coreos.com/v1")


def builtin(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The documents the Kubernetes schemas know (cert-manager's and the Prometheus Operator's are CRs)."""
    return [d for d in docs if d["apiVersion"] not in CUSTOM_KINDS]


def kinds(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def named(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    (found,) = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    return found


def notes(values: dict[str, Any]) -> str:
    base = {"webhooks": {"caBundle": "Y2E="}, "tls": {"cert": "c", "key": "k"}}
    with helm_python.Chart.load(str(CHART)) as chart:
        rendered = chart.render(merge(base, values), name="verno", namespace="verno-system", is_install=True)
    return rendered["verno/templates/NOTES.txt"]


# -- values.schema.json ---------------------------------------------------------------------------------

def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = SCHEMA["definitions"][node["$ref"].rsplit("/", 1)[1]]
    return node


def _schema_at(path: list[str]) -> dict[str, Any] | None:
    node = SCHEMA
    for key in path:
        node = _resolve(node)
        props = node.get("properties") or {}
        if key in props:
            node = props[key]
        elif isinstance(node.get("additionalProperties"), dict):
            node = node["additionalProperties"]
        elif node.get("type") == "object" and "properties" not in node:
            return node  # an open object (a Kubernetes type): what is under it is not the chart's
        else:
            return None
    return _resolve(node)


def _value_paths(value: Any, path: list[str]) -> list[list[str]]:
    if isinstance(value, dict) and value:
        return [p for k, v in value.items() for p in _value_paths(v, [*path, k])]
    return [path]


def test_the_schema_is_draft7_and_the_defaults_pass_it():
    jsonschema.Draft7Validator.check_schema(SCHEMA)
    assert list(jsonschema.Draft7Validator(SCHEMA).iter_errors(VALUES)) == []


def test_every_value_and_every_value_a_template_reads_is_in_the_schema():
    missing = [".".join(p) for p in _value_paths(VALUES, []) if _schema_at(p) is None]
    assert missing == []
    read = set()
    for template in (CHART / "templates").iterdir():
        text = template.read_text()
        read |= {m for m in re.findall(r"\.Values((?:\.[A-Za-z0-9_]+)+)", text)}
        read |= {".controller" + m for m in re.findall(r"\$c((?:\.[A-Za-z0-9_]+)+)", text)}
        read |= {".certManager" + m for m in re.findall(r"\$cm((?:\.[A-Za-z0-9_]+)+)", text)}
        read |= {".serviceMonitor" + m for m in re.findall(r"\$sm((?:\.[A-Za-z0-9_]+)+)", text)}
    assert ".podDisruptionBudget.minAvailable" in read and ".certManager.issuerRef.name" in read
    assert [r for r in sorted(read) if _schema_at(r.split(".")[1:]) is None] == []


def test_closed_where_the_chart_owns_the_shape():
    for path in ([], ["server"], ["webhooks"], ["webhooks", "mutating"], ["certManager"], ["serviceMonitor"],
                 ["controller"], ["controller", "leaderElection"], ["podDisruptionBudget"], ["livenessProbe"]):
        assert _schema_at(path)["additionalProperties"] is False, path


@pytest.mark.parametrize("values, where", [
    ({"replcas": 2}, "additional properties 'replcas' not allowed"),
    ({"replicas": "three"}, "at '/replicas'"),
    ({"server": {"prot": 9443}}, "at '/server': additional properties 'prot'"),
    ({"server": {"logLevel": "LOUD"}}, "at '/server/logLevel'"),
    ({"webhooks": {"failurePolicy": "fail"}}, "at '/webhooks/failurePolicy'"),
    ({"webhooks": {"timeoutSeconds": 60}}, "at '/webhooks/timeoutSeconds'"),
    ({"webhooks": {"mutating": {"rules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["MAKE"],
                                           "resources": ["pods"]}]}}}, "at '/webhooks/mutating/rules/0/operations/0'"),
    ({"antiAffinity": "strict"}, "at '/antiAffinity'"),
    ({"podDisruptionBudget": {"maxUnavailable": "half"}}, "at '/podDisruptionBudget/maxUnavailable'"),
    ({"certManager": {"enabld": True}}, "at '/certManager': additional properties 'enabld'"),
    ({"certManager": {"duration": "90 days"}}, "at '/certManager/duration'"),
    ({"serviceMonitor": {"interval": 30}}, "at '/serviceMonitor/interval'"),
    ({"serviceMonitor": {"label": {"release": "x"}}}, "at '/serviceMonitor': additional properties 'label'"),
    ({"controller": {"scanInterval": "hourly"}}, "at '/controller/scanInterval'"),
    ({"controller": {"leaderElection": {"retryperiod": "2s"}}}, "additional properties 'retryperiod'"),
])
def test_a_bad_value_is_rejected_before_rendering(render, values, where):
    with pytest.raises(helm_python.HelmValuesError, match=re.escape(where)):
        render(values)
    assert list(jsonschema.Draft7Validator(SCHEMA).iter_errors(merge(VALUES, values)))


def test_lint_passes_with_every_option_on(chart_dir, certs):
    values = {"certManager": {"enabled": True}, "serviceMonitor": {"enabled": True, "labels": {"release": "kps"}},
              "podDisruptionBudget": {"minAvailable": 2}}
    result = helm_python.lint(str(chart_dir), values, strict=True, namespace="verno-system")
    assert result["errors"] == []
    bad = helm_python.lint(str(chart_dir), {**values, "certManager": {"enabled": "yes"}}, strict=True,
                           namespace="verno-system")
    assert any("/certManager/enabled" in e for e in bad["errors"])


# -- NOTES.txt -------------------------------------------------------------------------------------------

def test_notes_say_how_to_check_the_release():
    text = notes({})
    for line in ("kubectl -n verno-system rollout status deployment/verno\n",
                 "kubectl -n verno-system get endpoints verno ",
                 "kubectl get validatingwebhookconfiguration verno-resource-validating-webhook-cfg\n",
                 "kubectl -n verno-system rollout status deployment/verno-controller\n",
                 "kubectl -n verno-system get lease verno-controller ",
                 "kubectl get cpol ", "kubectl get pol -A ", "kubectl get polr -A "):
        assert line in text, line
    assert "certificate" not in text and "ServiceMonitor" not in text
    without = notes({"controller": {"enabled": False}, "webhooks": {"mutating": {"enabled": False}},
                     "certManager": {"enabled": True}, "serviceMonitor": {"enabled": True}})
    assert "rollout status deployment/verno-controller" not in without
    assert "controller.enabled=false" in without and "mutatingwebhookconfiguration" not in without
    assert "kubectl -n verno-system get certificate verno-serving " in without
    assert "ServiceMonitor verno in verno-system." in without


# -- cert-manager ----------------------------------------------------------------------------------------

def test_cert_manager_issues_the_serving_certificate_and_injects_the_ca(validate):
    docs = render_chart({"certManager": {"enabled": True}})  # no tls.* and no caBundle needed
    validate(builtin(docs))
    assert kinds(docs, "Secret") == []  # cert-manager writes it
    issuers = {d["metadata"]["name"]: d["spec"] for d in kinds(docs, "Issuer")}
    assert issuers == {"verno-selfsigned": {"selfSigned": {}}, "verno-ca": {"ca": {"secretName": "verno-ca"}}}
    ca = named(docs, "Certificate", "verno-ca")["spec"]
    assert ca["isCA"] is True and ca["secretName"] == "verno-ca" and ca["duration"] == "43800h"
    assert ca["issuerRef"] == {"name": "verno-selfsigned", "kind": "Issuer", "group": "cert-manager.io"}
    serving = named(docs, "Certificate", "verno-serving")
    spec = serving["spec"]
    assert serving["metadata"]["namespace"] == "verno-system"
    assert spec["issuerRef"] == {"name": "verno-ca", "kind": "Issuer", "group": "cert-manager.io"}
    assert spec["dnsNames"] == ["verno", "verno.verno-system", "verno.verno-system.svc",
                                "verno.verno-system.svc.cluster.local"]
    assert (spec["duration"], spec["renewBefore"]) == ("2160h", "720h")
    assert spec["usages"] == ["server auth"]
    # the webhook pods mount the Secret cert-manager writes
    deployment = named(docs, "Deployment", "verno")
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["tls"]["secret"]["secretName"] == spec["secretName"] == "verno-tls"
    # cainjector fills the caBundle of both configurations from that Certificate
    for kind in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"):
        (config,) = kinds(docs, kind)
        assert config["metadata"]["annotations"] == {"cert-manager.io/inject-ca-from": "verno-system/verno-serving"}
        assert all("caBundle" not in hook["clientConfig"] for hook in config["webhooks"])


def test_a_renewed_certificate_needs_no_restart():
    """The Secret is mounted whole (kubelet swaps its files on renewal; a subPath mount never sees them) and
    the pod template does not change with the certificate, so renewal restarts nothing: verno serve reloads
    a changed certificate/key pair (verno.server.tls.CertReloader)."""
    from verno.server.tls import CertReloader

    assert CertReloader.check  # the reloading the chart relies on
    first = render_chart({"certManager": {"enabled": True, "duration": "720h"}})
    second = render_chart({"certManager": {"enabled": True, "duration": "1440h"}})
    template = [named(d, "Deployment", "verno")["spec"]["template"] for d in (first, second)]
    assert template[0] == template[1]
    mounts = {m["name"]: m for m in template[0]["spec"]["containers"][0]["volumeMounts"]}
    assert mounts["tls"] == {"name": "tls", "mountPath": "/etc/verno/tls", "readOnly": True}
    args = template[0]["spec"]["containers"][0]["args"]
    assert "--tls-cert=/etc/verno/tls/tls.crt" in args and "--tls-key=/etc/verno/tls/tls.key" in args


def test_cert_manager_with_an_issuer_of_yours():
    docs = render_chart({"certManager": {"enabled": True, "issuerRef": {"name": "corp-ca", "kind": "ClusterIssuer"}}})
    assert kinds(docs, "Issuer") == []
    (cert,) = kinds(docs, "Certificate")
    assert cert["spec"]["issuerRef"] == {"name": "corp-ca", "kind": "ClusterIssuer", "group": "cert-manager.io"}


def test_cert_manager_and_an_existing_secret_exclude_each_other():
    with pytest.raises(helm_python.HelmRenderError, match="certManager.enabled and tls.existingSecret exclude"):
        render_chart({"certManager": {"enabled": True}, "tls": {"existingSecret": "mine"}})


def test_off_by_default(render):
    docs = render()
    assert not [d for d in docs if d["apiVersion"] in CUSTOM_KINDS]
    assert [d["metadata"]["name"] for d in kinds(docs, "Service")] == ["verno"]
    assert all("annotations" not in d["metadata"] for d in kinds(docs, "ValidatingWebhookConfiguration"))


# -- ServiceMonitor --------------------------------------------------------------------------------------

def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return selector.items() <= labels.items()


def test_service_monitors_scrape_the_webhook_and_the_controller(render, validate):
    docs = render({"serviceMonitor": {"enabled": True, "labels": {"release": "kps"}, "interval": "15s",
                                      "metricRelabelings": [{"action": "drop", "regex": "go_.*",
                                                             "sourceLabels": ["__name__"]}]}})
    validate(builtin(docs))
    monitors = {d["metadata"]["name"]: d for d in kinds(docs, "ServiceMonitor")}
    assert sorted(monitors) == ["verno", "verno-controller"]
    services = {d["metadata"]["name"]: d for d in kinds(docs, "Service")}
    assert sorted(services) == ["verno", "verno-controller-metrics"]
    for name, service_name, deployment_name in (("verno", "verno", "verno"),
                                                 ("verno-controller", "verno-controller-metrics", "verno-controller")):
        monitor = monitors[name]
        assert monitor["metadata"]["labels"]["release"] == "kps"
        assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["verno-system"]}
        selector = monitor["spec"]["selector"]["matchLabels"]
        # each monitor selects its own Service and not the other one
        assert [s for s, svc in services.items() if _selects(selector, svc["metadata"]["labels"])] == [service_name]
        (endpoint,) = monitor["spec"]["endpoints"]
        assert endpoint["path"] == "/metrics" and endpoint["interval"] == "15s"
        assert endpoint["metricRelabelings"][0]["action"] == "drop"
        service = services[service_name]
        (port,) = [p for p in service["spec"]["ports"] if p["name"] == endpoint["port"]]
        pod = named(docs, "Deployment", deployment_name)["spec"]["template"]
        assert _selects(service["spec"]["selector"], pod["metadata"]["labels"])
        assert port["targetPort"] in [p["name"] for p in pod["spec"]["containers"][0]["ports"]]
    webhook = monitors["verno"]["spec"]["endpoints"][0]
    assert webhook["scheme"] == "https" and webhook["tlsConfig"] == {"insecureSkipVerify": True}
    assert monitors["verno-controller"]["spec"]["endpoints"][0]["scheme"] == "http"


def test_service_monitor_tls_verification(render):
    with_cm = render_chart({"certManager": {"enabled": True}, "serviceMonitor": {"enabled": True}})
    tls = named(with_cm, "ServiceMonitor", "verno")["spec"]["endpoints"][0]["tlsConfig"]
    assert tls == {"ca": {"secret": {"name": "verno-tls", "key": "ca.crt"}}, "serverName": "verno.verno-system.svc"}
    mine = {"ca": {"configMap": {"name": "corp-ca", "key": "ca.crt"}}, "serverName": "verno.verno-system.svc"}
    given = render({"serviceMonitor": {"enabled": True, "tlsConfig": mine, "namespace": "monitoring"}})
    monitor = named(given, "ServiceMonitor", "verno")
    assert monitor["spec"]["endpoints"][0]["tlsConfig"] == mine
    assert monitor["metadata"]["namespace"] == "monitoring"
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["verno-system"]}
    alone = render({"serviceMonitor": {"enabled": True}, "controller": {"enabled": False}})
    assert [d["metadata"]["name"] for d in kinds(alone, "ServiceMonitor")] == ["verno"]
    assert [d["metadata"]["name"] for d in kinds(alone, "Service")] == ["verno"]


def test_readme_documents_every_new_value():
    readme = (CHART / "README.md").read_text()
    for key in ("certManager.enabled", "certManager.issuerRef", "certManager.duration", "certManager.renewBefore",
                "certManager.caDuration", "serviceMonitor.enabled", "serviceMonitor.namespace",
                "serviceMonitor.labels", "serviceMonitor.interval", "serviceMonitor.scrapeTimeout",
                "serviceMonitor.tlsConfig", "serviceMonitor.relabelings", "serviceMonitor.metricRelabelings"):
        head, _, rest = key.partition(".")
        assert re.search(rf"`{re.escape(head)}\.[^|]*{re.escape(rest)}", readme), key
    assert "values.schema.json" in readme
