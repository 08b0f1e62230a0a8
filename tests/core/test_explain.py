"""Decision traces (``Engine.evaluate(explain=True)``): what each step of a rule decided on."""
from __future__ import annotations

import types

from hypothesis import given, settings
from hypothesis import strategies as st

from verno.core.engine import Engine
from verno.core.hookspecs import hookimpl
from verno.core.models.policy import Policy
from verno.core.request import Request
from verno.core.results import Status
from verno.core.trace import MAX_ENTRIES, Trace, bounded, compact, trace_lines


def policy(name: str, rules: list[dict], **spec) -> Policy:
    return Policy.model_validate({"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy", "metadata": {"name": name},
                                  "spec": {"rules": rules, **spec}})


POD_MATCH = {"any": [{"resources": {"kinds": ["Deployment"]}}, {"resources": {"kinds": ["Pod"]}}]}


def pod(**meta) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "shop", **meta},
            "spec": {"containers": [{"name": "web", "image": "nginx:latest"},
                                    {"name": "side", "image": "registry.example.com/side:1.0"}]}}


def run(rules: list[dict], resource: dict, *, engine: Engine | None = None, explain: bool = True, **request):
    engine = engine or Engine()
    prepared = engine.prepare(policy("p", rules))
    [response] = engine.evaluate([prepared], Request(resource, **request), explain=explain)
    return response.rules


def steps(rule, step: str) -> list[dict]:
    return [e for e in rule.trace.entries if e["step"] == step]


def test_no_trace_unless_asked():
    [rule] = run([{"name": "tag", "match": POD_MATCH, "validate": {"pattern": {"spec": {"containers": [
        {"image": "!*:latest"}]}}}}], pod(), explain=False)
    assert rule.status == Status.FAIL and rule.trace is None


def test_match_names_the_clause_and_what_it_matched_on():
    [rule] = run([{"name": "tag", "match": POD_MATCH, "validate": {"pattern": {"spec": {"containers": [
        {"image": "!*:latest"}]}}}}], pod())
    assert steps(rule, "match") == [{"step": "match", "clause": "match.any[1]", "matched_on": {"kinds": "v1/Pod"}}]


def test_exclude_says_why_each_filter_did_not_exclude():
    rules = [{"name": "tag", "match": {"any": [{"resources": {"kinds": ["Pod"], "namespaces": ["shop"]}}]},
              "exclude": {"any": [{"resources": {"namespaces": ["kube-system"]}}]},
              "validate": {"pattern": {"spec": {"containers": [{"image": "!*:latest"}]}}}}]
    [rule] = run(rules, pod())
    assert steps(rule, "match")[0]["matched_on"] == {"kinds": "v1/Pod", "namespaces": "shop"}
    assert steps(rule, "exclude") == [{"step": "exclude", "clause": "exclude.any", "excluded": False,
                                       "why": ["[0] namespace does not match"]}]


def test_pattern_failure_gives_path_expected_and_found():
    [rule] = run([{"name": "tag", "match": POD_MATCH, "validate": {"pattern": {"spec": {"containers": [
        {"image": "!*:latest"}]}}}}], pod())
    [entry] = steps(rule, "pattern")
    assert entry["path"] == "/spec/containers/0/image/" == rule.path
    assert (entry["expected"], entry["found"], entry["result"]) == ("!*:latest", "nginx:latest", "fail")


def test_pattern_failure_on_an_absent_key_says_missing():
    [rule] = run([{"name": "labels", "match": POD_MATCH, "validate": {"message": "label app required",
                   "pattern": {"metadata": {"labels": {"app": "?*"}}}}}], pod())
    [entry] = steps(rule, "pattern")
    assert entry["missing"] is True and "found" not in entry
    assert entry["expected"] == {"app": "?*"} and entry["path"] == "/metadata/labels/"
    assert "expected {\"app\":\"?*\"}, found missing" in trace_lines(rule.trace.entries)[-1]


def test_pattern_value_null_is_not_missing():
    resource = pod(labels={"app": None})
    [rule] = run([{"name": "labels", "match": POD_MATCH, "validate": {
        "pattern": {"metadata": {"labels": {"app": "?*"}}}}}], resource)
    [entry] = steps(rule, "pattern")
    assert entry["found"] is None and "missing" not in entry


