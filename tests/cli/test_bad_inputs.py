"""Bad inputs: one ``Error: `` line on stderr naming the file (and document/field), exit 1, no traceback,
never a hang. Every case runs the real ``verno`` executable with a timeout."""
from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parent.parent / "data" / "cli"
POLICY = (DATA / "policies/require-team-label.yaml").read_text()
DENY_POLICY = (DATA / "policies/no-default-namespace.yaml").read_text()
PODS = str(DATA / "resources/pods.yaml")
TIMEOUT = 60


def _bomb() -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [" + ",".join(["*" + prev] * 9) + "]")
    return "apiVersion: v1\nkind: Pod\nmetadata: {name: bomb}\n" + "\n".join(lines) + "\n"


def _deep_flow() -> str:
    return "[" * 10000 + "]" * 10000 + "\n"


def _deep_block() -> str:
    body = "".join("  " * (i + 1) + "a:\n" for i in range(10000))
    return "apiVersion: v1\nkind: Pod\nmetadata: {name: deep}\nspec:\n" + body + "  " * 10001 + "x: 1\n"


SELF_JMESPATH = """apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: selfref}
spec:
  validationFailureAction: Enforce
  rules:
    - name: loop
      match: {any: [{resources: {kinds: [Pod]}}]}
      context:
        - name: a
          variable: {jmesPath: a}
      validate:
        message: "x {{ a }}"
        deny:
          conditions:
            any:
              - {key: "{{ a }}", operator: Equals, value: z}
"""
SELF_VALUE = SELF_JMESPATH.replace("{jmesPath: a}", '{value: "{{a}}"}')

