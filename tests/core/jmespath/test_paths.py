"""Plain-function paths give exactly what the Kyverno interpreter gives, errors included."""
from __future__ import annotations

from typing import Any

import jmespath
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verno.core.errors import NotFoundError
from verno.core.jmespath import JMESPath
from verno.core.jmespath.paths import compile_path

KEYS = ["a", "b", "c"]
data = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-2, 2), st.sampled_from(["", "x"])),
    lambda inner: st.one_of(st.dictionaries(st.sampled_from(KEYS), inner, max_size=3), st.lists(inner, max_size=3)),
    max_leaves=12,
)
step = st.one_of(st.sampled_from(KEYS).map(lambda k: "." + k), st.integers(-3, 3).map(lambda i: f"[{i}]"))
paths = st.tuples(st.sampled_from(KEYS + ["@"]), st.lists(step, max_size=4)).map(lambda t: t[0] + "".join(t[1]))
literals = st.sampled_from(["'d'", "`1`", "`null`", "`[]`"])
expressions = st.one_of(paths, st.tuples(paths, st.one_of(paths, literals)).map(lambda t: f"{t[0]} || {t[1]}"))


def outcome(fn: Any, value: Any) -> tuple[str, Any]:
    try:
        return "value", fn(value)
    except NotFoundError as exc:
        return "missing", str(exc)


@settings(max_examples=500, deadline=None)
@given(expressions, data)
def test_paths_agree_with_the_interpreter(expression: str, value: Any) -> None:
    engine = JMESPath()
    parsed = jmespath.compile(expression).parsed
    path = compile_path(parsed)
    assert path is not None, expression
    expected = outcome(lambda v: engine.evaluate(jmespath.compile(expression), v), value)
    assert outcome(path, value) == expected


@pytest.mark.parametrize("expression", ["a[*].b", "length(a)", "a[?b]", "{x: a}", "a.[b, c]", "!a", "a && b", "a == b"])
def test_other_expressions_stay_with_the_interpreter(expression: str) -> None:
    assert compile_path(jmespath.compile(expression).parsed) is None


def test_search_uses_the_path_after_the_first_compile() -> None:
    engine = JMESPath()
    doc = {"request": {"object": {"metadata": {"namespace": "ns"}}}}
    assert engine.search("request.object.metadata.namespace", doc) == "ns"
    assert "request.object.metadata.namespace" in engine._paths
    assert engine.search("request.object.metadata.namespace", doc) == "ns"
    with pytest.raises(NotFoundError, match="name"):
        engine.search("request.object.metadata.name", doc)
