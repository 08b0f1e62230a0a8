from __future__ import annotations

import jsonpatch
from hypothesis import given, settings
from hypothesis import strategies as st

from verno.core.patch import escape, json_equal, make_patch

# "-" is left out: the jsonpatch package refuses it as an object key in replace (RFC 6901 allows it)
keys = st.one_of(st.sampled_from(["a", "b", "x/y", "~", "a~1b", "app.kubernetes.io/name", "0", "~0/~1"]),
                 st.text(min_size=0, max_size=4)).filter(lambda k: k != "-")
scalars = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from(["", "v", "1"]))
documents = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=5),
                                                          st.dictionaries(keys, inner, max_size=5)), max_leaves=25)


@settings(max_examples=400, deadline=None)
@given(documents, documents)
def test_patch_turns_original_into_mutated(original, mutated) -> None:
    patch = make_patch(original, mutated)
    assert json_equal(jsonpatch.apply_patch(original, patch), mutated)


@settings(max_examples=200, deadline=None)
@given(st.lists(scalars, max_size=8), st.data())
def test_list_edits_stay_small(items, data) -> None:
    mutated = list(items)
    index = data.draw(st.integers(0, len(mutated)))
    mutated.insert(index, "inserted")
    patch = make_patch({"l": items}, {"l": mutated})
    assert len(patch) == 1 and patch[0]["op"] == "add"
    assert jsonpatch.apply_patch({"l": items}, patch) == {"l": mutated}


def test_escaping_and_small_patches() -> None:
    assert escape("a/b~c") == "a~1b~0c"
    original = {"metadata": {"labels": {"app.kubernetes.io/name": "x"}, "name": "n"},
                "spec": {"containers": [{"name": "a", "image": "1"}, {"name": "b", "image": "2"}]}}
    mutated = {"metadata": {"labels": {"app.kubernetes.io/name": "y"}, "name": "n"},
               "spec": {"containers": [{"name": "b", "image": "2"}]}}
    assert make_patch(original, mutated) == [
        {"op": "replace", "path": "/metadata/labels/app.kubernetes.io~1name", "value": "y"},
        {"op": "remove", "path": "/spec/containers/0"},
    ]
    assert make_patch(original, original) == []
    assert make_patch({"a": True}, {"a": 1}) == [{"op": "replace", "path": "/a", "value": 1}]