def test_any_pattern_records_each_alternative():
    rules = [{"name": "any", "match": POD_MATCH, "validate": {"anyPattern": [
        {"metadata": {"labels": {"app": "?*"}}}, {"spec": {"containers": [{"image": "registry.example.com/*"}]}}]}}]
    [rule] = run(rules, pod())
    assert rule.status == Status.FAIL
    entries = steps(rule, "pattern")
    assert [e["pattern"] for e in entries] == ["anyPattern[0]", "anyPattern[1]"]
    assert entries[1]["found"] == "nginx:latest" and entries[1]["path"] == "/spec/containers/0/image/"


def test_preconditions_resolve_key_and_value():
    rules = [{"name": "only-delete", "match": POD_MATCH, "preconditions": {"all": [
        {"key": "{{ request.operation }}", "operator": "Equals", "value": "DELETE"}]},
        "validate": {"deny": {}}}]
    [rule] = run(rules, pod())
    assert rule.status == Status.SKIP
    [cond] = steps(rule, "precondition")
    assert cond == {"step": "precondition", "block": "all", "index": 0, "key": "CREATE", "operator": "Equals",
                    "value": "DELETE", "result": False}
    assert steps(rule, "preconditions") == [{"step": "preconditions", "result": False, "decided_by": "all[0]"}]


def test_deny_names_the_condition_that_decided():
    rules = [{"name": "no-latest", "match": POD_MATCH, "validate": {"message": "no latest", "deny": {"conditions": {
        "any": [{"key": "{{ request.object.metadata.name }}", "operator": "Equals", "value": "db"},
                {"key": "{{ request.object.spec.containers[0].image }}", "operator": "Equals",
                 "value": "*:latest"}]}}}}]
    [rule] = run(rules, pod())
    assert rule.status == Status.FAIL
    assert [(e["index"], e["key"], e["result"]) for e in steps(rule, "deny")] == \
        [(0, "web", False), (1, "nginx:latest", True)]
    assert steps(rule, "deny conditions")[0]["decided_by"] == "any[1]"


def test_foreach_gives_the_element_index():
    rules = [{"name": "tags", "match": POD_MATCH, "validate": {"foreach": [{
        "list": "request.object.spec.containers",
        "pattern": {"image": "registry.example.com/*"}}]}}]
    resource = pod()
    resource["spec"]["containers"].reverse()  # the second element fails
    [rule] = run(rules, resource)
    assert rule.status == Status.FAIL
    [entry] = [e for e in steps(rule, "pattern") if e["result"] == "fail"]
    assert entry["at"] == "foreach[0].element[1]" and entry["found"] == "nginx:latest"
    assert [(e["index"], e["result"]) for e in steps(rule, "element")] == [(0, "pass"), (1, "fail")]


def test_validate_cel_records_each_expression_and_value():
    rules = [{"name": "cel", "match": POD_MATCH, "validate": {"cel": {"expressions": [
        {"expression": "object.metadata.name.size() > 2"},
        {"expression": "object.spec.containers.all(c, !c.image.endsWith(':latest'))", "message": "no latest"}]}}}]
    [rule] = run(rules, pod())
    assert rule.status == Status.FAIL
    assert [(e["field"], e["value"]) for e in steps(rule, "cel")] == [
        ("validate.cel.expressions[0]", True), ("validate.cel.expressions[1]", False)]
    assert steps(rule, "cel")[1]["expression"] == "object.spec.containers.all(c, !c.image.endsWith(':latest'))"


def test_exception_is_recorded():
    from verno.core.models.exception import PolicyException

    exc = PolicyException.model_validate({
        "apiVersion": "kyverno.io/v2", "kind": "PolicyException", "metadata": {"name": "allow", "namespace": "shop"},
        "spec": {"exceptions": [{"policyName": "p", "ruleNames": ["tag"]}],
                 "match": {"any": [{"resources": {"kinds": ["Pod"]}}]}}})
    engine = Engine()
    prepared = engine.prepare(policy("p", [{"name": "tag", "match": POD_MATCH, "validate": {
        "pattern": {"spec": {"containers": [{"image": "!*:latest"}]}}}}]))
    [response] = engine.evaluate([prepared], Request(pod()), exceptions=[exc], explain=True)
    assert steps(response.rules[0], "exception") == [{"step": "exception", "exception": "shop/allow"}]


