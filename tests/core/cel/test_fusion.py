"""Expressions evaluated on a request's shared inputs are evaluated together on the next request (one runtime
call), with the results they would have had one by one."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verno.core.cel import Activation, CELError
from verno.core.cel.environment import environment_for
from verno.core.cel.fusion import _chunks, fusable
from verno.core.cel.program import SharedInputs, VariableSet

CHECKS = (
    "object.spec.?replicas.orValue(1) < 5",
    "object.spec.containers.all(c, c.?securityContext.?privileged.orValue(false) == false)",
    "object.metadata.?labels.orValue({}).all(k, k.startsWith('app'))",
    "object.spec.replicas > 2",  # an error when replicas is unset (no such key)
)


@pytest.fixture(scope="module")
def env():
    return environment_for("ValidatingPolicy")


def _compiled(env, checks=CHECKS):
    return [env.compile(c, expect=("bool",)) for c in checks]


def _one_by_one(programs, obj):
    out = []
    for program in programs:
        try:
            out.append(Activation({"object": obj}).evaluate(program))
        except CELError as err:
            out.append(("error", err.detail))
    return out


def _shared(programs, obj):
    shared = SharedInputs({"object": obj})
    out = []
    for program in programs:
        try:
            out.append(Activation(shared).evaluate(program))
        except CELError as err:
            out.append(("error", err.detail))
    return shared, out


def _pod(replicas=None, privileged=False, labels=None):
    spec = {"containers": [{"name": "a", "securityContext": {"privileged": privileged}}, {"name": "b"}]}
    if replicas is not None:
        spec["replicas"] = replicas
    metadata = {"name": "p"} if labels is None else {"name": "p", "labels": labels}
    return {"metadata": metadata, "spec": spec}


def test_the_second_request_evaluates_what_the_first_evaluated_in_one_call(env):
    programs = _compiled(env, CHECKS[:3])
    _shared(programs, _pod(3))  # learns the sequence
    shared = SharedInputs({"object": _pod(7, privileged=True)})
    assert Activation(shared).evaluate(programs[0]) is False
    # the others were evaluated with the first: their results are there before they are asked for
    assert shared.results is not None and set(shared.results) == {id(p) for p in programs}
    assert Activation(shared).evaluate(programs[1]) is False
    assert Activation(shared).evaluate(programs[2]) is True


def test_an_element_that_fails_makes_every_result_what_it_is_alone_and_is_not_fused_again(env):
    programs = _compiled(env)
    _shared(programs, _pod(3))
    no_replicas = _pod()
    shared, got = _shared(programs, no_replicas)
    assert got == _one_by_one(programs, no_replicas)
    assert got[3][0] == "error" and "no such key" in got[3][1]
    assert programs[3].fusable is False and all(p.fusable for p in programs[:3])
    shared, got = _shared(programs, _pod(4))
    assert got == [True, True, True, True]
    assert id(programs[3]) not in shared.results


@settings(max_examples=60, deadline=None)
@given(replicas=st.one_of(st.none(), st.integers(-3, 9)), privileged=st.booleans(),
       labels=st.one_of(st.none(), st.dictionaries(st.sampled_from(["app", "tier", "apps"]), st.just("x"))))
def test_results_are_those_of_one_evaluation_each(replicas, privileged, labels):
    env = environment_for("ValidatingPolicy")
    programs = _compiled(env)
    obj = _pod(replicas, privileged, labels)
    for _ in range(2):  # the second time, evaluated ahead
        assert _shared(programs, obj)[1] == _one_by_one(programs, obj)


def test_only_pure_boolean_expressions_on_the_inputs_alone_are_fused(env):
    assert fusable(env.compile("object.spec.containers.exists(c, c.name.matches('^a'))", expect=("bool",)))
    assert not fusable(env.compile("string(object.spec.replicas)"))  # not a boolean
    assert not fusable(env.compile("base64.encode(b'a') == 'YQ=='", expect=("bool",)))  # not in the list
    declared = VariableSet.compile(env, [("big", "'" + "x" * 5000 + "'")], inline=True)
    assert not fusable(env.compile("size(variables.big) > 1", expect=("bool",), variables=declared))


def test_a_nul_in_the_inputs_is_reported_by_each_expression_not_fused(env):
    programs = _compiled(env, CHECKS[:2])
    _shared(programs, _pod(1))
    obj = _pod(1)
    obj["metadata"]["annotations"] = {"note": "a\u0000b"}
    shared, got = _shared(programs, obj)
    assert not shared.results and all(r[0] == "error" and "NUL character" in r[1] for r in got)


def test_a_fused_call_stays_within_one_expression_budget(env):
    programs = _compiled(env, CHECKS[:3])
    limit = programs[0].limit
    chunks = _chunks([(p, limit // 2 + 1) for p in programs])
    assert [len(c) for c in chunks] == [1, 1, 1]
    chunks = _chunks([(p, limit // 3) for p in programs])
    assert [len(c) for c in chunks] == [3]


def test_an_expression_over_its_budget_is_refused_when_reached_not_evaluated_ahead(monkeypatch):
    monkeypatch.setenv("VERNO_CEL_COST_LIMIT", "400")
    env = environment_for("ValidatingPolicy")
    cheap, costly = (env.compile(e, expect=("bool",)) for e in (
        "object.metadata.name != 'budget-test'", "object.spec.containers.all(c, c.name != 'budget-test')"))
    small = _pod(1)
    assert _shared([cheap, costly], small)[1] == [True, True]
    big = _pod(1)
    big["spec"]["containers"] = [{"name": f"c{i}"} for i in range(300)]
    shared, got = _shared([cheap, costly], big)
    assert got[0] is True and got[1][0] == "error" and "cost limit exceeded" in got[1][1]
    assert id(costly) not in (shared.results or {})
