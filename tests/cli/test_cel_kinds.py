"""``verno test`` and ``verno apply`` with ValidatingPolicies next to ClusterPolicies (kyverno-cel.md 6)."""
from __future__ import annotations

import json
from importlib.metadata import entry_points
from pathlib import Path

import pytest
import yaml

import verno.plugins.validatingpolicy as vpol
from verno.cli import apply as apply_cmd
from verno.cli import test_cmd
from verno.cli.testing import Selector, SuiteRunner
from verno.core.engine import Engine
from verno.core.hookspecs import hookimpl
from verno.core.models import testfile
from verno.core.policykinds import PolicyKind


def _table(text: str) -> list[list[str]]:
    return [[c.strip() for c in ln.strip().strip("│").split("│")] for ln in text.splitlines()
            if ln.startswith("│ ") and not ln.startswith("│ ID ")]


@pytest.fixture(autouse=True)
def with_plugin(monkeypatch):
    """The commands' engines run the plugin (through its entry point once installed)."""
    if any(ep.name == "validatingpolicy" for ep in entry_points(group="verno")):
        return

    class WithPlugin(Engine):
        def __init__(self, plugins=(), **kw):
            super().__init__([*plugins, ("validatingpolicy", vpol)], **kw)

    monkeypatch.setattr(test_cmd, "Engine", WithPlugin)
    monkeypatch.setattr(apply_cmd, "Engine", WithPlugin)


CLUSTER_POLICY = """apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: require-team}
spec:
  validationFailureAction: Enforce
  rules:
  - name: team-label
    match: {any: [{resources: {kinds: [Deployment]}}]}
    validate:
      message: a team label is required
      pattern: {metadata: {labels: {team: "?*"}}}
"""
VPOL = """apiVersion: policies.kyverno.io/v1
kind: ValidatingPolicy
metadata: {name: replica-floor}
spec:
  matchConstraints:
    resourceRules:
    - apiGroups: [apps]
      apiVersions: [v1]
      operations: [CREATE, UPDATE]
      resources: [deployments]
  validations:
  - expression: "object.spec.replicas >= 2"
    messageExpression: "'at least 2 replicas, got ' + string(object.spec.replicas)"
  - expression: "type(object.spec.replicas) == double"
    message: numbers from resource files are doubles, as in Kyverno's CLI
"""
SELECTED = """apiVersion: policies.kyverno.io/v1
kind: ValidatingPolicy
metadata: {name: prod-only}
spec:
  matchConstraints:
    namespaceSelector: {matchLabels: {env: prod}}
    resourceRules:
    - apiGroups: [apps]
      apiVersions: [v1]
      operations: [CREATE]
      resources: [deployments]
  validations:
  - expression: "namespaceObject.metadata.labels.env == 'prod' && request.userInfo.username == 'ci-bot'"
"""
JSON_POLICY = """apiVersion: policies.kyverno.io/v1
kind: ValidatingPolicy
metadata: {name: plan-no-public-buckets}
spec:
  evaluation: {mode: JSON}
  matchConditions:
  - {name: is-plan, expression: "has(object.resource_changes)"}
  validations:
  - expression: "object.resource_changes.all(r, r.change.after.?acl.orValue('private') != 'public-read')"
    message: buckets must not be public
"""
EXCEPTION = """apiVersion: policies.kyverno.io/v1
kind: PolicyException
metadata: {name: batch-jobs, namespace: platform}
spec:
  policyRefs: [{name: replica-floor, kind: ValidatingPolicy}]
  matchConditions:
  - {name: batch, expression: "object.metadata.name.startsWith('batch-')"}
"""


def deployment(name, replicas, namespace="shop", team="web"):
    labels = {"team": team} if team else {}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {"replicas": replicas, "template": {"spec": {"containers": [{"name": "c", "image": "x"}]}}}}