def test_plugins_add_entries_through_the_hook_and_cannot_change_the_verdict():
    seen = []

    @hookimpl
    def verno_trace_rule(policy, rule, request, response, trace):
        seen.append(response.status)
        trace.add("acme.owner", team=request.resource["metadata"]["namespace"])

    @hookimpl
    def broken(policy, rule, request, response, trace):
        raise RuntimeError("boom")

    good = types.SimpleNamespace(verno_trace_rule=verno_trace_rule, __name__="acme")
    bad = types.SimpleNamespace(verno_trace_rule=broken, __name__="acme-broken")
    engine = Engine(plugins=[good, bad])
    [rule] = run([{"name": "tag", "match": POD_MATCH, "validate": {"pattern": {"spec": {"containers": [
        {"image": "!*:latest"}]}}}}], pod(), engine=engine)
    assert rule.status == Status.FAIL and seen == [Status.FAIL]
    assert steps(rule, "acme.owner") == [{"step": "acme.owner", "team": "shop"}]
    [error] = steps(rule, "error")
    assert "boom" in error["error"] and error["plugin"]
    # not called at all without an explanation
    run([{"name": "tag", "match": POD_MATCH, "validate": {"pattern": {"spec": {}}}}], pod(), engine=engine,
        explain=False)
    assert seen == [Status.FAIL]


def test_a_rule_with_many_elements_keeps_a_bounded_trace():
    resource = pod()
    resource["spec"]["containers"] = [{"name": f"c{i}", "image": "registry.example.com/x:1"} for i in range(500)]
    rules = [{"name": "tags", "match": POD_MATCH, "validate": {"foreach": [{
        "list": "request.object.spec.containers", "pattern": {"image": "registry.example.com/*"}}]}}]
    [rule] = run(rules, resource)
    assert rule.status == Status.PASS
    assert len(rule.trace.entries) == MAX_ENTRIES and rule.trace.dropped > 0
    assert rule.trace.as_list()[-1] == {"step": "truncated", "dropped": rule.trace.dropped}


# -- the trace itself ----------------------------------------------------------------------------------------

json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=400),
                           lambda inner: st.lists(inner, max_size=30) | st.dictionaries(st.text(max_size=20), inner,
                                                                                         max_size=30),
                           max_leaves=400)


def _size(value) -> int:
    if isinstance(value, dict):
        return 1 + sum(_size(v) for v in value.values())
    if isinstance(value, list):
        return 1 + sum(_size(v) for v in value)
    return 1


@settings(max_examples=60, deadline=None)
@given(json_values)
def test_recorded_values_are_bounded(value):
    import json

    from verno.core.trace import MAX_ITEMS, MAX_NODES, MAX_STRING

    copy = bounded(value)
    assert _size(copy) <= MAX_NODES + 2 * MAX_ITEMS  # the markers for what was left out
    assert len(json.dumps(copy)) <= (MAX_NODES + 2 * MAX_ITEMS) * (MAX_STRING * 6 + 64)


def test_small_values_are_kept_whole():
    value = {"a": [1, 2.5, None, True], "b": {"c": "text"}}
    assert bounded(value) == value
    assert bounded("x" * 1000) == "x" * 160 + "…"


conditions = st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), st.sampled_from(["Equals", "NotEquals"]),
                                st.sampled_from(["a", "b", "c"])), max_size=4)


@settings(max_examples=80, deadline=None)
@given(st.one_of(st.none(), conditions), st.one_of(st.none(), conditions))
def test_traced_conditions_decide_as_untraced_ones(any_block, all_block):
    """The traced evaluation is the same evaluation: same result, same message."""
    from verno.core.conditions import check_conditions
    from verno.core.models.conditions import AnyAllConditions

    def conds(block):
        return None if block is None else [{"key": k, "operator": op, "value": v, "message": f"{k}{op}{v}"}
                                           for k, op, v in block]

    model = AnyAllConditions.model_validate({"any": conds(any_block), "all": conds(all_block)})
    rc = types.SimpleNamespace(engine=ENGINE, substitute=lambda doc, **_: doc)
    trace = Trace()
    assert check_conditions(model, rc, trace, "precondition") == check_conditions(model, rc)
    evaluated = [e for e in trace.entries if e["step"] == "precondition"]
    assert all(e["result"] == ((e["key"] == e["value"]) == (e["operator"] == "Equals")) for e in evaluated)


ENGINE = Engine()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(max_size=300), max_size=100), st.integers(min_value=0, max_value=700))
def test_compact_text_is_bounded(texts, limit):
    trace = Trace()
    for text in texts:
        trace.add("note", text=text)
    assert len(compact(trace.as_list(), limit)) <= max(limit, 1)
