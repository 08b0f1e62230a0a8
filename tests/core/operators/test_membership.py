from __future__ import annotations

import pytest

from verno.core.operators.membership import all_in, all_not_in, any_in, any_not_in, in_, not_in

ROLES = '["cluster-admin", "cluster-operator", "tenant-admin"]'


@pytest.mark.parametrize(
    ("key", "value", "anyin", "allin", "anynotin", "allnotin"),
    [
        # scalar key
        ("a", ["a", "b"], True, True, False, False),
        ("c", ["a", "b"], False, False, True, True),
        ("kube-system", ["kube-*"], True, True, False, False),
        ("kube-*", ["kube-system"], True, True, False, False),  # wildcards both ways
        (5, [5, 6], True, True, False, False),
        (5.0, ["5"], True, True, False, False),
        (True, ["true"], True, True, False, False),
        ("cluster-admin", ROLES, True, True, False, False),  # JSON-encoded list (ConfigMap data)
        ("admin", ROLES, False, False, True, True),
        ("abc", "abc", True, True, False, False),
        ("abc", "a*", True, True, False, False),
        ("abc", "xyz", False, False, True, True),
        (5, "1-10", True, True, False, False),  # ranges
        (11, "1-10", False, False, True, True),
        # list key
        (["a", "b"], ["a", "b", "c"], True, True, False, False),
        (["a", "z"], ["a", "b"], True, False, True, False),
        (["y", "z"], ["a", "b"], False, False, True, True),
        (["nginx:1", "redis:2"], ["nginx:*"], True, False, True, False),
        (["a"], "a", True, True, False, False),
        (["cluster-admin"], ROLES, True, True, False, False),
        ([1, 2], [1, 2, 3], True, True, False, False),
        ([5, 20], "1-10", True, False, True, False),
        ([], ["a"], False, True, False, True),
    ],
)
def test_modern_operators(key: object, value: object, anyin: bool, allin: bool, anynotin: bool,
                          allnotin: bool) -> None:
    assert any_in(key, value) is anyin
    assert all_in(key, value) is allin
    assert any_not_in(key, value) is anynotin
    assert all_not_in(key, value) is allnotin


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("a", 5),  # value of an unusable type
        ("a", None),
        ("a", {"a": 1}),
        ("a", "[1, 2]"),  # valid JSON but not a list of strings
        (["a"], "5"),
        (None, ["a"]),
        ({"a": 1}, ["a"]),
    ],
)
def test_invalid_operands_are_false(key: object, value: object) -> None:
    for op in (any_in, all_in, any_not_in, all_not_in):
        assert op(key, value) is False


def test_json_list_is_matched_exactly_for_scalar_keys() -> None:
    assert any_in("kube-system", '["kube-*"]') is False
    assert any_in(["kube-system"], '["kube-*"]') is True  # set path matches with wildcards


def test_legacy_in_and_not_in() -> None:
    assert in_("a", ["a", "b"]) is True
    assert in_("a*", ["abc"]) is True
    assert in_("a", '["a", "b"]') is True
    assert in_("c", '["a", "b"]') is False
    assert in_("a", "not json") is False  # an invalid JSON string is an invalid value
    assert in_(["a", "b"], ["a", "b", "c"]) is True
    assert in_(["a", "d"], ["a", "b", "c"]) is False
    assert in_(["a*"], ["abc"]) is False  # the set form compares exactly
    assert in_(["a"], ["a", 1]) is False  # a list value must hold only strings
    assert in_(True, ["true"]) is False  # bool keys are not supported
    assert in_(3, ["3"]) is True
    assert not_in("c", ["a", "b"]) is True
    assert not_in("a", ["a", "b"]) is False
    assert not_in(["a", "z"], ["a", "b"]) is True
    assert not_in(["a"], ["a", "b"]) is False
    assert not_in(["a"], "a") is True  # Kyverno's shortcut answers "exists" for NotIn too
    assert not_in("a", 5) is False