def suite(tmp_path: Path, results: list[dict], **extra) -> Path:
    (tmp_path / "policies.yaml").write_text("---\n".join([CLUSTER_POLICY, VPOL, SELECTED, JSON_POLICY]))
    (tmp_path / "exception.yaml").write_text(EXCEPTION)
    resources = [deployment("web", 3), deployment("api", 1, team=""), deployment("batch-nightly", 1),
                 deployment("web", 3, namespace="prod-eu"), deployment("web", 3, namespace="dev-eu")]
    (tmp_path / "resources.yaml").write_text(yaml.safe_dump_all(resources))
    (tmp_path / "plan-ok.json").write_text(json.dumps(
        {"resource_changes": [{"change": {"after": {"acl": "private"}}}]}))
    (tmp_path / "plan-public.json").write_text(json.dumps(
        {"resource_changes": [{"change": {"after": {"acl": "public-read"}}}]}))
    (tmp_path / "values.yaml").write_text(yaml.safe_dump({
        "apiVersion": "cli.kyverno.io/v1alpha1", "kind": "Values",
        "namespaces": [{"apiVersion": "v1", "kind": "Namespace",
                        "metadata": {"name": "prod-eu", "labels": {"env": "prod"}}}],
        "namespaceSelector": [{"name": "dev-eu", "labels": {"env": "dev"}}]}))
    (tmp_path / "user.yaml").write_text(yaml.safe_dump({
        "apiVersion": "cli.kyverno.io/v1alpha1", "kind": "UserInfo", "userInfo": {"username": "ci-bot"}}))
    test = {"apiVersion": "cli.kyverno.io/v1alpha1", "kind": "Test", "metadata": {"name": "mixed"},
            "policies": ["policies.yaml"], "resources": ["resources.yaml"], "exceptions": ["exception.yaml"],
            "jsonPayloads": ["plan-ok.json", "plan-public.json"], "variables": "values.yaml",
            "userinfo": "user.yaml", "results": results, **extra}
    (tmp_path / "kyverno-test.yaml").write_text(yaml.safe_dump(test))
    return tmp_path


RESULTS = [
    {"policy": "require-team", "rule": "team-label", "kind": "Deployment", "resources": ["api"], "result": "fail"},
    {"policy": "require-team", "rule": "team-label", "kind": "Deployment", "resources": ["shop/web"],
     "result": "pass"},
    {"policy": "replica-floor", "isValidatingPolicy": True, "kind": "Deployment", "resources": ["api"],
     "result": "fail"},
    {"policy": "replica-floor", "isValidatingPolicy": True, "kind": "Deployment", "resources": ["shop/web"],
     "result": "pass"},
    {"policy": "replica-floor", "rule": "whatever", "kind": "Deployment", "resources": ["batch-nightly"],
     "result": "skip"},
    {"policy": "prod-only", "kind": "Deployment", "resources": ["prod-eu/web"], "result": "pass"},
    # a selector mismatch is an empty response: "Excluded", whatever the expected result
    {"policy": "prod-only", "kind": "Deployment", "resources": ["dev-eu/web"], "result": "fail"},
    {"policy": "plan-no-public-buckets", "resources": ["plan-ok.json"], "result": "pass"},
    {"policy": "plan-no-public-buckets", "resources": ["plan-public.json"], "result": "fail"},
]


def test_one_run_one_summary(run, tmp_path):
    r = run("test", suite(tmp_path, RESULTS))
    assert r.exit_code == 0, r.output
    assert "Test Summary: 9 tests passed and 0 tests failed" in r.stdout
    rows = _table(r.stdout)
    assert ["3", "replica-floor", "", "Deployment/api", "Pass", "Ok"] in rows
    assert ["5", "replica-floor", "whatever", "Deployment/batch-nightly", "Pass", "Ok"] in rows
    assert ["7", "prod-only", "", "Deployment/dev-eu/web", "Pass", "Excluded"] in rows
    assert ["9", "plan-no-public-buckets", "", "plan-public.json", "Pass", "Ok"] in rows


