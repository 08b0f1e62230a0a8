"""The compiled pass check agrees with the full pattern walker wherever it answers."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from verno.core.pattern.fastpath import passes_check
from verno.core.pattern.matcher import match_pattern

POD = {"metadata": {"name": "p", "labels": {"app": "web"}},
       "spec": {"containers": [{"name": "c", "image": "nginx:1.27", "resources": {"limits": {"memory": "1Gi"}}}]}}


def test_compiles_plain_equality_and_negation_patterns():
    assert passes_check({"spec": {"containers": [{"image": "!*:latest"}]}}) is not None
    assert passes_check({"spec": {"=(hostNetwork)": False, "X(hostPID)": "null"}}) is not None


def test_leaves_skip_anchors_and_metadata_wildcards_to_the_walker():
    assert passes_check({"spec": {"containers": [{"(name)": "c", "image": "x"}]}}) is None
    assert passes_check({"spec": {"<(hostNetwork)": True}}) is None
    assert passes_check({"spec": {"^(containers)": [{"name": "c"}]}}) is None
    assert passes_check({"metadata": {"labels": {"app*": "?*"}}}) is None
    assert passes_check({"spec": {"containers": []}}) is None


def test_stable_match_gives_the_same_results():
    for pattern in (
        {"spec": {"containers": [{"image": "nginx:*"}]}},
        {"spec": {"containers": [{"image": "!*:1.27"}]}},
        {"spec": {"containers": [{"resources": {"limits": {"memory": "<=2Gi"}}}]}},
        {"spec": {"containers": [{"resources": {"limits": {"memory": "<=512Mi"}}}]}},
        {"metadata": {"labels": {"app": "*"}}},
        {"metadata": {"labels": {"team": "*"}}},
        {"spec": {"=(hostNetwork)": False}},
        {"spec": {"X(containers)": "null"}},
    ):
        assert match_pattern(POD, pattern, stable=True) == match_pattern(POD, pattern), pattern


scalars = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from(["a", "b", "*", "?*", "!a", ">1", "1-2", ""]))
keys = st.sampled_from(["a", "b", "c", "=(a)", "X(b)"])
patterns = st.recursive(scalars, lambda inner: st.one_of(
    st.dictionaries(keys, inner, min_size=1, max_size=3), st.lists(inner, min_size=1, max_size=2)), max_leaves=8)
values = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from(["a", "b", "", "2"])),
                      lambda inner: st.one_of(st.dictionaries(st.sampled_from(["a", "b", "c"]), inner, max_size=3),
                                              st.lists(inner, max_size=3)), max_leaves=10)


@settings(max_examples=400, deadline=None)
@given(patterns, values)
def test_fast_pass_implies_walker_pass(pattern, value):
    check = passes_check(pattern)
    if check is not None and check(value):
        assert match_pattern(value, pattern).status == "pass"
    if match_pattern(value, pattern).status == "pass" and check is not None:
        assert check(value)


string_patterns = st.sampled_from(["?*", "*", "!*:latest", "*:*", "nginx:*", "!nginx", "a|b", "1Gi", "!1Gi", "<=2Gi",
                                   "1-3", "true", "!false", "1.5", "*.5", "", "1e+00", "!*"])
scalar_values = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.floats(allow_nan=False, width=32),
                          st.sampled_from(["nginx:latest", "nginx:1.27", "a", "b", "", "1Gi", "true", "1", "1.5"]),
                          st.dictionaries(st.just("k"), st.just(1), max_size=1), st.lists(st.just("a"), max_size=1))


@settings(max_examples=600, deadline=None)
@given(st.one_of(string_patterns, scalars, st.floats(allow_nan=False, width=32)), scalar_values)
def test_scalar_predicates_agree_with_validate_scalar(pattern, value):
    from verno.core.pattern.fastpath import scalar_predicate
    from verno.core.pattern.scalars import validate_scalar

    assert scalar_predicate(pattern)(value) == validate_scalar(value, pattern)
