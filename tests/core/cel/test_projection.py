"""An expression evaluated on its inputs cut down to what it can read gives what it gives on the whole inputs;
fused calls convert only that part, and the cost bound still covers every input."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verno.core.cel import Activation, CELError
from verno.core.cel.environment import environment_for
from verno.core.cel.program import SharedInputs
from verno.core.cel.projection import Reads, project, reads

EXPRESSIONS = (
    "object.spec.?hostNetwork.orValue(false) == false",
    "object.spec.containers.all(c, c.?securityContext.?privileged.orValue(false) == false)",
    "(object.spec.containers + object.spec.?initContainers.orValue([])).all(c, c.?ports.orValue([])"
    ".all(p, p.?hostPort.orValue(0) == 0))",
    "object.metadata.?annotations.orValue({}).all(k, !k.startsWith('x/') || object.metadata.annotations[k] == 'y')",
    "has(object.spec.volumes) && object.spec.volumes.exists(v, has(v.hostPath))",
    "size(object.spec.containers) < 3",
    "object.spec.containers.exists(c, c.name == 'a') ? object.spec.?replicas.orValue(1) > 0 : true",
    "cel.bind(sc, object.spec.?securityContext.orValue({}), sc.?runAsUser.orValue(1) > 0)",
    "object.spec.containers.all(i, c, i < 2 || c.name != '')",
    "object.spec.containers.map(c, c.name).all(n, n != 'x')",
    "object.spec.containers.name == 'a'",  # a field of a list: an error either way
    "object.spec.replicas > 2",  # an error when unset
    "'app' in object.metadata.labels",
    "object.spec.containers[0].image.endsWith(':latest') == false",
    "object.spec.containers.exists_one(c, c.?securityContext.?runAsUser.orValue(0) == 0)",
    "object.metadata.?labels.orValue({}).exists(k, k == 'app')",
)


@pytest.fixture(scope="module")
def env():
    return environment_for("ValidatingPolicy")


def _result(program, obj):
    try:
        return Activation({"object": obj}).evaluate(program)
    except CELError as err:
        return ("error", err.detail)


def test_reads_follow_fields_elements_and_pass_through_operands(env):
    tree = env.compile(EXPRESSIONS[2], expect=("bool",)).tree
    got = reads(tree)["object"]
    port = Reads()
    port.field("hostPort").keep_whole()
    container = Reads()
    container.field("ports").element().merge(port)
    want = Reads()
    want.field("spec").field("containers").element().merge(container)
    want.field("spec").field("initContainers").element().merge(container)
    assert got == want


def test_anything_but_a_selection_reads_the_value_whole(env):
    for expression, path in (("size(object.spec.containers) < 3", ("spec", "containers")),
                             ("'app' in object.metadata.labels", ("metadata", "labels")),
                             ("object.spec.containers[0].image == 'x'", ("spec", "containers")),
                             ("object == {}", ())):
        node = reads(env.compile(expression, expect=("bool",)).tree)["object"]
        for name in path:
            node = node.fields[name]
        assert node.whole, expression


def test_a_map_ranged_over_and_a_list_read_by_field_stay_whole():
    part = Reads()
    part.element().field("a").keep_whole()
    value = {"x": {"a": 1, "b": 2}}
    assert project(value, part) is value
    part = Reads()
    part.field("a").keep_whole()
    value = [{"a": 1, "b": 2}]
    assert project(value, part) is value


_leaf = st.one_of(st.none(), st.booleans(), st.integers(-2, 3), st.sampled_from(["", "a", "x/1", "y", "app"]))
_container = st.fixed_dictionaries({}, optional={
    "name": st.sampled_from(["a", "b", ""]),
    "image": st.sampled_from(["r/a:latest", "r/a:1"]),
    "securityContext": st.fixed_dictionaries({}, optional={"privileged": st.booleans(),
                                                           "runAsUser": st.integers(0, 2)}),
    "ports": st.lists(st.fixed_dictionaries({}, optional={"hostPort": st.integers(0, 2),
                                                          "containerPort": st.integers(1, 3)}), max_size=2),
    "extra": _leaf,
})
_object = st.fixed_dictionaries({
    "metadata": st.fixed_dictionaries({}, optional={
        "labels": st.dictionaries(st.sampled_from(["app", "tier"]), st.just("v"), max_size=2),
        "annotations": st.dictionaries(st.sampled_from(["x/1", "x/2", "z"]), st.sampled_from(["y", "n"]),
                                       max_size=2)}),
    "spec": st.fixed_dictionaries({}, optional={
        "hostNetwork": st.one_of(st.booleans(), _leaf),
        "containers": st.one_of(st.lists(_container, max_size=3), _leaf),
        "initContainers": st.lists(_container, max_size=2),
        "volumes": st.lists(st.fixed_dictionaries({}, optional={"hostPath": st.just({"path": "/"}),
                                                                "name": st.just("v")}), max_size=2),
        "replicas": st.integers(0, 4),
        "securityContext": st.fixed_dictionaries({}, optional={"runAsUser": st.integers(0, 2)}),
        "other": st.dictionaries(st.sampled_from(["p", "q"]), _leaf, max_size=2),
    }),
})


@settings(max_examples=150, deadline=None)
@given(obj=_object)
def test_an_expression_gives_on_its_projected_inputs_what_it_gives_on_the_whole(obj):
    env = environment_for("ValidatingPolicy")
    for expression in EXPRESSIONS:
        program = env.compile(expression, expect=("bool",))
        projected = project(obj, reads(program.tree)["object"])
        assert _result(program, projected) == _result(program, obj), expression


def test_a_fused_call_converts_only_what_its_expressions_read(env):
    programs = [env.compile(e, expect=("bool",)) for e in EXPRESSIONS[:3]]
    obj = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "a", "image": "i", "env": [{"name": "E"}]}],
                                              "unrelated": {"big": ["x"] * 50}}}
    for _ in range(2):  # the second request is evaluated ahead, in one call
        shared = SharedInputs({"object": obj})
        got = [Activation(shared).evaluate(p) for p in programs]
    assert got == [True, True, True] and shared.results
    [(_, values, sizes, _)] = shared.projected.values()
    assert values == {"object": {"spec": {"containers": [{}]}}}
    assert sizes.items == 1  # the 50-element list nobody reads is not part of the bound


def test_an_expression_that_needs_a_size_check_is_judged_on_the_whole_inputs_ahead_as_alone(monkeypatch):
    monkeypatch.setenv("VERNO_CEL_COST_LIMIT", "400")
    env = environment_for("ValidatingPolicy")
    cheap, costly = (env.compile(e, expect=("bool",)) for e in (
        "object.metadata.name != 'projection-test'",
        "object.spec.containers.all(c, c.name != 'projection-test')"))
    assert costly.needs_size_check
    small = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "a"}]}}
    big = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "a"}], "other": ["x"] * 300}}
    results = []
    for obj in (small, big, big):
        shared = SharedInputs({"object": obj})
        out = []
        for program in (cheap, costly):
            try:
                out.append(Activation(shared).evaluate(program))
            except CELError as err:
                out.append(("error", err.detail))
        results.append(out)
    # the unread list makes the whole inputs over budget for the costly check, ahead as alone
    assert results[0] == [True, True]
    assert results[1][1][0] == "error" and results[2] == results[1]


def test_the_fused_calls_are_planned_once_for_inputs_of_the_same_sizes(env, monkeypatch):
    from verno.core.cel import fusion

    programs = [env.compile(f"{e} && object.metadata.name != 'planned-once'", expect=("bool",))
                for e in EXPRESSIONS[:3]]  # programs of their own (compiled programs are cached)
    obj = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "a"}]}}
    planned = []
    real = fusion._chunks
    monkeypatch.setattr(fusion, "_chunks", lambda group: planned.append(1) or real(group))
    for _ in range(4):
        shared = SharedInputs({"object": obj})
        assert [Activation(shared).evaluate(p) for p in programs] == [True, True, True]
    assert len(planned) == 1 and shared.results
