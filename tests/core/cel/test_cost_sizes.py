"""core/cel/cost.py input sizes: shared values measured once; variables' values extend the bounds."""
from __future__ import annotations

import time

from verno.core.cel import Activation, VariableSet, environment_for
from verno.core.cel.cost import Sizes, input_size


def test_shared_values_are_measured_once():
    # a document with aliases (or request.object, which is object) shares values: 2**40 paths, 40 lists
    value: object = ["x" * 7]
    for _ in range(40):
        value = [value, value]
    start = time.perf_counter()
    assert input_size(value, {"a": value}) == Sizes(2, 7)
    assert time.perf_counter() - start < 1.0


def test_a_variable_value_extends_the_measured_sizes():
    env = environment_for("ValidatingPolicy")
    variables = VariableSet.compile(env, [("big", "lists.range(500).map(i, 'abcdefghij')")])
    program = env.compile("variables.big.all(s, s.size() == 10) && object.tags.all(t, t != '')",
                          expect=("bool",), variables=variables)
    activation = Activation({"object": {"tags": ["a", "bb"]}}, variables)
    assert activation.sizes() == Sizes(2, 4)
    assert activation.evaluate(program) is True
    assert activation.sizes() == Sizes(500, 10)


def test_cost_estimates_are_kept_per_input_sizes(monkeypatch):
    from verno.core.cel import cost

    env = environment_for("ValidatingPolicy")
    program = env.compile("object.items.all(i, i.name.startsWith('a'))", expect=("bool",))
    assert program.needs_size_check
    calls = []
    real = cost.estimate
    monkeypatch.setattr(cost, "estimate", lambda tree, sizes: calls.append(sizes) or real(tree, sizes))
    for name in ("ab", "ac", "ad"):  # same sizes: estimated once
        assert Activation({"object": {"items": [{"name": name}]}}).evaluate(program) is True
    assert Activation({"object": {"items": [{"name": "b"}, {"name": "a"}]}}).evaluate(program) is False
    assert len(calls) == 2


def test_a_value_measured_by_its_builder_is_not_walked_again():
    from verno.core.cel.cost import Measured, measure
    from verno.core.cel.program import SharedInputs

    obj = {"items": ["a", "bb"]}
    # the builder's measures stand for the value (here deliberately different from a walk's)
    known = Measured(obj, Sizes(7, 9), True)
    assert measure({"object": obj, "request": {"object": obj, "kind": "Pod"}}, known=[known]) == (Sizes(7, 9), True)
    shared = SharedInputs({"object": obj, "request": {"name": "abcdefghijkl"}}, known=[known])
    assert shared.sizes() == Sizes(7, 12) and shared.has_nul()
