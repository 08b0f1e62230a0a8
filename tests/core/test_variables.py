from __future__ import annotations

import copy
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from verno.core.errors import SubstitutionError
from verno.core.jmespath import JMESPath
from verno.core.jmespath.functions import verno_register_jmespath_functions
from verno.core.registry import Registry
from verno.core.variables import path_to_jmespath, substitute_all


def _jp() -> JMESPath:
    registry: Registry = Registry("JMESPath function")
    verno_register_jmespath_functions(registry.registrar("jmespath-functions"))
    return JMESPath(registry)


JP = _jp()
CONTEXT = {
    "request": {
        "operation": "CREATE",
        "object": {"metadata": {"name": "web", "labels": {"app": "web", "tier": "fe"}},
                   "spec": {"replicas": 3, "containers": [{"name": "c1", "image": "nginx:1.2"}]}},
    },
    "key": "name",
    "html": "<a&b>",
    "ratio": 0.5,
    "loop": "x{{loop}}",
    "grow": "{{grow}}{{grow}}",
    "nested": "{{request.object.metadata.name}}",
}


def q(expr: str):
    return JP.search(expr, CONTEXT)


def sub(doc, **kw):
    return substitute_all(doc, q, **kw)


def test_whole_string_keeps_type() -> None:
    assert sub({"r": "{{request.object.spec.replicas}}"}) == {"r": 3}
    assert sub({"l": "{{ request.object.metadata.labels }}"}) == {"l": {"app": "web", "tier": "fe"}}
    assert sub(["{{request.object.metadata.name}}"]) == ["web"]
    assert sub("{{ratio}}") == 0.5


def test_embedded_values_are_go_json() -> None:
    assert sub("n={{request.object.metadata.name}}") == "n=web"
    assert sub("r={{request.object.spec.replicas}}") == "r=3"
    assert sub("l={{request.object.metadata.labels}}") == 'l={"app":"web","tier":"fe"}'
    assert sub("h={{ `{\"a\": \"<&>\"}` }}") == 'h={"a":"\\u003c\\u0026\\u003e"}'
    assert sub("x={{html}}") == "x=<a&b>"  # strings are inserted as they are
    assert sub("a={{ratio}} b={{request.object.spec.replicas}}") == "a=0.5 b=3"


def test_nil_whole_and_embedded() -> None:
    assert sub("{{ request.object.metadata.namespace || null }}") is None
    assert sub("ns={{ `null` }}") == "ns=null"


def test_nested_resolved_inner_first() -> None:
    assert sub("{{ request.object.metadata.{{key}} }}") == "web"


def test_result_is_not_re_expanded_when_whole() -> None:
    assert sub("{{nested}}") == "{{request.object.metadata.name}}"


def test_embedded_result_is_re_expanded() -> None:
    assert sub("v={{nested}}") == "v=web"


def test_dash_variable() -> None:
    assert sub("{{- request.object.metadata.name }}") == "web"


def test_escapes() -> None:
    assert sub("\\{{request.object.metadata.name}}") == "{{request.object.metadata.name}}"
    assert sub("a \\{{x}} {{key}}") == "a {{x}} name"
    assert sub("\\$(./x)") == "$(./x)"


def test_keys_are_substituted() -> None:
    assert sub({"{{key}}": "v", "label-{{request.object.metadata.name}}": 1}) == {"name": "v", "label-web": 1}


def test_at_is_current_node() -> None:
    assert sub({"spec": {"containers": [{"image": "{{@}}"}]}}) == {"spec": {"containers": [{"image": "nginx:1.2"}]}}
    assert sub({"spec": {"containers": [{"name": "x-{{ @ }}"}]}}) == {"spec": {"containers": [{"name": "x-c1"}]}}
    assert sub({"metadata": {"=(labels)": {"app": "{{@}}"}}}) == {"metadata": {"=(labels)": {"app": "web"}}}
    assert sub({"metadata": {"labels": "{{ @.tier }}"}}) == {"metadata": {"labels": "fe"}}
    # '@' that is not the leading token of the variable keeps its JMESPath meaning
    assert sub("{{ request.object.metadata.labels | length(@) }}") == 2


