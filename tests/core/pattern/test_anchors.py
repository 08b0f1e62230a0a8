from __future__ import annotations

import pytest

from verno.core.pattern.anchors import (
    Anchor,
    anchor_kind,
    has_nested_anchors,
    parse_anchor,
    split_anchors,
)
from verno.core.pattern.matcher import match_pattern


@pytest.mark.parametrize(
    ("key", "anchor"),
    [
        ("(name)", Anchor("", "name")),
        ("<(name)", Anchor("<", "name")),
        ("X(hostPath)", Anchor("X", "hostPath")),
        ("=(securityContext)", Anchor("=", "securityContext")),
        ("^(containers)", Anchor("^", "containers")),
        ("+(labels)", Anchor("+", "labels")),
        (" (name) ", Anchor("", "name")),
        ("((a))", Anchor("", "(a)")),
        ("name", None),
        ("()", None),
        ("X()", None),
        ("Y(name)", None),
        ("(name", None),
        ("=name)", None),
    ],
)
def test_parse_anchor(key: str, anchor: Anchor | None) -> None:
    assert parse_anchor(key) == anchor


def test_anchor_helpers() -> None:
    assert anchor_kind("(a)") == ""
    assert anchor_kind("a") is None
    assert str(Anchor("=", "a")) == "=(a)"
    assert has_nested_anchors({"a": [{"b": {"(c)": 1}}]})
    assert has_nested_anchors({"<(a)": 1})
    assert not has_nested_anchors({"a": [{"b": "+(x)"}], "+(c)": 1})
    anchors, plain = split_anchors({"z": 1, "b": {"(x)": 1}, "^(e)": [], "(d)": 1, "=(c)": 1, "X(a)": 1,
                                    "<(g)": 1})
    assert anchors == ["(d)", "=(c)", "X(a)", "^(e)"]  # sorted
    assert plain == ["<(g)", "b", "z"]  # global anchors, then keys with nested anchors, then the rest


POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "web", "labels": {"app": "web"}},
    "spec": {
        "containers": [
            {"name": "nginx", "image": "nginx:1.25", "imagePullPolicy": "IfNotPresent"},
            {"name": "sidecar", "image": "busybox:latest", "imagePullPolicy": "Always"},
        ],
        "volumes": [{"name": "data", "emptyDir": {}}],
    },
}


def test_condition_anchor_skips_only_the_element() -> None:
    # Kyverno docs: if the image is tagged latest, imagePullPolicy must not be IfNotPresent
    pattern = {"spec": {"containers": [{"(image)": "*:latest", "imagePullPolicy": "!IfNotPresent"}]}}
    assert match_pattern(POD, pattern).status == "pass"
    bad = {"spec": {"containers": [{"name": "a", "image": "x:latest", "imagePullPolicy": "IfNotPresent"}]}}
    res = match_pattern(bad, pattern)
    assert (res.status, res.path) == ("fail", "/spec/containers/0/imagePullPolicy/")


def test_condition_anchor_all_elements_skipped_skips_rule() -> None:
    pattern = {"spec": {"containers": [{"(name)": "redis", "image": "redis:*"}]}}
    res = match_pattern(POD, pattern)
    assert res.status == "skip"
    assert res.message.count("conditional anchor mismatch") == 2
    assert "; " in res.message


def test_condition_anchor_missing_key_skips() -> None:
    res = match_pattern(POD, {"spec": {"(hostNetwork)": True, "containers": [{"image": "x"}]}})
    assert res.status == "skip"
    assert "conditional anchor key doesn't exist in the resource" in res.message


def test_condition_anchor_outside_a_list_skips_the_rule() -> None:
    pattern = {"metadata": {"labels": {"(app)": "db"}}, "spec": {"containers": [{"image": "mysql*"}]}}
    assert match_pattern(POD, pattern).status == "skip"
    pattern["metadata"]["labels"]["(app)"] = "web"
    res = match_pattern(POD, pattern)
    assert (res.status, res.path) == ("fail", "/spec/containers/0/image/")


