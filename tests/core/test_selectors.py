from __future__ import annotations

from verno.core.models.match import LabelSelector
from verno.core.selectors import compile_selector, selector_matches


def sel(d):
    return LabelSelector.model_validate(d)


def test_none_and_empty():
    assert not compile_selector(None)({"a": "b"})
    assert compile_selector(sel({}))({})


def test_match_labels_exact():
    pred = compile_selector(sel({"matchLabels": {"app": "web"}}))
    assert pred({"app": "web", "x": "y"})
    assert not pred({"app": "db"})
    assert not pred({})


def test_match_labels_wildcards_expand_against_labels():
    assert selector_matches(sel({"matchLabels": {"app": "w*"}}), {"app": "web"})
    assert selector_matches(sel({"matchLabels": {"app.kubernetes.io/*": "?*"}}), {"app.kubernetes.io/name": "x"})
    assert not selector_matches(sel({"matchLabels": {"team-*": "a"}}), {"team-x": "b"})
    assert not selector_matches(sel({"matchLabels": {"app": "*"}}), {})


def test_expressions():
    labels = {"env": "prod", "tier": "web"}
    assert selector_matches(sel({"matchExpressions": [{"key": "env", "operator": "In", "values": ["prod", "qa"]}]}), labels)
    assert not selector_matches(sel({"matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["prod"]}]}), labels)
    assert selector_matches(sel({"matchExpressions": [{"key": "missing", "operator": "NotIn", "values": ["x"]}]}), labels)
    assert selector_matches(sel({"matchExpressions": [{"key": "tier", "operator": "Exists"}]}), labels)
    assert selector_matches(sel({"matchExpressions": [{"key": "x", "operator": "DoesNotExist"}]}), labels)
    assert not selector_matches(sel({"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]}), labels)


def test_invalid_selectors_never_match():
    assert not selector_matches(sel({"matchExpressions": [{"key": "env", "operator": "In", "values": []}]}), {"env": ""})
    assert not selector_matches(sel({"matchExpressions": [{"key": "env", "operator": "Exists", "values": ["a"]}]}),
                                {"env": "a"})


def test_labels_and_expressions_are_anded():
    s = sel({"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "env", "operator": "In", "values": ["prod"]}]})
    assert selector_matches(s, {"app": "web", "env": "prod"})
    assert not selector_matches(s, {"app": "web", "env": "dev"})


def test_plain_dict_selector():
    assert selector_matches({"matchLabels": {"a": "b"}}, {"a": "b"})