def test_mismatches_and_not_found(run, tmp_path):
    results = [
        {"policy": "replica-floor", "kind": "Deployment", "resources": ["api"], "result": "pass"},
        # a payload is not evaluated by a Kubernetes-mode policy: no response at all
        {"policy": "replica-floor", "resources": ["plan-ok.json"], "result": "pass"},
        # no resources: every resource and payload; the namespace of the policy name is ignored. A JSON-mode
        # policy also evaluates the resources (its match condition skips them here)
        {"policy": "ns/plan-no-public-buckets", "result": "pass"},
    ]
    r = run("test", suite(tmp_path, results), "--detailed-results")
    assert r.exit_code == 1
    rows = _table(r.stdout.split("Aggregated Failed Test Cases")[0])
    assert rows[0][:6] == ["1", "replica-floor", "", "Deployment/api", "Fail", "Want pass, got fail"]
    assert rows[0][6] == "at least 2 replicas, got 1"
    assert rows[1][:6] == ["2", "replica-floor", "", "plan-ok.json", "Fail", "Not found"]
    assert [row[3:6] for row in rows[2:]] == [[f"Deployment/{n}", "Fail", "Want pass, got skip"] for n in (
        "shop/web", "shop/api", "shop/batch-nightly", "prod-eu/web", "dev-eu/web")] + [
        ["plan-ok.json", "Pass", "Ok"], ["plan-public.json", "Fail", "Want pass, got fail"]]


def test_kyverno_v1_test_documents_and_json_payload(run, tmp_path):
    suite(tmp_path, [{"policy": "plan-no-public-buckets", "resources": ["plan-public.json"], "result": "fail"}])
    test = yaml.safe_load((tmp_path / "kyverno-test.yaml").read_text())
    test["apiVersion"] = "kyverno.io/v1"
    test.pop("jsonPayloads")
    test["jsonPayload"] = "plan-public.json"
    (tmp_path / "kyverno-test.yaml").write_text(yaml.safe_dump(test))
    r = run("test", tmp_path)
    assert r.exit_code == 0, r.output
    assert "Test Summary: 1 tests passed and 0 tests failed" in r.stdout


def test_yaml_payloads_keep_integers(run, tmp_path):
    policy = JSON_POLICY.replace("object.resource_changes.all(r, r.change.after.?acl.orValue('private') != "
                                 "'public-read')", "type(object.count) == int")
    suite(tmp_path, [{"policy": "plan-no-public-buckets", "resources": ["p.yaml"], "result": "pass"}],
          jsonPayloads=["p.yaml"])
    (tmp_path / "policies.yaml").write_text(policy)
    (tmp_path / "p.yaml").write_text("resource_changes: []\ncount: 3\n")
    r = run("test", tmp_path)
    assert r.exit_code == 0, r.output


def test_missing_payload_file_names_the_field(run, tmp_path):
    suite(tmp_path, RESULTS[:1], jsonPayloads=["nowhere.json"])
    r = run("test", tmp_path)
    assert r.exit_code == 1 and "kyverno-test.yaml: jsonPayloads[0]: nowhere.json: no such file" in r.output


# -- what the run hands to policy kinds -----------------------------------------------------------------

class Recorder:
    """A toy kind that records what it is given."""

    seen: list = []

    @hookimpl
    def verno_register_policy_kinds(self, register):
        register(PolicyKind("acme.example", frozenset({"Probe"}), "validating-policy", _probe))


class _Probe:
    kind, api_version, name, namespace, source = "Probe", "acme.example/v1", "probe", "", ""
    annotations: dict = {}
    report_source, failure_policy, admission, background = "Acme", "Fail", True, True
    validation_actions = frozenset({"Deny"})
    key = "probe"

    def evaluate(self, request, inputs, *, payload=False):
        Recorder.seen.append((inputs.params, inputs.sources.cel_context, dict(inputs.namespaces)))


