"""JMESPath written as CEL gives JMESPath's own result (null for missing keys, projections dropping nulls,
truthiness in ||, && and filters) on generated documents; what has no same-meaning CEL form says why."""
from __future__ import annotations

import jmespath
import pytest
from hypothesis import given, settings, strategies as st

from verno.core.cel import Activation, environment_for
from verno.core.migration import Untranslatable
from verno.core.migration.jmespath_cel import Scope, compile_jmespath

ENV = environment_for("ValidatingPolicy")

EXPRESSIONS = [
    "request.object.metadata.labels.app || 'none'",
    "request.object.metadata.annotations.\"x/y\" || ''",
    "request.object.spec.containers[].name",
    "request.object.spec.containers[*].image | length(@)",
    "request.object.spec.containers[?image == 'nginx'].name",
    "request.object.spec.containers[?ports].ports[].containerPort",
    "length(request.object.spec.containers[] || `[]`)",
    "contains(request.object.spec.containers[].name, 'app')",
    "starts_with(request.object.metadata.labels.app || '', 'we')",
    "not_null(request.object.metadata.labels.team, request.object.metadata.name)",
    "type(request.object.spec.replicas)",
    "request.object.spec.replicas == `2`",
    "!(request.object.spec.hostNetwork)",
    "request.object.spec.hostNetwork && request.object.metadata.name",
    "request.object.spec.containers[0].name",
    "request.object.spec.containers[-1].image",
    "[request.object.metadata.name, request.object.metadata.labels.app]",
    "{n: request.object.metadata.name}",
    "join(',', request.object.spec.containers[].name)",
]

scalars = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from(["", "app", "web", "nginx", "x"]))
container = st.fixed_dictionaries({"name": st.sampled_from(["app", "side", "web"])},
                                  optional={"image": st.sampled_from(["nginx", "redis", ""]),
                                            "ports": st.lists(st.fixed_dictionaries(
                                                {"containerPort": st.integers(1, 3)}), max_size=2)})
objects = st.fixed_dictionaries(
    {"metadata": st.fixed_dictionaries({"name": st.sampled_from(["p", "q"])}, optional={
        "labels": st.dictionaries(st.sampled_from(["app", "team"]), st.sampled_from(["", "web", "ops"]), max_size=2),
        "annotations": st.dictionaries(st.sampled_from(["x/y", "z"]), st.sampled_from(["", "v"]), max_size=2)})},
    optional={"spec": st.fixed_dictionaries({}, optional={
        "containers": st.lists(container, max_size=3), "replicas": scalars, "hostNetwork": scalars})})


def _cel(expression, obj):
    return ENV.compile(compile_jmespath(expression, Scope())).evaluate(
        Activation({"object": obj, "oldObject": None, "request": {"operation": "CREATE"}}))


def _same(a, b):
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b or a == b and type(a) is type(b)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return float(a) == float(b)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return a == b


@pytest.mark.parametrize("expression", EXPRESSIONS)
@settings(max_examples=40, deadline=None)
@given(obj=objects)
def test_the_translation_gives_the_jmespath_result(expression, obj):
    try:
        expected = jmespath.search(expression, {"request": {"object": obj, "operation": "CREATE"}})
    except jmespath.exceptions.JMESPathTypeError:  # a JMESPath error: the CEL side must fail too
        with pytest.raises(Exception):
            _cel(expression, obj)
        return
    assert _same(_cel(expression, obj), expected), (expression, obj)


@pytest.mark.parametrize("replicas, expected", [(2, True), (1, False), (1.5, True), ("3", None), (True, None),
                                               (None, None)])
def test_ordering_compares_numbers_only(replicas, expected):  # the spec's null for other types
    assert _cel("request.object.spec.replicas > `1`", {"spec": {"replicas": replicas}}) == expected


def test_names_resolve_through_the_scope():
    scope = Scope({"cm": "variables.cm", "element": "el"})
    out = compile_jmespath("cm.data.team || element.name", scope)
    assert "variables.cm" in out and "el" in out
    assert ENV.compile(compile_jmespath("x || 'd'", Scope({"x": "object.metadata.name"}))).evaluate(
        Activation({"object": {"metadata": {"name": ""}}})) == "d"


@pytest.mark.parametrize("expression, words", [
    ("keys(request.object.metadata.labels)", "keys()"),
    ("to_upper(request.object.metadata.name)", "to_upper()"),
    ("request.mode", "request.mode"),
    ("images.containers.registry", "'images' is not"),
    ("request.object.metadata.labels.*", "value projection"),
    ("request.object[", "does not parse"),
])
def test_what_has_no_same_meaning_translation_says_why(expression, words):
    with pytest.raises(Untranslatable, match=words.replace("(", r"\(").replace(")", r"\)")):
        compile_jmespath(expression, Scope())