# (id, files {name: text or callable}, args ({tmp} is the temp dir), substrings the error line must contain)
CASES = [
    ("malformed-yaml", {"p.yaml": "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: x\nspec: {}\n"},
     ["apply", "{tmp}/p.yaml", "-r", PODS], ["p.yaml", "line "]),
    ("malformed-json-resource", {"r.json": '{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"'},
     ["apply", "{tmp}/p.yaml", "-r", "{tmp}/r.json"], ["r.json", "line "]),
    ("unknown-policy-field", {"p.yaml": POLICY.replace("      validate:", "      validat:")},
     ["apply", "{tmp}/p.yaml", "-r", PODS], ["p.yaml (document 1)", "spec.rules[0].validat", "unknown field"]),
    ("wrong-type", {"p.yaml": POLICY.replace("validationFailureAction: Enforce", "validationFailureAction: 5")},
     ["apply", "{tmp}/p.yaml", "-r", PODS], ["p.yaml (document 1)", "spec.validationFailureAction"]),
    ("missing-policy-file", {}, ["apply", "{tmp}/nope.yaml", "-r", PODS], ["nope.yaml", "no such file"]),
    ("missing-resource-file", {}, ["apply", "{tmp}/p.yaml", "-r", "{tmp}/gone.yaml"], ["gone.yaml", "no such file"]),
    ("missing-exception-file", {}, ["apply", "{tmp}/p.yaml", "-r", PODS, "-e", "{tmp}/exc.yaml"], ["exc.yaml"]),
    ("unknown-operator", {"p.yaml": DENY_POLICY.replace("operator: Equals", "operator: Equalz")},
     ["apply", "{tmp}/p.yaml", "-r", PODS], ["p.yaml (document 1)", "operator", "Equalz"]),
    ("bad-jmespath", {"p.yaml": DENY_POLICY.replace("metadata.name }}", "metadata.name[ }}")},
     ["apply", "{tmp}/p.yaml", "-r", PODS], ["p.yaml (document 1)", "deny-default", "validate.message", "JMESPath"]),
    ("alias-bomb", {"r.yaml": _bomb}, ["apply", "{tmp}/p.yaml", "-r", "{tmp}/r.yaml"], ["r.yaml", "alias"]),
    ("deep-flow-policy", {"deep.yaml": _deep_flow}, ["apply", "{tmp}/deep.yaml", "-r", PODS], ["deep.yaml", "nested"]),
    ("deep-flow-resource", {"deep.yaml": _deep_flow}, ["apply", "{tmp}/p.yaml", "-r", "{tmp}/deep.yaml"],
     ["deep.yaml", "nested"]),
    ("deep-block-resource", {"deep.yaml": _deep_block}, ["apply", "{tmp}/p.yaml", "-r", "{tmp}/deep.yaml"],
     ["deep.yaml", "nested"]),
    ("resource-without-kind", {"r.yaml": "apiVersion: v1\nmetadata: {name: x}\n"},
     ["apply", "{tmp}/p.yaml", "-r", "{tmp}/r.yaml"], ["r.yaml (document 1)", "kind"]),
    ("resource-not-a-mapping", {"r.yaml": "- a\n- b\n"}, ["apply", "{tmp}/p.yaml", "-r", "{tmp}/r.yaml"],
     ["r.yaml (document 1)"]),
    ("not-utf8", {"r.yaml": b"\xff\xfe\x00garbage"}, ["apply", "{tmp}/p.yaml", "-r", "{tmp}/r.yaml"],
     ["r.yaml", "UTF-8"]),
    ("policy-without-name", {"p.yaml": POLICY.replace("  name: require-team-label\n", "")},
     ["apply", "{tmp}/p.yaml", "-r", PODS], ["p.yaml (document 1)", "metadata"]),
    ("rule-without-body", {"p.yaml": POLICY.split("      validate:")[0]},
     ["apply", "{tmp}/p.yaml", "-r", PODS], ["p.yaml (document 1)", "spec.rules[0]"]),
    ("values-deprecated-schema", {"v.yaml": "globalValues: {a: b}\n"},
     ["apply", "{tmp}/p.yaml", "-r", PODS, "-f", "{tmp}/v.yaml"], ["v.yaml", "deprecated schema"]),
    ("userinfo-deprecated-schema", {"u.yaml": "clusterRoles: [x]\n"},
     ["apply", "{tmp}/p.yaml", "-r", PODS, "-u", "{tmp}/u.yaml"], ["u.yaml", "deprecated schema"]),
    ("invalid-set-pair", {}, ["apply", "{tmp}/p.yaml", "-r", PODS, "-s", "novalue"], ["--set", "novalue"]),
    ("set-empty-key", {}, ["apply", "{tmp}/p.yaml", "-r", PODS, "-s", "a=b,=x"], ["--set", "empty key"]),
    ("malformed-policy-stdin", {}, ["apply", "-", "-r", PODS], ["- (document 1)", "line "]),
    ("test-missing-path", {}, ["test", "{tmp}/nowhere"], ["nowhere", "no such file"]),
    ("test-malformed-test-file", {"kyverno-test.yaml": "apiVersion: [\n"}, ["test", "{tmp}"],
     ["Error: "]),
    ("jp-bad-expression", {}, ["jp", "query", "a[", "-i", PODS.replace("pods.yaml", "configmap.json")],
     ["JMESPath"]),
    ("jp-malformed-input", {"in.yaml": "a: [\n"}, ["jp", "query", "a", "-i", "{tmp}/in.yaml"], ["in.yaml", "line "]),
]
STDIN = {"malformed-policy-stdin": "kind: [unclosed\n"}


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input(case, tmp_path, run_exe):
    name, files, args, needles = case
    (tmp_path / "p.yaml").write_text(POLICY)
    for fname, content in files.items():
        text = content() if callable(content) else content
        path = tmp_path / fname
        path.write_bytes(text) if isinstance(text, bytes) else path.write_text(text)
    argv = [a.replace("{tmp}", str(tmp_path)) for a in args]
    start = time.monotonic()
    p = run_exe(*argv, input=STDIN.get(name, ""), timeout=TIMEOUT)
    assert time.monotonic() - start < TIMEOUT
    assert p.returncode == 1, (p.stdout, p.stderr)
    assert "Traceback" not in p.stdout + p.stderr
    assert "internal error" not in p.stderr
    err_lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert len(err_lines) == 1, p.stderr
    line = err_lines[0]
    assert line.startswith("Error: "), line
    if name == "test-malformed-test-file":  # the per-document error is in the report, the summary on stderr
        assert "kyverno-test.yaml" in p.stdout and "line " in p.stdout
    for needle in needles:
        assert needle in line, (needle, line)


@pytest.mark.parametrize("policy", [SELF_JMESPATH, SELF_VALUE], ids=["jmespath", "value"])
def test_self_referencing_variable_is_a_rule_error(policy, tmp_path, run_exe):
    (tmp_path / "p.yaml").write_text(policy)
    p = run_exe("apply", tmp_path / "p.yaml", "-r", PODS, timeout=TIMEOUT)
    assert p.returncode == 1
    assert "Traceback" not in p.stdout + p.stderr
    assert p.stdout.splitlines()[-1] == "pass: 0, fail: 0, warn: 0, error: 2, skip: 0 "


def test_policy_without_rules_is_accepted(tmp_path, run_exe):
    """Decision: a policy with no rules loads (Kyverno's CRD does not require rules) and applies nothing."""
    (tmp_path / "p.yaml").write_text("apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: empty}\n"
                                     "spec:\n  rules: []\n")
    p = run_exe("apply", tmp_path / "p.yaml", "-r", PODS, timeout=TIMEOUT)
    assert p.returncode == 0, p.stderr
    assert "Applying 0 policy rule(s) to 2 resource(s)..." in p.stdout
    assert p.stdout.splitlines()[-1] == "pass: 0, fail: 0, warn: 0, error: 0, skip: 0 "


