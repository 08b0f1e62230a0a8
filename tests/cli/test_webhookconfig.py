"""``verno webhook-config``: rules, operations, failure policies, match conditions, exclusions; every
printed document validated against the Kubernetes OpenAPI schema (kubernetes-validate, offline)."""
from __future__ import annotations

import base64
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from verno.cli.certs import generate, write
from verno.cli.webhookrules import Entry, build_rules, kind_entries, plural

kubernetes_validate = pytest.importorskip("kubernetes_validate")

K8S_VERSION = "1.30"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "policies"


@pytest.fixture(scope="module")
def ca_file(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ca")
    write(generate("verno", "verno-system"), out)
    return out / "ca.crt"


def _policy(name: str, rules: str, spec: str = "", kind: str = "ClusterPolicy", namespace: str = "") -> str:
    ns = f"\n  namespace: {namespace}" if namespace else ""
    return (f"apiVersion: kyverno.io/v1\nkind: {kind}\nmetadata:\n  name: {name}{ns}\nspec:\n"
            + textwrap.indent(textwrap.dedent(spec), "  ")
            + "  rules:\n" + textwrap.indent(textwrap.dedent(rules), "    "))


VALIDATE_POD = """\
- name: check
  match:
    any:
    - resources:
        kinds: [Pod]
  validate:
    message: denied
    pattern:
      metadata:
        name: "?*"
"""

MUTATE_POD = """\
- name: add-label
  match:
    any:
    - resources:
        kinds: [Pod]
  mutate:
    patchStrategicMerge:
      metadata:
        labels:
          x: y
"""


def _write(tmp_path: Path, *docs: str) -> Path:
    path = tmp_path / "policies.yaml"
    path.write_text("\n---\n".join(docs))
    return path


def _render(run, ca_file: Path, *args: str) -> list[dict[str, Any]]:
    result = run("webhook-config", "--service", "verno", "--namespace", "verno-system",
                 "--ca-bundle", ca_file, *args)
    assert result.exit_code == 0, result.stderr
    docs = [d for d in yaml.safe_load_all(result.stdout) if d]
    for doc in docs:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    return docs


def _by_kind(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {d["kind"]: d for d in docs}


def _hooks(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {w["name"]: w for w in doc["webhooks"]}


def _resources(hook: dict[str, Any]) -> dict[tuple[str, str], set[str]]:
    out: dict[tuple[str, str], set[str]] = {}
    for rule in hook["rules"]:
        for r in rule["resources"]:
            out.setdefault((rule["apiGroups"][0], r), set()).update(rule["operations"])
    return out


def test_examples_give_a_validating_configuration_with_autogen_kinds(run, ca_file):
    docs = _render(run, ca_file, "--policies", EXAMPLES)
    assert [d["kind"] for d in docs] == ["ValidatingWebhookConfiguration"]
    (hook,) = docs[0]["webhooks"]
    assert hook["name"] == "validate.verno.svc-fail"
    assert hook["failurePolicy"] == "Fail"
    assert hook["sideEffects"] == "None"
    assert hook["admissionReviewVersions"] == ["v1"]
    assert hook["timeoutSeconds"] == 10
    assert hook["clientConfig"]["service"] == {"name": "verno", "namespace": "verno-system",
                                               "path": "/validate/fail", "port": 443}
    assert base64.b64decode(hook["clientConfig"]["caBundle"]) == ca_file.read_bytes()
    assert hook["namespaceSelector"] == {"matchExpressions": [
        {"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["kube-system", "verno-system"]}]}
    resources = _resources(hook)
    every = {"CREATE", "UPDATE", "DELETE", "CONNECT"}
    for key in [("", "pods"), ("", "pods/ephemeralcontainers"), ("", "replicationcontrollers"),
                ("apps", "deployments"), ("apps", "daemonsets"), ("apps", "statefulsets"),
                ("apps", "replicasets"), ("batch", "jobs"), ("batch", "cronjobs")]:
        assert resources[key] == every, key


def test_mutate_and_failure_policies_make_separate_webhooks(run, ca_file, tmp_path):
    path = _write(
        tmp_path,
        _policy("mut", MUTATE_POD),
        _policy("val-fail", VALIDATE_POD, "webhookTimeoutSeconds: 7\n"),
        _policy("val-ignore", VALIDATE_POD, "failurePolicy: Ignore\nwebhookTimeoutSeconds: 20\n"),
        _policy("val-ignore2", VALIDATE_POD, "webhookConfiguration:\n  failurePolicy: Ignore\n  timeoutSeconds: 4\n"),
    )
    docs = _by_kind(_render(run, ca_file, "--policies", path, "--port", "8443"))
    mutating = _hooks(docs["MutatingWebhookConfiguration"])
    assert list(mutating) == ["mutate.verno.svc-fail"]
    mhook = mutating["mutate.verno.svc-fail"]
    assert mhook["clientConfig"]["service"]["path"] == "/mutate/fail"
    assert mhook["clientConfig"]["service"]["port"] == 8443
    assert mhook["reinvocationPolicy"] == "IfNeeded"
    # mutate rules default to CREATE and UPDATE
    assert _resources(mhook)[("", "pods")] == {"CREATE", "UPDATE"}
    assert _resources(mhook)[("apps", "deployments")] == {"CREATE", "UPDATE"}
    validating = _hooks(docs["ValidatingWebhookConfiguration"])
    assert list(validating) == ["validate.verno.svc-fail", "validate.verno.svc-ignore"]
    assert validating["validate.verno.svc-fail"]["timeoutSeconds"] == 7
    assert validating["validate.verno.svc-ignore"]["timeoutSeconds"] == 20  # the largest of the group
    assert validating["validate.verno.svc-ignore"]["failurePolicy"] == "Ignore"
    assert validating["validate.verno.svc-ignore"]["clientConfig"]["service"]["path"] == "/validate/ignore"


def test_match_conditions_get_a_fine_grained_webhook(run, ca_file, tmp_path):
    spec = """\
webhookConfiguration:
  failurePolicy: Ignore
  matchConditions:
  - name: not-system
    expression: "!request.userInfo.username.startsWith('system:')"
"""
    path = _write(tmp_path, _policy("plain", VALIDATE_POD),
                  _policy("cond", VALIDATE_POD, spec, kind="Policy", namespace="team-a"))
    docs = _by_kind(_render(run, ca_file, "--policies", path))
    hooks = _hooks(docs["ValidatingWebhookConfiguration"])
    assert list(hooks) == ["validate.verno.svc-fail", "validate.verno.svc-ignore-finegrained-team-a-cond"]
    fine = hooks["validate.verno.svc-ignore-finegrained-team-a-cond"]
    assert fine["clientConfig"]["service"]["path"] == "/validate/ignore/finegrained/team-a/cond"
    assert fine["matchConditions"] == [{"name": "not-system",
                                        "expression": "!request.userInfo.username.startsWith('system:')"}]
    assert {r["scope"] for r in fine["rules"]} == {"Namespaced"}  # a namespaced Policy
    assert "matchConditions" not in hooks["validate.verno.svc-fail"]
    assert {r["scope"] for r in hooks["validate.verno.svc-fail"]["rules"]} == {"*"}


def test_operations_subresources_and_kinds(run, ca_file, tmp_path):
    rules = """\
- name: deletes-only
  match:
    any:
    - resources:
        kinds: [ConfigMap]
        operations: [DELETE]
  validate:
    deny: {}
- name: exec
  match:
    any:
    - resources:
        kinds: [Pod/exec]
        operations: [CONNECT]
  validate:
    deny: {}
- name: crd-and-unknown
  match:
    all:
    - resources:
        kinds: [cert-manager.io/v1/Certificate, Widget, networking.k8s.io/v1/Ingress, Deployment/scale]
  exclude:
    any:
    - resources:
        operations: [CONNECT]
  validate:
    deny: {}
"""
    path = _write(tmp_path, _policy("ops", rules))
    docs = _render(run, ca_file, "--policies", path)
    hook = docs[0]["webhooks"][0]
    resources = _resources(hook)
    assert resources[("", "configmaps")] == {"DELETE"}
    assert resources[("", "pods/exec")] == {"CONNECT"}
    assert resources[("cert-manager.io", "certificates")] == {"CREATE", "UPDATE", "DELETE"}
    assert resources[("*", "widgets")] == {"CREATE", "UPDATE", "DELETE"}
    assert resources[("networking.k8s.io", "ingresses")] == {"CREATE", "UPDATE", "DELETE"}
    assert resources[("apps", "deployments/scale")] == {"CREATE", "UPDATE", "DELETE"}
    assert ("", "pods") not in resources  # exec only: no pods, no ephemeral containers
    by_rule = {(r["apiGroups"][0], tuple(r["resources"])): r for r in hook["rules"]}
    assert by_rule[("*", ("widgets",))]["apiVersions"] == ["*"]
    assert by_rule[("cert-manager.io", ("certificates",))]["apiVersions"] == ["v1"]


def test_wildcard_kind_covers_the_rest(run, ca_file, tmp_path):
    rules = """\
- name: everything
  match:
    any:
    - resources:
        kinds: ["*"]
  validate:
    deny: {}
- name: pods
  match:
    any:
    - resources:
        kinds: [Pod, Secret]
  validate:
    deny: {}
"""
    path = _write(tmp_path, _policy("wild", rules))
    hook = _render(run, ca_file, "--policies", path)[0]["webhooks"][0]
    assert hook["rules"] == [{"apiGroups": ["*"], "apiVersions": ["*"],
                              "operations": ["CREATE", "UPDATE", "DELETE", "CONNECT"],
                              "resources": ["*", "pods/ephemeralcontainers"], "scope": "*"}]


def test_generate_is_validating_and_admission_false_is_skipped(run, ca_file, tmp_path):
    generate_rule = """\
- name: gen
  match:
    any:
    - resources:
        kinds: [Namespace]
  generate:
    apiVersion: v1
    kind: ConfigMap
    name: defaults
    namespace: "{{request.object.metadata.name}}"
    data:
      data:
        a: b
"""
    path = _write(tmp_path, _policy("gen", generate_rule),
                  _policy("disabled", MUTATE_POD, "admission: false\n"))
    docs = _render(run, ca_file, "--policies", path)
    assert [d["kind"] for d in docs] == ["ValidatingWebhookConfiguration"]
    assert set(_resources(docs[0]["webhooks"][0])) == {("", "namespaces")}


def test_timeouts_are_kept_within_what_the_api_server_accepts(run, ca_file, tmp_path):
    path = _write(tmp_path, _policy("slow", VALIDATE_POD, "webhookTimeoutSeconds: 45\n"),
                  _policy("slow-mut", MUTATE_POD, "failurePolicy: Ignore\nwebhookTimeoutSeconds: 45\n"))
    docs = _render(run, ca_file, "--policies", path)
    assert [w["timeoutSeconds"] for d in docs for w in d["webhooks"]] == [30, 30]


def test_excluded_namespaces(run, ca_file, tmp_path):
    path = _write(tmp_path, _policy("p", VALIDATE_POD))
    docs = _render(run, ca_file, "--policies", path, "--exclude-namespace", "monitoring",
                   "--exclude-namespace", "kube-system")
    values = docs[0]["webhooks"][0]["namespaceSelector"]["matchExpressions"][0]["values"]
    assert values == ["kube-system", "verno-system", "monitoring"]


def test_without_policies_catch_all_ignore_webhooks(run, ca_file):
    docs = _by_kind(_render(run, ca_file))
    for kind, path, ops in (("MutatingWebhookConfiguration", "/mutate/ignore", ["CREATE", "UPDATE"]),
                            ("ValidatingWebhookConfiguration", "/validate/ignore",
                             ["CREATE", "UPDATE", "DELETE", "CONNECT"])):
        (hook,) = docs[kind]["webhooks"]
        assert hook["failurePolicy"] == "Ignore"
        assert hook["clientConfig"]["service"]["path"] == path
        assert hook["rules"] == [{"apiGroups": ["*"], "apiVersions": ["*"], "operations": ops,
                                  "resources": ["*", "pods/ephemeralcontainers"], "scope": "*"}]


def test_policies_needing_no_webhook_print_nothing(run, ca_file, tmp_path):
    path = _write(tmp_path, _policy("disabled", VALIDATE_POD, "admission: false\n"))
    result = run("webhook-config", "--service", "verno", "--namespace", "ns", "--ca-bundle", ca_file,
                 "--policies", path)
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "nothing to print" in result.stderr


@pytest.mark.parametrize("content, message", [
    (None, "cannot read the CA bundle"),
    ("not a certificate\n", "not a PEM certificate bundle"),
])
def test_bad_ca_bundle_is_one_line_error(run, tmp_path, content, message):
    ca = tmp_path / "ca.crt"
    if content is not None:
        ca.write_text(content)
    result = run("webhook-config", "--service", "verno", "--namespace", "ns", "--ca-bundle", ca)
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0]


def test_bad_policy_file_is_one_line_error(run, ca_file, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: x}\nspec: {rules: 3}\n")
    result = run("webhook-config", "--service", "verno", "--namespace", "ns", "--ca-bundle", ca_file,
                 "--policies", path)
    assert result.exit_code == 1
    assert len(result.stderr.strip().splitlines()) == 1 and "bad.yaml" in result.stderr


@pytest.mark.parametrize("selector, expected", [
    ("Pod", ("", "v1", "pods", "")),
    ("v1/Pod", ("", "v1", "pods", "")),
    ("Pod.exec", ("", "v1", "pods", "exec")),
    ("apps/v1beta1/Deployment", ("apps", "v1beta1", "deployments", "")),
    ("*/scale", ("*", "*", "*", "scale")),
    ("*/*", ("*", "*", "*", "*")),
    ("Networkpolic?", ("*", "*", "*", "")),
    ("example.com/v1/Proxy", ("example.com", "v1", "proxies", "")),
    ("NetworkPolicy", ("networking.k8s.io", "v1", "networkpolicies", "")),
    ("Endpoints", ("", "v1", "endpoints", "")),
])
def test_kind_entries(selector, expected):
    assert kind_entries(selector) == expected


def test_plural():
    assert [plural(k) for k in ("Ingress", "Policy", "Gateway", "Box", "Mesh", "Pod")] == [
        "ingresses", "policies", "gateways", "boxes", "meshes", "pods"]


def test_build_rules_drops_entries_a_wildcard_covers():
    entries = {Entry("", "v1", "pods", "", "*", "CREATE"), Entry("*", "*", "*", "*", "*", "CREATE"),
               Entry("", "v1", "pods", "exec", "*", "CONNECT"), Entry("", "v1", "pods", "*", "*", "CONNECT")}
    rules = [r.to_dict() for r in build_rules(entries)]
    assert rules == [
        {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CONNECT"], "resources": ["pods/*"],
         "scope": "*"},
        {"apiGroups": ["*"], "apiVersions": ["*"], "operations": ["CREATE"], "resources": ["*/*"],
         "scope": "*"},
    ]


def test_schema_check_is_not_vacuous(run, ca_file, tmp_path):
    """The offline schema rejects what the API server would: a missing sideEffects, an unknown field."""
    path = _write(tmp_path, _policy("p", VALIDATE_POD))
    doc = _render(run, ca_file, "--policies", path)[0]
    del doc["webhooks"][0]["sideEffects"]
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    doc["webhooks"][0]["sideEffects"] = "None"
    doc["webhooks"][0]["caBundle"] = "misplaced"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_policies_of_other_kinds_get_webhooks_from_their_match_constraints():
    from dataclasses import dataclass, field

    from verno.cli.webhookconfig import Service, webhook_configurations

    @dataclass
    class Vpol:
        name: str
        document: dict
        failure_policy: str = "Fail"
        namespace: str = ""
        admission: bool = True
        stage: str = "validating-policy"

    pods = Vpol("pods", {"spec": {"matchConstraints": {"resourceRules": [
        {"apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods", "pods/ephemeralcontainers"],
         "operations": ["CREATE", "UPDATE"]}]}, "webhookConfiguration": {"timeoutSeconds": 25}}})
    lenient = Vpol("deploys", {"spec": {"matchConstraints": {"resourceRules": [
        {"apiGroups": ["apps"], "apiVersions": ["v1"], "resources": ["deployments"], "operations": ["*"]}]}}},
        failure_policy="Ignore")
    off = Vpol("off", {"spec": {}}, admission=False)
    svc = Service("verno", "verno", 443, "Q0E=", ())
    docs = webhook_configurations([], svc, [pods, lenient, off], lambda p: p.stage)
    assert [d["kind"] for d in docs] == ["ValidatingWebhookConfiguration"]
    hooks = docs[0]["webhooks"]
    assert [h["clientConfig"]["service"]["path"] for h in hooks] == ["/validate/fail", "/validate/ignore"]
    fail, ignore = hooks
    assert fail["timeoutSeconds"] == 25
    assert {r["resources"][0] for r in fail["rules"]} >= {"pods"} and \
        any("pods/ephemeralcontainers" in r["resources"] for r in fail["rules"])
    assert all(set(r["operations"]) <= {"CREATE", "UPDATE"} for r in fail["rules"])
    assert set().union(*(r["operations"] for r in ignore["rules"])) == {"CREATE", "UPDATE", "DELETE", "CONNECT"}
