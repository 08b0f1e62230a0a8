"""``verno test --coverage``: rules exercised (pass/fail), never exercised, never matching; vacuous expectations
are errors; ``--min-coverage``; table and JSON."""
from __future__ import annotations

import json

import pytest

POLICY = """\
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: cov
spec:
  validationFailureAction: Audit
  rules:
    - name: team-label
      match:
        any:
          - resources:
              kinds: [Pod]
      validate:
        message: "a team label is required"
        pattern:
          metadata:
            labels:
              team: "?*"
    - name: untested
      match:
        any:
          - resources:
              kinds: [Service]
      validate:
        message: "no"
        deny: {}
    - name: typo-kind
      match:
        any:
          - resources:
              kinds: [Pdo, Pod/exec]
      validate:
        message: "never"
        deny: {}
    - name: contradiction
      match:
        any:
          - resources:
              kinds: [Pod]
              selector:
                matchLabels: {tier: web}
                matchExpressions:
                  - {key: tier, operator: NotIn, values: [web]}
      validate:
        message: "never"
        deny: {}
    - name: excluded-namespace
      match:
        any:
          - resources:
              kinds: [Pod]
              namespaces: [shop]
      exclude:
        any:
          - resources:
              namespaces: [shop, kube-system]
      validate:
        message: "never"
        deny: {}
"""

PODS = """\
apiVersion: v1
kind: Pod
metadata: {name: good, namespace: shop, labels: {team: a}}
spec: {containers: [{name: c, image: nginx}]}
---
apiVersion: v1
kind: Pod
metadata: {name: bad, namespace: shop}
spec: {containers: [{name: c, image: nginx}]}
"""

TEST = """\
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata: {name: cov}
policies: [policy.yaml]
resources: [pods.yaml]
results:
  - {policy: cov, rule: team-label, resources: [good], kind: Pod, result: pass}
  - {policy: cov, rule: team-label, resources: [bad], kind: Pod, result: fail}
"""


@pytest.fixture
def suite(tmp_path):
    (tmp_path / "policy.yaml").write_text(POLICY)
    (tmp_path / "pods.yaml").write_text(PODS)
    (tmp_path / "kyverno-test.yaml").write_text(TEST)
    return tmp_path


def _json(run, *args):
    r = run("test", *args, "--coverage", "--coverage-format", "json")
    start = r.stdout.index("{\n")
    return r, json.loads(r.stdout[start:])


def test_coverage_counts_rules_exercised_and_never_exercised(run, suite):
    r, cov = _json(run, suite)
    rules = {x["rule"]: x for x in cov["rules"]}
    assert rules["team-label"]["results"] == {"fail": 1, "pass": 1} and rules["team-label"]["exercised"]
    assert not rules["untested"]["exercised"] and rules["untested"]["neverMatches"] == []
    assert cov["summary"]["rules"] == 5 and cov["summary"]["exercised"] == 1
    assert cov["summary"]["percent"] == 20.0
    assert r.exit_code == 0  # no vacuous expectation, no --min-coverage


def test_coverage_finds_rules_that_can_never_match(run, suite):
    _, cov = _json(run, suite)
    rules = {x["rule"]: x["neverMatches"] for x in cov["rules"]}
    assert rules["typo-kind"] == []  # Pod/exec (a subresource of a known kind) can match
    (suite / "policy.yaml").write_text(POLICY.replace("kinds: [Pdo, Pod/exec]", "kinds: [Pdo, v1/Pdo/exec]"))
    _, cov = _json(run, suite)
    rules = {x["rule"]: x["neverMatches"] for x in cov["rules"]}
    assert rules["typo-kind"] == ["kind Pdo is served by no known API group",
                                  "kind v1/Pdo/exec is served by no known API group"]
    assert rules["contradiction"] == ["selector has matchLabels tier=web and tier NotIn ['web']"]
    assert rules["excluded-namespace"] == ["namespaces shop are all removed by the rule's exclude"]
    assert rules["team-label"] == [] and rules["untested"] == []
    assert cov["summary"]["neverMatching"] == 3


def test_a_kind_of_the_suites_own_resources_is_known(run, suite):
    (suite / "policy.yaml").write_text(POLICY.replace("kinds: [Pdo, Pod/exec]", "kinds: [Widget]"))
    (suite / "pods.yaml").write_text(PODS + "---\napiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n")
    _, cov = _json(run, suite)
    assert {x["rule"]: x["neverMatches"] for x in cov["rules"]}["typo-kind"] == []


@pytest.mark.parametrize("expectation, problem", [
    ("{policy: nope, rule: team-label, resources: [good], kind: Pod, result: pass}",
     "names no policy or resource the Test loads"),
    ("{policy: cov, rule: nope, resources: [good], kind: Pod, result: pass}", "names no rule of the policy"),
    ("{policy: cov, rule: team-label, resources: [ghost], kind: Pod, result: pass}",
     "names no policy or resource the Test loads"),
    ("{policy: cov, rule: untested, resources: [good], kind: Pod, result: pass}",
     "the rule never applied to the resource"),
])
def test_vacuous_expectations_are_errors(run, suite, expectation, problem):
    (suite / "kyverno-test.yaml").write_text(TEST + f"  - {expectation}\n")
    r, cov = _json(run, suite)
    assert [v["problem"] for v in cov["vacuousExpectations"]] == [problem]
    assert r.exit_code == 1
    assert "1 vacuous expectation(s)" in r.stderr


def test_an_excluded_row_expecting_skip_is_not_vacuous(run, suite):
    (suite / "kyverno-test.yaml").write_text(
        TEST + "  - {policy: cov, rule: untested, resources: [good], kind: Pod, result: skip}\n")
    r, cov = _json(run, suite)
    assert cov["vacuousExpectations"] == [] and r.exit_code == 0


def test_excluded_rows_still_pass_without_coverage(run, suite):
    """Kyverno's counting of the rows is unchanged: an Excluded row passes without --coverage."""
    (suite / "kyverno-test.yaml").write_text(
        TEST + "  - {policy: cov, rule: untested, resources: [good], kind: Pod, result: pass}\n")
    assert run("test", suite).exit_code == 0


def test_min_coverage(run, suite):
    r = run("test", suite, "--min-coverage", "20")
    assert r.exit_code == 0, r.stderr
    r = run("test", suite, "--min-coverage", "50")
    assert r.exit_code == 1
    assert "rule coverage 20.0% is below --min-coverage 50%" in r.stderr
    assert "Coverage: 1 of 5 rules exercised (20.0%), 4 never exercised, 2 can never match" in r.stdout


def test_coverage_table_lists_rules_and_notes(run, suite):
    r = run("test", suite, "--coverage")
    table = r.stdout[r.stdout.index("Coverage:"):]
    assert "never exercised" in table and "selector has matchLabels tier=web" in table
    assert "│ cov " in table


def test_coverage_json_stays_off_stdout_with_an_output_format(run, suite):
    r = run("test", suite, "-o", "json", "--coverage", "--coverage-format", "json")
    assert json.loads(r.stdout)["summary"]["passed"] == 2
    assert '"neverMatching": 2' in r.stderr
