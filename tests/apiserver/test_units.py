"""The stand-in's building blocks on their own: selectors, strategic merge patch, the CEL subset."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apiserver import cel, patching
from apiserver.selection import label_selector_object, parse_field_selector, parse_label_selector
from apiserver.status import APIError


@pytest.mark.parametrize("selector, labels, expected", [
    ("a=1", {"a": "1"}, True), ("a==1", {"a": "2"}, False), ("a!=1", {}, True), ("a in (1, 2)", {"a": "2"}, True),
    ("a notin (1)", {}, True), ("a", {"a": ""}, True), ("!a", {"a": "x"}, False), ("a>5", {"a": "6"}, True),
    ("a<5", {"a": "x"}, False), ("a=1,b in (x,y),!c", {"a": "1", "b": "y"}, True), ("", {}, True),
    ("example.com/team=a", {"example.com/team": "a"}, True)])
def test_label_selector_strings(selector, labels, expected):
    assert parse_label_selector(selector)(labels) is expected


@pytest.mark.parametrize("bad", ["a in (b", "a=(", "-a=1", "a>x"])
def test_bad_label_selectors_are_400(bad):
    with pytest.raises(APIError) as info:
        parse_label_selector(bad)
    assert info.value.code == 400


def test_label_selector_objects_and_field_selectors():
    sel = label_selector_object({"matchLabels": {"a": "1"},
                                 "matchExpressions": [{"key": "b", "operator": "NotIn", "values": ["x"]}]})
    assert sel({"a": "1"}) and not sel({"a": "1", "b": "x"})
    match = parse_field_selector("metadata.name=x,status.phase!=Running", ("metadata.name", "status.phase"))
    assert match({"metadata": {"name": "x"}, "status": {"phase": "Pending"}})
    assert not match({"metadata": {"name": "x"}, "status": {"phase": "Running"}})


@settings(max_examples=50, deadline=None)
@given(st.dictionaries(st.sampled_from(["a", "b", "c"]), st.sampled_from(["1", "2", ""]), max_size=3),
       st.sampled_from(["a", "b", "c"]), st.lists(st.sampled_from(["1", "2"]), min_size=1, max_size=2, unique=True))
def test_in_and_notin_are_complements(labels, key, values):
    text = ",".join(values)
    assert parse_label_selector(f"{key} in ({text})")(labels) != parse_label_selector(f"{key} notin ({text})")(labels)


def test_strategic_merge_patch_directives():
    doc = {"spec": {"containers": [{"name": "a", "image": "1", "ports": [{"containerPort": 80, "name": "h"}]},
                                   {"name": "b", "image": "1"}],
                    "finalizers": ["x"], "tolerations": [{"key": "k"}], "keep": {"a": 1, "b": 2}}}
    patch = {"spec": {"$setElementOrder/containers": [{"name": "b"}, {"name": "a"}],
                      "containers": [{"name": "a", "ports": [{"containerPort": 443, "name": "s"}]}],
                      "$deleteFromPrimitiveList/finalizers": ["x"], "tolerations": [{"key": "j"}],
                      "keep": {"$retainKeys": ["b"], "b": 3}}}
    out = patching.strategic_merge_patch(doc, patch)["spec"]
    assert [c["name"] for c in out["containers"]] == ["b", "a"]
    assert [p["containerPort"] for p in out["containers"][1]["ports"]] == [80, 443]
    assert out["finalizers"] == [] and out["tolerations"] == [{"key": "j"}] and out["keep"] == {"b": 3}
    replaced = patching.strategic_merge_patch(doc, {"spec": {"keep": {"$patch": "replace", "z": 1}}})
    assert replaced["spec"]["keep"] == {"z": 1}
    whole = patching.strategic_merge_patch(doc, {"spec": {"containers": [{"$patch": "replace"}, {"name": "c"}]}})
    assert whole["spec"]["containers"] == [{"name": "c"}]


def test_merge_patch_and_json_patch_errors():
    assert patching.merge_patch({"a": {"b": 1, "c": 2}, "l": [1, 2]}, {"a": {"b": None}, "l": [3]}) == \
        {"a": {"c": 2}, "l": [3]}
    with pytest.raises(APIError) as info:
        patching.json_patch({"a": 1}, [{"op": "remove", "path": "/b"}])
    assert info.value.code == 422


@pytest.mark.parametrize("expression, expected", [
    ("object.metadata.name == 'x'", True),
    ("has(object.metadata.labels) && 'team' in object.metadata.labels", True),
    ("has(object.spec)", False),
    ("object.metadata.labels.team.startsWith('a') ? 1 : 2", 1),
    ("size(object.spec_list) == 2 && object.spec_list.all(i, i > 0)", True),
    ("object.spec_list.exists(i, i == 3) || request.operation == 'CREATE'", True),
    ("object.spec_list.map(i, i * 2)", [2, 4]),
    ("object.spec_list.filter(i, i % 2 == 0)", [2]),
    ("oldObject == null", True),
    ("!(request.dryRun)", True),
    ("object.metadata.name.matches('^x$') && [1, 2][1] == 2 && {'a': 1}['a'] == 1", True),
    ("object.missing == 1 || true", True),
])
def test_cel_subset(expression, expected):
    env = {"object": {"metadata": {"name": "x", "labels": {"team": "ab"}}, "spec_list": [1, 2]},
           "oldObject": None, "request": {"operation": "CREATE", "dryRun": False}}
    assert cel.evaluate(cel.compile_expression(expression), env) == expected


@pytest.mark.parametrize("expression, message", [
    ("params.x == 1", "undeclared reference to 'params'"),
    ("object.x.sort()", "undeclared reference to 'sort'"),
    ("object.x ==", "Syntax error"),
    ("object.x @ 1", "token recognition error"),
])
def test_cel_compile_errors(expression, message):
    with pytest.raises(cel.CELError) as info:
        cel.compile_expression(expression)
    assert message in str(info.value)


def test_cel_evaluation_errors():
    with pytest.raises(cel.CELError, match="no such key: spec"):
        cel.evaluate(cel.compile_expression("object.spec.x == 1"), {"object": {}, "oldObject": None, "request": {}})