def _probe(doc, engine):
    return _Probe()


def test_params_context_and_namespaces_reach_the_kinds(tmp_path):
    (tmp_path / "probe.yaml").write_text("apiVersion: acme.example/v1\nkind: Probe\nmetadata: {name: probe}\n")
    (tmp_path / "pod.yaml").write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n")
    (tmp_path / "params.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: limits}\n"
                                          "data: {max: '3'}\n")
    (tmp_path / "context.yaml").write_text(yaml.safe_dump({
        "apiVersion": "cli.kyverno.io/v1alpha1", "kind": "Context", "metadata": {"name": "c"},
        "spec": {"resources": [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "registries"},
                                "data": {"allowed": "corp"}}],
                 "images": [{"image": "nginx:1", "registry": "index.docker.io"}]}}))
    test = testfile.TestFile.model_validate({
        "apiVersion": "cli.kyverno.io/v1alpha1", "kind": "Test", "metadata": {"name": "t"},
        "policies": ["probe.yaml"], "resources": ["pod.yaml"], "paramResources": ["params.yaml"],
        "context": "context.yaml",
        "values": {"namespaces": [{"metadata": {"name": "shop", "labels": {"env": "prod"}}}]},
        "results": [{"policy": "probe", "resources": ["p"], "result": "pass"}]})
    Recorder.seen = []
    runner = SuiteRunner(Engine([("acme", Recorder())]), str(tmp_path / "kyverno-test.yaml"), test,
                         Selector(), lambda *a: None)
    outcome = runner.run()
    params, context, namespaces = Recorder.seen[0]
    assert [p["metadata"] for p in params] == [{"name": "limits", "namespace": "default"}]
    assert context["resources"][0]["metadata"] == {"name": "registries", "namespace": "default"}
    assert context["images"] == [{"image": "nginx:1", "registry": "index.docker.io"}]
    assert namespaces["shop"]["metadata"]["labels"] == {"env": "prod"}
    assert [r.reason for r in outcome.rows] == ["Not found"]  # the probe gave no response


def test_an_invalid_context_file_names_the_field(run, tmp_path):
    suite(tmp_path, RESULTS[:1], context="context.yaml")
    (tmp_path / "context.yaml").write_text("apiVersion: cli.kyverno.io/v1alpha1\nkind: Context\n"
                                           "spec: {resources: [], image: []}\n")
    r = run("test", tmp_path)
    assert r.exit_code == 1 and "context.yaml (document 1): spec.image: unknown field" in r.output
    (tmp_path / "context.yaml").write_text("apiVersion: cli.kyverno.io/v1alpha1\nkind: Context\n"
                                           "spec: {resources: [{kind: ConfigMap}]}\n")
    r = run("test", tmp_path)
    assert r.exit_code == 1 and "resources[0].apiVersion is required" in r.output


# -- apply ------------------------------------------------------------------------------------------------

def test_apply_reports_kind_policies_with_their_source(run, tmp_path):
    suite(tmp_path, RESULTS)
    r = run("apply", tmp_path / "policies.yaml", "-r", tmp_path / "resources.yaml", "-e",
            tmp_path / "exception.yaml", "-f", tmp_path / "values.yaml", "-p", "--output-format", "json")
    results = [x for report in _reports(r.stdout) for x in report["results"]]
    def of(policy):
        return sorted((x["resources"][0]["namespace"], x["resources"][0]["name"], x["result"], x["rule"])
                      for x in results if x["policy"] == policy and x["source"] == "KyvernoValidatingPolicy")

    assert of("replica-floor") == [("dev-eu", "web", "pass", ""), ("prod-eu", "web", "pass", ""),
                                   ("shop", "api", "fail", ""), ("shop", "batch-nightly", "skip", "exception"),
                                   ("shop", "web", "pass", "")]
    # without the user info the prod-only check fails; dev-eu is not selected (no result)
    assert of("prod-only") == [("prod-eu", "web", "fail", "")]
    # the JSON-mode policy also reads the resources: its match condition skips them
    assert {r[2] for r in of("plan-no-public-buckets")} == {"skip"}
    exempted = [x for x in results if x["rule"] == "exception"]
    assert exempted[0]["properties"] == {"exceptions": "platform/batch-jobs"}
    assert exempted[0]["message"] == "rule is skipped due to policy exception: platform/batch-jobs"
    assert {x["source"] for x in results} == {"kyverno", "KyvernoValidatingPolicy"}


