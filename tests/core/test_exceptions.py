from __future__ import annotations

from typing import Any

import yaml
from click.testing import CliRunner

from verno.cli.main import cli
from verno.core.engine import Engine
from verno.core.errors import ConditionError
from verno.core.exceptions import PreparedException, exception_matches, prepare_exception
from verno.core.models.exception import PolicyException
from verno.core.models.policy import Policy
from verno.core.request import Request
from verno.core.results import Status


class FakeRC:
    def __init__(self, result=(True, ""), raises=False):
        self.result, self.raises, self.calls = result, raises, 0

    def check_conditions(self, conditions):
        self.calls += 1
        if self.raises:
            raise ConditionError("bad operator")
        return self.result


def exc(match: dict[str, Any], conditions=None) -> PolicyException:
    spec: dict[str, Any] = {"match": match, "exceptions": [{"policyName": "p", "ruleNames": ["r"]}]}
    if conditions is not None:
        spec["conditions"] = conditions
    return PolicyException.model_validate({"apiVersion": "kyverno.io/v2", "kind": "PolicyException",
                                           "metadata": {"name": "e", "namespace": "kyverno"}, "spec": spec})


def pod(name="web", ns="default", **kw):
    return Request({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns}}, **kw)


def test_any_and_all():
    e = exc({"any": [{"resources": {"kinds": ["Pod"], "names": ["web*"]}}]})
    assert exception_matches(e, pod(), FakeRC())
    assert not exception_matches(e, pod("db"), FakeRC())
    e = exc({"all": [{"resources": {"kinds": ["Pod"]}}, {"resources": {"namespaces": ["delta"]}}]})
    assert not exception_matches(e, pod(), FakeRC())
    assert exception_matches(e, pod(ns="delta"), FakeRC())


def test_direct_and_empty_match_nothing():
    assert not exception_matches(exc({"resources": {"kinds": ["Pod"]}}), pod(), FakeRC())
    assert not exception_matches(exc({"any": [{}]}), pod(), FakeRC())


def test_user_info_is_not_dropped():
    e = exc({"any": [{"resources": {"kinds": ["Pod"]}, "subjects": [{"kind": "User", "name": "bob"}]}]})
    assert not exception_matches(e, pod(), FakeRC())
    assert exception_matches(e, pod(user_info={"username": "bob"}), FakeRC())


def test_namespace_selector_skipped_for_namespace():
    e = exc({"any": [{"resources": {"kinds": ["Namespace", "Pod"], "namespaceSelector": {"matchLabels": {"a": "b"}}}}]})
    ns = Request({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}})
    assert exception_matches(e, ns, FakeRC())
    assert not exception_matches(e, pod(), FakeRC())
    assert exception_matches(e, pod(namespace_labels={"a": "b"}), FakeRC())


def test_conditions():
    conds = {"any": [{"key": "{{ request.object.metadata.name }}", "operator": "Equals", "value": "web"}]}
    e = exc({"any": [{"resources": {"kinds": ["Pod"]}}]}, conds)
    rc = FakeRC((True, ""))
    assert exception_matches(e, pod(), rc) and rc.calls == 1
    assert not exception_matches(e, pod(), FakeRC((False, "no")))
    assert not exception_matches(e, pod(), FakeRC(raises=True))
    rc = FakeRC()
    assert not exception_matches(e, Request({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}}), rc)
    assert rc.calls == 0


def test_prepared_once():
    e = exc({"any": [{"resources": {"kinds": ["Pod"]}}]})
    p = prepare_exception(e)
    assert isinstance(p, PreparedException)
    assert prepare_exception(e) is p
    assert exception_matches(p, pod(), FakeRC())


# -- which rules an exception names -------------------------------------------------------------------
# An exception that names one rule of a policy must skip that rule (and the autogen rules derived from
# it) and nothing else: skipping a sibling rule turns its failure into a skip, a silent bypass.

def named(policy_name: str, rule_names: list[str], kinds=("Pod", "Deployment")) -> PolicyException:
    return PolicyException.model_validate({
        "apiVersion": "kyverno.io/v2", "kind": "PolicyException",
        "metadata": {"name": "only-r1", "namespace": "default"},
        "spec": {"exceptions": [{"policyName": policy_name, "ruleNames": rule_names}],
                 "match": {"any": [{"resources": {"kinds": list(kinds), "names": ["bad*"]}}]}}})


def test_rule_names_cover_their_rule_and_its_autogen_rules_only():
    e = named("two-rules", ["r1"])
    assert e.applies_to("two-rules", "r1")
    assert e.applies_to("two-rules", "autogen-r1")
    assert e.applies_to("two-rules", "autogen-cronjob-r1")
    for other in ("r2", "autogen-r2", "autogen-cronjob-r2", "r10", "xr1", "autogen-r10", "autogen-"):
        assert not e.applies_to("two-rules", other), other
    assert not e.applies_to("other-policy", "r1")


def test_rule_name_wildcards_and_several_names():
    e = named("two-*", ["r?", "check-*"])
    assert e.applies_to("two-rules", "r1") and e.applies_to("two-rules", "autogen-r2")
    assert e.applies_to("two-rules", "check-team")
    assert not e.applies_to("two-rules", "r10") and not e.applies_to("one-rule", "r1")
    e = named("two-rules", ["r1", "r3"])
    assert [n for n in ("r1", "r2", "r3") if e.applies_to("two-rules", n)] == ["r1", "r3"]