def test_at_prefix_path() -> None:
    assert path_to_jmespath(("spec", "containers", 0, "image"), "request.object") == \
        "request.object.spec.containers[0].image"
    assert path_to_jmespath(("metadata", "labels", "app.kubernetes.io/name"), "target") == \
        'target.metadata.labels."app.kubernetes.io/name"'
    assert sub({"metadata": {"name": "{{@}}"}}, at_prefix="request.object") == {"metadata": {"name": "web"}}


def test_delete_uses_old_object() -> None:
    ctx = {"request": {"operation": "DELETE", "oldObject": {"metadata": {"name": "old"}}}}
    assert substitute_all("{{request.object.metadata.name}}", lambda e: JP.search(e, ctx)) == "old"


def test_references() -> None:
    doc = {"spec": {"requests": {"memory": "$(<=./../../limits/memory)"}, "limits": {"memory": "2Gi"},
                    "copy": "$(./../limits/memory)", "text": "size $(./../limits/memory)"}}
    out = sub(doc)
    assert out["spec"]["requests"]["memory"] == "<=2Gi"
    assert out["spec"]["copy"] == "2Gi"
    assert out["spec"]["text"] == "size 2Gi"


def test_reference_through_anchor_and_numbers() -> None:
    doc = {"spec": {"(name)": "x", "max": 5, "min": "$(>=./../max)"}}
    assert sub(doc)["spec"]["min"] == ">=5.000000"


def test_unresolved_reference() -> None:
    with pytest.raises(SubstitutionError, match=r"got nil resolved variable \$\(./nope\) at path /a"):
        sub({"a": "$(./nope)"})


def test_missing_key_error_message() -> None:
    with pytest.raises(SubstitutionError) as info:
        sub({"spec": {"x": "{{request.object.metadata.namespace}}"}})
    assert str(info.value) == ('failed to resolve request.object.metadata.namespace at path /spec/x: '
                               'JMESPath query failed: Unknown key "namespace" in path')


def test_invalid_expression_error() -> None:
    with pytest.raises(SubstitutionError, match="failed to resolve request.object.\\[ at path /a"):
        sub({"a": "{{request.object.[}}"})


def test_lenient_resolves_to_empty_string() -> None:
    assert sub({"a": "{{request.object.nope}}", "b": "x-{{nope}}"}, lenient=True) == {"a": "", "b": "x-"}


def test_self_reference_terminates() -> None:
    for doc in ("a{{loop}}", "b{{grow}}"):
        start = time.monotonic()
        with pytest.raises(SubstitutionError, match="does not terminate"):
            sub(doc)
        assert time.monotonic() - start < 2


def test_input_not_mutated_and_unchanged_parts_shared() -> None:
    doc = {"a": {"b": "{{key}}"}, "c": {"d": [1, 2]}, "e": ["{{key}}", "x"]}
    before = copy.deepcopy(doc)
    out = sub(doc)
    assert doc == before
    assert out == {"a": {"b": "name"}, "c": {"d": [1, 2]}, "e": ["name", "x"]}
    assert out["c"] is doc["c"]
    assert out is not doc


def test_no_variables_returns_same_object_fast() -> None:
    doc = {"items": [{"name": f"n{i}", "labels": {"k": "v" * 20}, "n": i} for i in range(5000)]}
    start = time.monotonic()
    assert sub(doc) is doc
    assert time.monotonic() - start < 0.5


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet="ab{}$()\\ ", max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(alphabet="ab", max_size=3),
                                                                        children, max_size=3),
    max_leaves=10,
)


@given(json_values)
def test_never_mutates_input(doc) -> None:
    before = copy.deepcopy(doc)
    try:
        substitute_all(doc, lambda e: "v", lenient=True)
    except SubstitutionError:
        pass
    assert doc == before