def _reports(text: str) -> list[dict]:
    out, decoder, pos = [], json.JSONDecoder(), 0
    text = text.strip()
    while pos < len(text):
        obj, end = decoder.raw_decode(text, pos)
        out.extend(obj if isinstance(obj, list) else [obj])
        pos = end
        while pos < len(text) and text[pos] in " \n,":
            pos += 1
    return out


def test_apply_text_output_and_exit_code(run, tmp_path):
    suite(tmp_path, RESULTS)
    r = run("apply", tmp_path / "policies.yaml", "-r", tmp_path / "resources.yaml")
    assert r.exit_code == 1
    assert "policy replica-floor -> resource shop/Deployment/api failed:\n1 -  at least 2 replicas, got 1" \
        in r.stdout
    assert "policy require-team -> resource shop/Deployment/api failed:" in r.stdout


# -- globalContextEntries with resources ----------------------------------------------------------------

GCTX_POLICY = """apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: replica-budget}
spec:
  validationFailureAction: Enforce
  rules:
  - name: budget
    match: {any: [{resources: {kinds: [Deployment]}}]}
    context:
    - name: existing
      globalReference: {name: deployments, jmesPath: "length(@)"}
    validate:
      message: "too many deployments: {{ existing }}"
      deny:
        conditions:
          any:
          - {key: "{{ existing }}", operator: GreaterThanOrEquals, value: 2}
"""


@pytest.mark.parametrize("how", ["resources", "resourceFiles"])
def test_global_context_entries_from_resources(run, tmp_path, how):
    (tmp_path / "policy.yaml").write_text(GCTX_POLICY)
    (tmp_path / "resources.yaml").write_text(yaml.safe_dump(deployment("new", 1)))
    existing = [deployment("a", 1), deployment("b", 1)]
    (tmp_path / "existing.yaml").write_text(yaml.safe_dump_all(existing))
    entry = {"name": "deployments"}
    if how == "resources":
        entry["resources"] = existing
    else:
        entry["resourceFiles"] = ["existing.yaml"]
    test = {"apiVersion": "cli.kyverno.io/v1alpha1", "kind": "Test", "metadata": {"name": "g"},
            "policies": ["policy.yaml"], "resources": ["resources.yaml"], "globalContextEntries": [entry],
            "results": [{"policy": "replica-budget", "rule": "budget", "resources": ["new"], "result": "fail"}]}
    (tmp_path / "kyverno-test.yaml").write_text(yaml.safe_dump(test))
    r = run("test", tmp_path)
    assert r.exit_code == 0, r.output
    # fieldPath narrows the data first
    entry["fieldPath"] = "[?metadata.name == 'a']"
    test["results"][0]["result"] = "pass"
    (tmp_path / "kyverno-test.yaml").write_text(yaml.safe_dump(test))
    r = run("test", tmp_path)
    assert r.exit_code == 0, r.output


