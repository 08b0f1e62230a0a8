"""core/cel/exceptions.py: policies.kyverno.io PolicyExceptions for CEL policies."""
from __future__ import annotations

import pytest

from verno.core.cel import environment_for
from verno.core.cel.exceptions import COMPANION, exception_rule, exceptions_for, match_exceptions
from verno.core.results import Status


def exc(name, condition="true", *, kind="ValidatingPolicy", policy="p", namespace="", priority=None, **spec):
    meta = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    if priority is not None:
        meta["labels"] = {"polex.kyverno.io/priority": str(priority)}
    return {"apiVersion": "policies.kyverno.io/v1", "kind": "PolicyException", "metadata": meta,
            "spec": {"policyRefs": [{"name": policy, "kind": kind}],
                     "matchConditions": [{"name": "c", "expression": condition}], **spec}}


@pytest.fixture(scope="module")
def env():
    return environment_for("ValidatingPolicy")


def outcome(env, docs, obj, kind="ValidatingPolicy", memo=None):
    compiled = exceptions_for(kind, "p", {COMPANION: docs}, env, memo if memo is not None else {})
    return match_exceptions(compiled, {"object": obj, "oldObject": None})


def test_policy_refs_match_by_exact_kind_and_name(env):
    docs = [exc("a", kind="NamespacedValidatingPolicy"), exc("b", policy="other"), exc("c")]
    assert [e.name for e in outcome(env, docs, {}).exempt] == ["c"]
    assert [e.name for e in outcome(env, docs, {}, kind="NamespacedValidatingPolicy").exempt] == ["a"]


def test_conditions_all_true(env):
    docs = [exc("a", "object.name == 'x'"), exc("b", "object.name == 'y'")]
    assert [e.name for e in outcome(env, docs, {"name": "y"}).exempt] == ["b"]
    assert outcome(env, docs, {"name": "z"}).exempt == []


def test_priority_chooses_the_report_result(env):
    docs = [exc("a", reportResult="pass"), exc("b", priority=5), exc("c", reportResult="pass", priority=7)]
    assert outcome(env, docs, {}).report_result == "pass"
    assert outcome(env, docs[:2], {}).report_result == "skip"
    assert outcome(env, [docs[0], exc("d")], {}).report_result == "pass"  # a tie: the first one


def test_rule_messages_and_keys(env):
    result = outcome(env, [exc("a", namespace="ops"), exc("b")], {})
    rule = exception_rule(result, "Validation")
    assert (rule.name, rule.status) == ("exception", Status.SKIP)
    assert rule.message == "rule is skipped due to policy exception: ops/a, b"
    passed = exception_rule(outcome(env, [exc("a", namespace="ops", reportResult="pass")], {}), "Validation")
    assert (passed.status, passed.message) == (Status.PASS, "rule is passed due to policy exception: ops/a")


def test_partial_exceptions_union(env):
    docs = [exc("a", images=["x:1", "y:1"]), exc("b", images=["y:1"], allowedValues=["v"]), exc("c", "false",
                                                                                               images=["z"])]
    result = outcome(env, docs, {})
    assert result.exempt == [] and [e.name for e in result.partial] == ["a", "b"]
    assert result.variable() == {"allowedImages": ["x:1", "y:1"], "allowedValues": ["v"]}
    assert outcome(env, [], {}).variable() == {"allowedImages": [], "allowedValues": []}


def test_errors(env):
    broken = exc("bad", "object.missing == 1")
    assert outcome(env, [broken], {}).error is not None
    assert outcome(env, [broken, exc("ok")], {}).error is None  # a full exemption wins
    # a false condition wins over another condition's error
    doc = exc("mixed")
    doc["spec"]["matchConditions"] = [{"name": "a", "expression": "object.missing == 1"},
                                      {"name": "b", "expression": "false"}]
    result = outcome(env, [doc], {})
    assert result.error is None and result.exempt == []
    # a condition that does not compile is an error when evaluated, naming the expression
    result = outcome(env, [exc("dyn", "object.flag")], {"flag": True})
    assert result.error is not None and "expected to be of type bool" in str(result.error)


def test_compiled_once_per_run(env):
    docs = [exc("a")]
    memo: dict = {}
    first = exceptions_for("ValidatingPolicy", "p", {COMPANION: docs}, env, memo)
    assert exceptions_for("ValidatingPolicy", "p", {COMPANION: docs}, env, memo) is first
