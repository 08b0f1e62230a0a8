from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from verno.core.errors import JMESPathError, NotFoundError
from verno.core.jmespath import JMESPath

DATA = {
    "request": {"object": {"metadata": {"name": "pod", "labels": {"app": "web"}},
                           "spec": {"containers": [{"name": "a", "image": "nginx"},
                                                   {"name": "b"}]}}},
    "list": [1, 2, 3],
    "text": "hello",
    "empty": None,
}


@pytest.fixture()
def plain() -> JMESPath:
    return JMESPath(None)


def test_existing_paths(plain: JMESPath) -> None:
    assert plain.search("request.object.metadata.name", DATA) == "pod"
    assert plain.search("request.object.spec.containers[0].image", DATA) == "nginx"


@pytest.mark.parametrize("expr, key", [
    ("request.object.metadata.namespace", "namespace"),
    ("request.object.missing.deeper", "missing"),
    ("nothing", "nothing"),
    ("request.object.metadata.labels.team | to_upper(@)", "team"),
])
def test_missing_key_raises(plain: JMESPath, expr: str, key: str) -> None:
    with pytest.raises(NotFoundError) as info:
        plain.search(expr, DATA)
    assert info.value.key == key
    assert str(info.value) == f'Unknown key "{key}" in path'


@pytest.mark.parametrize("expr", ["text.length", "list.foo", "empty.foo", "list[5]"])
def test_lookup_on_non_objects_is_null(plain: JMESPath, expr: str) -> None:
    assert plain.search(expr, DATA) is None


@pytest.mark.parametrize("expr, expected", [
    ("request.object.metadata.namespace || 'default'", "default"),
    ("request.object.metadata.namespace && 'x'", None),
    ("!(request.object.metadata.namespace)", True),
    ("request.object.metadata.namespace == null", True),
    ("request.object.metadata.namespace != 'x'", True),
    ("request.object.metadata.namespace < `1`", None),
    ("length(request.object.spec.containers[?image == 'nginx'])", 1),
    ("request.object.spec.containers[*].image", ["nginx"]),
    ("request.object.spec.containers[?image].name", ["a"]),
    ("request.object.metadata.labels.*.foo", []),
    ("not_null(request.object.metadata.namespace, 'ns')", "ns"),
    ("sort_by(request.object.spec.containers, &name)[].name", ["a", "b"]),
    ("map(&image, request.object.spec.containers)", ["nginx", None]),
])
def test_missing_key_swallowed(plain: JMESPath, expr: str, expected: object) -> None:
    assert plain.search(expr, DATA) == expected


def test_ordering_is_numbers_only(plain: JMESPath) -> None:
    assert plain.search("`2` < `3`", {}) is True
    assert plain.search("'a' < 'b'", {}) is None


def test_compile_error_names_expression(plain: JMESPath) -> None:
    with pytest.raises(JMESPathError) as info:
        plain.compile("request.object.[")
    assert "request.object.[" in str(info.value)
    assert "\n" not in str(info.value)


def test_unknown_function_is_jmespath_error(plain: JMESPath) -> None:
    with pytest.raises(JMESPathError, match="Unknown function"):
        plain.search("nope(@)", {})


def test_compile_is_cached(plain: JMESPath) -> None:
    first = plain.compile("a.b")
    assert plain.compile("a.b") is first


def test_cache_is_bounded() -> None:
    jp = JMESPath(None, cache_size=4)
    for i in range(10):
        jp.compile(f"a{i}")
    assert len(jp._cache) <= 4


def test_registered_function_overrides_builtin(jp: JMESPath) -> None:
    assert jp.search("sum(['1Gi', '1Gi'])", {}) == "2Gi"
    assert jp.search("sum(`[1, 2]`)", {}) == 3
    assert jp.search("length('abc')", {}) == 3  # built-ins still work


def test_function_infos_list_registered_and_builtin(jp: JMESPath) -> None:
    infos = {i.name: i for i in jp.function_infos()}
    assert infos["truncate"].plugin == "jmespath-functions"
    assert infos["truncate"].arguments == ("string", "number")
    assert infos["length"].plugin == "jmespath"
    assert infos["sum"].plugin == "jmespath-functions"


@given(st.dictionaries(st.text(alphabet="abc", min_size=1, max_size=2), st.integers(), max_size=3),
       st.text(alphabet="abc", min_size=1, max_size=2))
def test_field_lookup_property(obj: dict, key: str) -> None:
    jp = JMESPath(None)
    expr = f'"{key}"'
    if key in obj:
        assert jp.search(expr, obj) == obj[key]
    else:
        with pytest.raises(NotFoundError):
            jp.search(expr, obj)
        assert jp.search(f"{expr} || `0`", obj) == 0


def test_multi_select_with_a_missing_list_is_null_not_an_error():
    from verno.core.jmespath import JMESPath

    jp = JMESPath()
    pod = {"spec": {"containers": [{"name": "a"}], "initContainers": [{"name": "b"}]}}
    assert jp.search("spec.[ephemeralContainers, initContainers, containers][].name", pod) == ["b", "a"]
    assert jp.search("spec.{e: ephemeralContainers, c: containers[0].name}", pod) == {"e": None, "c": "a"}


@pytest.mark.parametrize("expression,message", [
    ("image_normalize('a', 'b')", "Expected 1 argument for function image_normalize(), received 2"),
    ("to_upper()", "Expected 1 argument for function to_upper(), received 0"),
    ("length('a', 'b')", "Expected 1 argument for function length(), received 2"),
    ("merge(`{}`, `[1]`)", "JMESPath function 'merge'"),
    ("no_such_function(`1`)", "Unknown function: no_such_function()"),
])
def test_argument_errors_are_jmespath_errors(jp, expression, message):
    """Before: a wrong argument count was an AttributeError, and some standard functions raised TypeError."""
    with pytest.raises(JMESPathError) as err:
        jp.search(expression, DATA)
    assert message in str(err.value)


@pytest.mark.parametrize("expression,expected", [
    ("contains('a,b', `null`)", False),
    ("contains('a,b', `1`)", False),
    ("contains('a,b', ',')", True),
    ("contains(`[1, null]`, `null`)", True),
])
def test_contains_as_go_reads_it(jp, expression, expected):
    assert jp.search(expression, DATA) is expected