def test_global_context_entry_with_two_sources_is_an_error(run, tmp_path):
    test = {"apiVersion": "cli.kyverno.io/v1alpha1", "kind": "Test", "metadata": {"name": "g"},
            "policies": ["policy.yaml"], "resources": ["resources.yaml"],
            "globalContextEntries": [{"name": "x", "data": {"a": 1}, "resources": [deployment("a", 1)]}],
            "results": [{"policy": "replica-budget", "rule": "budget", "resources": ["new"], "result": "fail"}]}
    (tmp_path / "policy.yaml").write_text(GCTX_POLICY)
    (tmp_path / "resources.yaml").write_text(yaml.safe_dump(deployment("new", 1)))
    (tmp_path / "kyverno-test.yaml").write_text(yaml.safe_dump(test))
    r = run("test", tmp_path)
    assert r.exit_code == 1
    assert "globalContextEntries[0]: give one of data, resources and resourceFiles, not data and resources" \
        in r.output


def test_a_global_context_path_that_fails_is_an_error_naming_the_field(run, tmp_path):
    test = {"apiVersion": "cli.kyverno.io/v1alpha1", "kind": "Test", "metadata": {"name": "g"},
            "policies": ["policy.yaml"], "resources": ["resources.yaml"],
            "globalContextEntries": [{"name": "x", "data": {"a": 1},
                                      "projections": [{"name": "p", "path": "deployments"}]}],
            "results": [{"policy": "replica-budget", "rule": "budget", "resources": ["new"], "result": "fail"}]}
    (tmp_path / "policy.yaml").write_text(GCTX_POLICY)
    (tmp_path / "resources.yaml").write_text(yaml.safe_dump(deployment("new", 1)))
    (tmp_path / "kyverno-test.yaml").write_text(yaml.safe_dump(test))
    r = run("test", tmp_path)
    assert r.exit_code == 1 and "internal error" not in r.output
    assert "kyverno-test.yaml: globalContextEntries[0].projections[0].path: deployments: Unknown key" in r.output


def test_global_context_projections_are_what_the_entry_holds(run, tmp_path):
    """An entry with projections holds {projection: value}, for JMESPath globalReference and CEL alike."""
    (tmp_path / "policy.yaml").write_text(GCTX_POLICY.replace('jmesPath: "length(@)"',
                                                              'jmesPath: "items | length(@)"'))
    (tmp_path / "vpol.yaml").write_text("""apiVersion: policies.kyverno.io/v1
kind: ValidatingPolicy
metadata: {name: budget-cel}
spec:
  matchConstraints:
    resourceRules: [{apiGroups: [apps], apiVersions: [v1], operations: [CREATE], resources: [deployments]}]
  validations:
  - expression: size(globalContext.Get('deployments', 'items')) < 2 && size(globalContext.Get('deployments', '').items) < 2
    message: too many deployments
""")
    (tmp_path / "resources.yaml").write_text(yaml.safe_dump(deployment("new", 1)))
    entry = {"name": "deployments", "data": {"all": [{"name": "a"}, {"name": "b"}]},
             "projections": [{"name": "items", "path": "all"}]}
    test = {"apiVersion": "cli.kyverno.io/v1alpha1", "kind": "Test", "metadata": {"name": "g"},
            "policies": ["policy.yaml", "vpol.yaml"], "resources": ["resources.yaml"],
            "globalContextEntries": [entry],
            "results": [{"policy": "replica-budget", "rule": "budget", "resources": ["new"], "result": "fail"},
                        {"policy": "budget-cel", "resources": ["new"], "result": "fail"}]}
    (tmp_path / "kyverno-test.yaml").write_text(yaml.safe_dump(test))
    r = run("test", tmp_path)
    assert r.exit_code == 0, r.output
    assert "Test Summary: 2 tests passed and 0 tests failed" in r.stdout


