from __future__ import annotations

import copy

import pytest
from hypothesis import given
from hypothesis import strategies as st

from verno.core.pattern.matcher import PatternResult, match_pattern
from verno.core.pattern.metadata import expand_in_metadata
from verno.core.pattern.scalars import validate_scalar

POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "web", "namespace": "prod", "labels": {"app.kubernetes.io/name": "web"},
                 "annotations": {"team.example.com/owner": "alice"}},
    "spec": {
        "replicas": 3,
        "containers": [
            {"name": "nginx", "image": "nginx:1.25",
             "resources": {"limits": {"memory": "2Gi", "cpu": "500m"}, "requests": {"memory": "64Mi"}}},
        ],
        "ports": [80, 443],
    },
}


def test_result_type() -> None:
    res = match_pattern(POD, {"kind": "Pod"})
    assert res == PatternResult("pass") and res.ok
    with pytest.raises(AttributeError):
        res.status = "fail"  # type: ignore[misc]


def test_kyverno_docs_memory_limit_path() -> None:
    # "validation error: ... rule X failed at path /spec/containers/0/resources/limits/memory/"
    res = match_pattern(POD, {"spec": {"containers": [{"resources": {"limits": {"memory": "<=1Gi"}}}]}})
    assert res.status == "fail"
    assert res.path == "/spec/containers/0/resources/limits/memory/"
    assert res.message == "resource value '2Gi' does not match '<=1Gi' at path /spec/containers/0/resources/limits/memory/"


def test_kyverno_docs_require_labels() -> None:
    pattern = {"metadata": {"labels": {"app.kubernetes.io/name": "?*"}}}
    assert match_pattern(POD, pattern).status == "pass"
    res = match_pattern({"metadata": {"name": "x"}}, pattern)
    assert (res.status, res.path) == ("fail", "/metadata/labels/")
    assert "pattern and resource have different structures" in res.message


def test_disallow_latest_tag() -> None:
    pattern = {"spec": {"containers": [{"image": "!*:latest"}]}}
    assert match_pattern(POD, pattern).status == "pass"
    latest = copy.deepcopy(POD)
    latest["spec"]["containers"].append({"name": "b", "image": "busybox:latest"})
    res = match_pattern(latest, pattern)
    assert (res.status, res.path) == ("fail", "/spec/containers/1/image/")


def test_star_requires_presence() -> None:
    assert match_pattern(POD, {"metadata": {"name": "*"}}).status == "pass"
    res = match_pattern(POD, {"metadata": {"generateName": "*"}})
    assert (res.status, res.path) == ("fail", "/metadata/")
    assert res.message == "/metadata//generateName not found"
    assert match_pattern({"metadata": {"name": None}}, {"metadata": {"name": "*"}}).status == "fail"


def test_ranges_quantities_durations() -> None:
    assert match_pattern(POD, {"spec": {"replicas": "1-5"}}).ok
    assert not match_pattern(POD, {"spec": {"replicas": "4-10"}}).ok
    assert match_pattern(POD, {"spec": {"replicas": "4!-10"}}).ok
    assert match_pattern(POD, {"spec": {"containers": [{"resources": {"requests": {"memory": ">=32Mi & <=128Mi"}}}]}}).ok
    assert match_pattern({"spec": {"timeout": "90s"}}, {"spec": {"timeout": "<2m"}}).ok
    assert not match_pattern({"spec": {"timeout": "3m"}}, {"spec": {"timeout": "<2m"}}).ok


def test_missing_value_counts_as_zero() -> None:
    assert match_pattern(POD, {"spec": {"priority": "<10"}}).ok
    assert not match_pattern(POD, {"spec": {"priority": ">10"}}).ok


def test_scalar_pattern_against_list_checks_every_item() -> None:
    assert match_pattern(POD, {"spec": {"ports": ">0"}}).ok
    res = match_pattern(POD, {"spec": {"ports": "<100"}})
    assert (res.status, res.path) == ("fail", "/spec/ports/")
    assert res.message == "resource value '[80 443]' does not match '<100' at path /spec/ports/"
    assert match_pattern(POD, {"spec": {"ports": [">0"]}}).ok


def test_positional_lists() -> None:
    resource = {"a": [[1, 1], [3]]}
    assert match_pattern(resource, {"a": [[1], [3]]}).ok
    # a nested scalar list means "every item equals the first pattern item", as in Kyverno
    res = match_pattern({"a": [[1, 2]]}, {"a": [[1, 2]]})
    assert (res.status, res.path) == ("fail", "/a/0/")
    res = match_pattern(resource, {"a": [[1], [4]]})
    assert (res.status, res.path) == ("fail", "/a/1/")
    res = match_pattern({"a": [[1]]}, {"a": [[1], [2]]})
    assert (res.status, res.path) == ("error", "")
    assert "array length mismatch" in res.message