def test_catastrophic_regex_is_answered(tmp_path, run_exe):
    (tmp_path / "p.yaml").write_text("""apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: redos}
spec:
  validationFailureAction: Enforce
  rules:
    - name: catastrophic
      match: {any: [{resources: {kinds: [ConfigMap]}}]}
      validate:
        message: "matched"
        deny:
          conditions:
            any:
              - key: "{{ regex_match('(a+)+$', request.object.data.v) }}"
                operator: Equals
                value: true
""")
    (tmp_path / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: big, namespace: x}\n"
                                      "data:\n  v: " + "a" * 50000 + "b\n")
    p = run_exe("apply", tmp_path / "p.yaml", "-r", tmp_path / "cm.yaml", timeout=TIMEOUT)
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines()[-1] == "pass: 1, fail: 0, warn: 0, error: 0, skip: 0 "


def test_large_multi_document_file(tmp_path, run_exe):
    docs = []
    for i in range(5000):
        labels = "{team: t}" if i % 2 else "{x: z}"
        docs.append(f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: p{i}\n  namespace: ns\n  labels: {labels}\n"
                    "spec:\n  containers: [{name: c, image: nginx}]\n")
    (tmp_path / "many.yaml").write_text("---\n".join(docs))
    (tmp_path / "p.yaml").write_text(POLICY)
    p = run_exe("apply", tmp_path / "p.yaml", "-r", tmp_path / "many.yaml", timeout=120)
    assert p.returncode == 1
    assert "Applying 3 policy rule(s) to 5000 resource(s)..." in p.stdout
    assert p.stdout.splitlines()[-1] == "pass: 2500, fail: 2500, warn: 0, error: 0, skip: 0 "
    assert len(re.findall(r"^policy require-team-label -> resource ns/Pod/p\d+ failed:$", p.stdout, re.M)) == 2500


@pytest.mark.parametrize("resource,where", [
    ("apiVersion: [v1]\nkind: Pod\nmetadata: {name: x}\n", "apiVersion: must be a string, got a list"),
    ("apiVersion: v1\nkind: [Pod]\nmetadata: {name: x}\n", "kind: must be a string, got a list"),
    ("apiVersion: v1\nkind: Pod\nmetadata: {name: [x]}\n", "metadata.name: must be a string, got a list"),
    ("apiVersion: v1\nkind: Pod\nmetadata: {name: x, namespace: {a: 1}}\n",
     "metadata.namespace: must be a string, got a mapping"),
    ("apiVersion: v1\nkind: Pod\nmetadata: {name: x, labels: [a, b]}\n",
     "metadata.labels: must be a mapping of strings, got a list"),
    ("apiVersion: v1\nkind: Pod\nmetadata: {name: x, labels: {team: [a]}}\n",
     "metadata.labels.team: must be a string, got a list"),
])
def test_resource_identity_fields_of_the_wrong_type(tmp_path, resource, where):
    """Before: an internal error (or, for a list-valued name or label, a silent pass)."""
    from click.testing import CliRunner

    from verno.cli.main import cli

    policy = tmp_path / "p.yaml"
    policy.write_text("apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: p}\nspec:\n  rules:\n"
                      "  - name: r\n    match: {any: [{resources: {kinds: [Pod], selector: {matchLabels: {team: a}}}}]}\n"
                      "    validate: {pattern: {metadata: {name: 'ok-*'}}}\n")
    (tmp_path / "r.yaml").write_text(resource)
    r = CliRunner().invoke(cli, ["apply", str(policy), "-r", str(tmp_path / "r.yaml")])
    assert r.exit_code == 1
    assert f"r.yaml (document 1): {where}" in r.output
    assert "internal error" not in r.output


def test_lone_surrogate_in_a_message_is_printed_escaped(tmp_path, run_exe):
    """A JMESPath quoted identifier ``"\\ud800"`` decodes to a lone surrogate that the parse error quotes;
    printing it on stdout used to fail with an encoding error that hid the real one."""
    (tmp_path / "p.yaml").write_text(
        "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: p}\nspec:\n  rules:\n"
        "  - name: r\n    match: {any: [{resources: {kinds: [Pod]}}]}\n    validate:\n"
        "      deny: {conditions: {any: [{key: '{{ request.object.metadata.a\"\\ud800\"b }}', "
        "operator: Equals, value: x}]}}\n")
    (tmp_path / "r.yaml").write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n")
    (tmp_path / "kyverno-test.yaml").write_text(
        "apiVersion: cli.kyverno.io/v1alpha1\nkind: Test\nmetadata: {name: t}\npolicies: [p.yaml]\n"
        "resources: [r.yaml]\nresults:\n- {policy: p, rule: r, kind: Pod, resources: [x], result: pass}\n")
    p = run_exe("test", tmp_path)
    assert p.returncode == 1
    assert "internal error" not in p.stdout + p.stderr and "UnicodeEncodeError" not in p.stdout + p.stderr
    assert "p.yaml (document 1): spec.rules[r]" in p.stdout and "\\ud800" in p.stdout