def test_cel_lookups_read_the_cluster_the_test_describes(run, tmp_path):
    """With clusterResources, resource.Get/List read that cluster (its objects, the resources under test,
    targets and params) instead of the Context file, as Kyverno's CLI does."""
    (tmp_path / "vpol.yaml").write_text("""apiVersion: policies.kyverno.io/v1
kind: ValidatingPolicy
metadata: {name: quota-exists}
spec:
  matchConstraints:
    resourceRules: [{apiGroups: [apps], apiVersions: [v1], operations: [CREATE], resources: [deployments]}]
  variables:
  - name: quota
    expression: resource.Get('v1', 'resourcequotas', object.metadata.namespace, 'compute')
  validations:
  - expression: variables.quota != null && size(resource.List('apps/v1', 'deployments', object.metadata.namespace).items) >= 1
    message: the namespace needs a compute quota
""")
    (tmp_path / "resources.yaml").write_text(yaml.safe_dump_all([
        {**deployment("web", 1), "metadata": {"name": "web", "namespace": "shop"}},
        {**deployment("api", 1), "metadata": {"name": "api", "namespace": "empty"}}]))
    (tmp_path / "cluster.yaml").write_text(yaml.safe_dump({
        "apiVersion": "cli.kyverno.io/v1alpha1", "kind": "ClusterResource", "metadata": {"name": "c"},
        "spec": {"resources": [{"apiVersion": "v1", "kind": "ResourceQuota",
                                "metadata": {"name": "compute", "namespace": "shop"}}]}}))
    test = {"apiVersion": "cli.kyverno.io/v1alpha1", "kind": "Test", "metadata": {"name": "c"},
            "policies": ["vpol.yaml"], "resources": ["resources.yaml"], "clusterResources": ["cluster.yaml"],
            "results": [{"policy": "quota-exists", "resources": ["shop/web"], "result": "pass"},
                        {"policy": "quota-exists", "resources": ["empty/api"], "result": "fail"}]}
    (tmp_path / "kyverno-test.yaml").write_text(yaml.safe_dump(test))
    r = run("test", tmp_path)
    assert r.exit_code == 0, r.output
    assert "Test Summary: 2 tests passed and 0 tests failed" in r.stdout


@pytest.mark.parametrize("entry,where", [
    ("- metadata: {name: {a: 1}}", "namespaces[0].metadata.name: Input should be a valid string"),
    ("- [prod]", "namespaces[0]: Input should be a valid dictionary"),
    ("- metadata: {name: prod, labels: {env: [a]}}", "namespaces[0].metadata.labels.env"),
])
def test_values_namespaces_are_namespace_objects(run, tmp_path, entry, where):
    suite(tmp_path, RESULTS)
    (tmp_path / "bad.yaml").write_text(f"apiVersion: cli.kyverno.io/v1alpha1\nkind: Values\nnamespaces:\n{entry}\n")
    r = run("apply", tmp_path / "policies.yaml", "-r", tmp_path / "resources.yaml", "-f", tmp_path / "bad.yaml")
    assert r.exit_code == 1 and f"bad.yaml (document 1): {where}" in r.stderr


def test_a_global_context_entry_with_projections_is_a_map_of_them(run, tmp_path):
    (tmp_path / "policy.yaml").write_text(GCTX_POLICY.replace('jmesPath: "length(@)"', 'jmesPath: "names | length(@)"'))
    (tmp_path / "resources.yaml").write_text(yaml.safe_dump(deployment("new", 1)))
    test = {"apiVersion": "cli.kyverno.io/v1alpha1", "kind": "Test", "metadata": {"name": "g"},
            "policies": ["policy.yaml"], "resources": ["resources.yaml"],
            "globalContextEntries": [{"name": "deployments", "data": {"items": [{"name": "a"}, {"name": "b"}]},
                                      "projections": [{"name": "names", "path": "items[].name"}]}],
            "results": [{"policy": "replica-budget", "rule": "budget", "resources": ["new"], "result": "fail"}]}
    (tmp_path / "kyverno-test.yaml").write_text(yaml.safe_dump(test))
    r = run("test", tmp_path, "--detailed-results")
    assert r.exit_code == 0, r.output
    assert "too many deployments: 2" in r.stdout