def test_empty_pattern_list_fails() -> None:
    res = match_pattern(POD, {"spec": {"containers": []}})
    assert (res.status, res.path, res.message) == ("fail", "/spec/containers/", "pattern Array empty")


def test_structure_mismatches() -> None:
    res = match_pattern({"spec": "x"}, {"spec": {"a": 1}})
    assert res.message == ("pattern and resource have different structures. Path: /spec/. "
                           "Expected map[string]interface {}, found string")
    res = match_pattern({"spec": "x"}, {"spec": [{"a": 1}]})
    assert res.path == "/spec/"
    assert "resource does not satisfy the expected overlay pattern" in res.message


def test_array_of_maps_with_empty_resource_list_passes() -> None:
    assert match_pattern({"spec": {"containers": []}}, {"spec": {"containers": [{"image": "x"}]}}).ok


def test_wildcard_keys_in_labels_and_annotations() -> None:
    pattern = {"metadata": {"labels": {"app.kubernetes.io/*": "web"}, "annotations": {"=(team.*/owner)": "a*"}}}
    assert match_pattern(POD, pattern).ok
    res = match_pattern(POD, {"metadata": {"labels": {"app.kubernetes.io/*": "api"}}})
    assert (res.status, res.path) == ("fail", "/metadata/labels/app.kubernetes.io/name/")
    # no matching key: the wildcard key stays literal and is absent
    res = match_pattern(POD, {"metadata": {"labels": {"tier*": "?*"}}})
    assert (res.status, res.path) == ("fail", "/metadata/labels/tier*/")


def test_expand_in_metadata_never_mutates() -> None:
    pattern = {"metadata": {"labels": {"app.*": "x", "plain": "y"}}}
    before = copy.deepcopy(pattern)
    out = expand_in_metadata(pattern, {"metadata": {"labels": {"app.kubernetes.io/name": "x"}}})
    assert pattern == before
    assert out["metadata"]["labels"] == {"app.kubernetes.io/name": "x", "plain": "y"}
    same = {"metadata": {"labels": {"a": "b"}}}
    assert expand_in_metadata(same, {"metadata": {"labels": {"a": "b"}}}) is same
    assert expand_in_metadata({"metadata": None}, POD) == {"metadata": None}
    assert expand_in_metadata({"metadata": {"labels": {"a*": 1}}}, POD) == {"metadata": {"labels": {"a*": 1}}}


def test_nested_template_metadata_is_expanded_too() -> None:
    deploy = {"spec": {"template": {"metadata": {"labels": {"app.kubernetes.io/name": "web"}}}}}
    assert match_pattern(deploy, {"spec": {"template": {"metadata": {"labels": {"app.*": "web"}}}}}).ok


def test_resource_is_not_modified() -> None:
    before = copy.deepcopy(POD)
    match_pattern(POD, {"metadata": {"labels": {"app.*": "?*"}}, "spec": {"containers": [{"(name)": "x"}]}})
    assert POD == before


@pytest.mark.parametrize(
    ("value", "pattern", "expected"),
    [
        (True, True, True),
        ("true", True, False),
        (1, True, False),
        (3, 3, True),
        (3, 3.0, True),
        (3, 3.5, False),
        (3.5, 3.5, True),
        ("3", 3, True),
        ("3.0", 3, True),
        (True, 1, False),
        (None, None, True),
        (0, None, True),
        ("", None, True),
        (False, None, True),
        ("x", None, False),
        ({}, None, False),
        ({"a": 1}, {"b": 2}, True),  # a map pattern only checks that the value is a map
        ("x", {"b": 2}, False),
        ("x", ["x"], False),
    ],
)
def test_validate_scalar(value: object, pattern: object, expected: bool) -> None:
    assert validate_scalar(value, pattern) is expected


@given(st.text(alphabet="ab*?", max_size=6), st.text(alphabet="ab", max_size=6))
def test_plain_string_patterns_are_wildcards(pattern: str, value: str) -> None:
    from verno.core import wildcard

    if any(c in pattern for c in "|&!<>-") or not pattern:
        return
    assert match_pattern({"v": value}, {"v": pattern}).ok is (value == pattern or wildcard.match(pattern, value))


def test_an_infinite_or_nan_number_pattern_equals_no_integer():
    from verno.core.pattern.scalars import validate_scalar

    for pattern in (float("inf"), float("-inf"), float("nan")):
        assert validate_scalar(0, pattern) is False
        assert validate_scalar(9, pattern) is False
    assert validate_scalar(float("inf"), float("inf")) is True