def test_global_anchor_skips_whole_rule() -> None:
    pattern = {"spec": {"<(serviceAccountName)": "build-*", "containers": [{"image": "!*:latest"}]}}
    assert match_pattern({**POD, "spec": {**POD["spec"], "serviceAccountName": "default"}}, pattern).status == "skip"
    # an absent global anchor key does not skip
    res = match_pattern(POD, pattern)
    assert (res.status, res.path) == ("fail", "/spec/containers/1/image/")


def test_global_anchor_inside_list_element() -> None:
    pattern = {"spec": {"containers": [{"name": "*", "<(image)": "nginx:*", "imagePullPolicy": "Always"}]}}
    res = match_pattern(POD, pattern)
    assert (res.status, res.path) == ("fail", "/spec/containers/0/imagePullPolicy/")


def test_negation_anchor() -> None:
    pattern = {"spec": {"=(volumes)": [{"X(hostPath)": "null"}]}}
    assert match_pattern(POD, pattern).status == "pass"
    host = {**POD, "spec": {**POD["spec"], "volumes": [{"name": "h", "hostPath": {"path": "/"}}]}}
    res = match_pattern(host, pattern)
    assert res.status == "fail"
    assert res.path == "/spec/volumes/0/hostPath/"
    assert res.message == "negation anchor matched in resource: /spec/volumes/0/hostPath/ is not allowed"


def test_negation_value_is_never_checked() -> None:
    res = match_pattern({"spec": {"hostPID": False}}, {"spec": {"X(hostPID)": False}})
    assert res.status == "fail"


def test_equality_anchor() -> None:
    pattern = {"spec": {"=(hostNetwork)": False}}
    assert match_pattern(POD, pattern).status == "pass"
    res = match_pattern({"spec": {"hostNetwork": True}}, pattern)
    assert (res.status, res.path) == ("fail", "/spec/hostNetwork/")
    assert match_pattern({"spec": {"hostNetwork": False}}, pattern).status == "pass"


def test_existence_anchor() -> None:
    pattern = {"spec": {"^(containers)": [{"image": "nginx:*"}]}}
    assert match_pattern(POD, pattern).status == "pass"
    res = match_pattern(POD, {"spec": {"^(containers)": [{"image": "redis:*"}]}})
    assert (res.status, res.path) == ("fail", "/spec/containers/")
    assert res.message == "existence anchor validation failed at path /spec/containers/"
    # every pattern map must match at least one element
    res = match_pattern(POD, {"spec": {"^(containers)": [{"image": "nginx:*"}, {"image": "busybox:*"}]}})
    assert res.status == "pass"
    # absent key: nothing to check
    assert match_pattern({"spec": {}}, pattern).status == "pass"


def test_existence_anchor_type_errors() -> None:
    res = match_pattern({"spec": {"containers": "x"}}, {"spec": {"^(containers)": [{"image": "a"}]}})
    assert res.status == "fail"
    assert "Existence ^ () anchor can be used only on list/array type resource" in res.message
    res = match_pattern(POD, {"spec": {"^(containers)": {"image": "a"}}})
    assert "Pattern has to be of list" in res.message
    res = match_pattern(POD, {"spec": {"^(containers)": ["a"]}})
    assert "Pattern has to be of type map" in res.message


def test_missing_anchor_key_turns_failure_into_error() -> None:
    # Kyverno reports a rule error (empty path) when a tracked anchor key is absent from the resource
    pattern = {"spec": {"^(initContainers)": [{"name": "*"}], "containers": [{"image": "!*:latest"}]}}
    res = match_pattern(POD, pattern)
    assert (res.status, res.path) == ("error", "")


def test_add_anchor_is_a_literal_key_in_validate() -> None:
    assert match_pattern(POD, {"metadata": {"+(team)": "a"}}).status == "fail"
    assert match_pattern(POD, {"metadata": {"+(team)": None}}).status == "pass"
