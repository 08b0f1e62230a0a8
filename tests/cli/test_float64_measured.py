"""cli/session.float64_measured: the float64 copy of a resource and its CEL input measures in one walk, the
same as float64_numbers followed by core/cel/cost.measure."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from verno.cli.session import float64_measured, float64_numbers
from verno.core.cel.cost import measure

text = st.text(alphabet=st.sampled_from(["a", "b", "\u0000", "é", " "]), max_size=6)
scalars = st.none() | st.booleans() | st.integers(-5, 5) | st.floats(allow_nan=False) | text \
    | st.binary(max_size=4)
documents = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner)
                         | st.dictionaries(text, inner, max_size=4), max_leaves=30)


@settings(max_examples=300, deadline=None)
@given(documents)
def test_one_walk_gives_the_copy_and_the_measures(doc):
    measured = float64_measured(doc)
    expected = float64_numbers(doc)
    assert measured.value == expected and repr(measured.value) == repr(expected)  # ints became floats
    assert (measured.sizes, measured.nul) == measure(expected)


def test_shared_values_are_copied_and_measured_alike():
    shared = {"n": 1, "s": "x\u0000"}
    measured = float64_measured({"a": shared, "b": [shared, 2]})
    assert measured.value == {"a": {"n": 1.0, "s": "x\u0000"}, "b": [{"n": 1.0, "s": "x\u0000"}, 2.0]}
    assert measured.nul and measured.sizes.items == 2 and measured.sizes.chars == 2