def test_namespaced_policy_is_named_with_its_namespace():
    e = named("team/two-rules", ["r1"])
    assert e.applies_to("team/two-rules", "r1")
    assert not e.applies_to("two-rules", "r1") and not e.applies_to("other/two-rules", "r1")
    assert not e.applies_to("team/two-rules", "r2")


TWO_RULES = """\
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: two-rules}
spec:
  validationFailureAction: Enforce
  rules:
  - name: r1
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate: {message: "label team is required", pattern: {metadata: {labels: {team: "?*"}}}}
  - name: r2
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate: {message: "label owner is required", pattern: {metadata: {labels: {owner: "?*"}}}}
"""

EXCEPTION_R1 = """\
apiVersion: kyverno.io/v2
kind: PolicyException
metadata: {name: only-r1, namespace: default}
spec:
  exceptions:
  - policyName: two-rules
    ruleNames: [r1]
  match:
    any:
    - resources: {kinds: [Pod, Deployment], names: [bad*]}
"""

RESOURCES = """\
apiVersion: v1
kind: Pod
metadata: {name: bad, namespace: default}
spec: {containers: [{name: c, image: nginx}]}
---
apiVersion: v1
kind: Pod
metadata: {name: good, namespace: default, labels: {team: a, owner: b}}
spec: {containers: [{name: c, image: nginx}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: bad-deploy, namespace: default}
spec:
  selector: {matchLabels: {app: x}}
  template:
    metadata: {labels: {app: x}}
    spec: {containers: [{name: c, image: nginx}]}
"""


def _evaluate(resource: dict, exceptions) -> list[tuple[str, Status]]:
    engine = Engine()
    [policy] = [engine.prepare(Policy.model_validate(d)) for d in yaml.safe_load_all(TWO_RULES)]
    [response] = engine.evaluate([policy], Request(resource), exceptions=exceptions)
    return [(r.name, r.status) for r in response.rules]


def test_engine_skips_the_named_rule_and_still_fails_its_sibling():
    bad_pod, good_pod, bad_deploy = yaml.safe_load_all(RESOURCES)
    [e] = yaml.safe_load_all(EXCEPTION_R1)
    e = PolicyException.model_validate(e)
    assert _evaluate(bad_pod, []) == [("r1", Status.FAIL), ("r2", Status.FAIL)]
    assert _evaluate(bad_pod, [e]) == [("r1", Status.SKIP), ("r2", Status.FAIL)]
    assert _evaluate(good_pod, [e]) == [("r1", Status.PASS), ("r2", Status.PASS)]
    # autogen: the exception names r1, so it covers autogen-r1 of a Deployment, not autogen-r2
    assert _evaluate(bad_deploy, [e]) == [("autogen-r1", Status.SKIP), ("autogen-r2", Status.FAIL)]
    # a CronJob gets autogen-cronjob-<rule>; the exception must name the kind to match it
    cron = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "bad-cron", "namespace": "default"},
            "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": {
                "metadata": {}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}}}
    e_cron = named("two-rules", ["r1"], kinds=("CronJob",))
    assert _evaluate(cron, [e_cron]) == [("autogen-cronjob-r1", Status.SKIP), ("autogen-cronjob-r2", Status.FAIL)]


def test_engine_skip_names_the_exception():
    [bad_pod] = list(yaml.safe_load_all(RESOURCES))[:1]
    engine = Engine()
    [policy] = [engine.prepare(Policy.model_validate(d)) for d in yaml.safe_load_all(TWO_RULES)]
    [response] = engine.evaluate([policy], Request(bad_pod), exceptions=[named("two-rules", ["r1"])])
    r1, r2 = response.rules
    assert r1.exception == "default/only-r1" and r1.message == "rule is skipped due to policy exceptions"
    assert r2.exception is None and r2.status == Status.FAIL


def test_apply_with_exception_file_counts_and_exit_code(tmp_path):
    (tmp_path / "policy.yaml").write_text(TWO_RULES)
    (tmp_path / "exception.yaml").write_text(EXCEPTION_R1)
    (tmp_path / "resources.yaml").write_text(RESOURCES)
    args = ["apply", str(tmp_path / "policy.yaml"), "-r", str(tmp_path / "resources.yaml")]
    r = CliRunner().invoke(cli, args + ["-e", str(tmp_path / "exception.yaml")], catch_exceptions=False)
    assert r.exit_code == 1, r.output
    assert "Applying 6 policy rule(s) to 3 resource(s) with 1 exception(s)..." in r.stdout
    assert "policy two-rules -> resource default/Pod/bad failed:\n1 - r2 validation error: label owner is required." \
        in r.stdout
    assert "policy two-rules -> resource default/Deployment/bad-deploy failed:\n1 - autogen-r2 validation error: " \
        "label owner is required." in r.stdout
    assert " - r1 " not in r.stdout and " - autogen-r1 " not in r.stdout
    # r1 and autogen-r1 skipped on the excepted resources; r2 and autogen-r2 still fail there
    assert r.stdout.endswith("pass: 2, fail: 2, warn: 0, error: 0, skip: 2 \n")
    # without the exception every rule runs
    r = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert r.exit_code == 1
    assert r.stdout.endswith("pass: 2, fail: 4, warn: 0, error: 0, skip: 0 \n")
