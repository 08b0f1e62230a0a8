from __future__ import annotations

import pytest
from mutate_helpers import pod

from verno.core.results import Status
from verno.plugins.mutate.anchors import PatchError
from verno.plugins.mutate.jsonpatch6902 import apply_json6902


def test_yaml_and_json_forms() -> None:
    doc = {"a": [1, 2]}
    assert apply_json6902(doc, '[{"op": "add", "path": "/a/-", "value": 3}]') == {"a": [1, 2, 3]}
    assert apply_json6902(doc, "- op: replace\n  path: /a/0\n  value: 9\n") == {"a": [9, 2]}
    assert doc == {"a": [1, 2]}


def test_negative_indices() -> None:
    doc = {"a": [1, 2, 3]}
    assert apply_json6902(doc, "- {op: remove, path: /a/-1}") == {"a": [1, 2]}
    assert apply_json6902(doc, "- {op: replace, path: /a/-3, value: 0}") == {"a": [0, 2, 3]}
    assert apply_json6902(doc, "- {op: add, path: /a/-1, value: 4}") == {"a": [1, 2, 3, 4]}
    with pytest.raises(PatchError, match="out of bounds"):
        apply_json6902(doc, "- {op: replace, path: /a/-4, value: 0}")


def test_remove_missing_path_is_allowed() -> None:
    doc = {"a": {"b": 1}}
    assert apply_json6902(doc, "- {op: remove, path: /a/c}") == doc
    assert apply_json6902(doc, "- {op: remove, path: /x/y/z}") == doc


def test_add_creates_missing_parents() -> None:
    doc = {"metadata": {}}
    out = apply_json6902(doc, "- op: add\n  path: /metadata/annotations/example.com~1owner\n  value: me\n")
    assert out == {"metadata": {"annotations": {"example.com/owner": "me"}}}
    out = apply_json6902({}, "- {op: add, path: /spec/items/0/name, value: x}")
    assert out == {"spec": {"items": [{"name": "x"}]}}


def test_move_copy_test() -> None:
    doc = {"a": 1, "b": {"c": 2}}
    assert apply_json6902(doc, "- {op: move, from: /a, path: /b/a}") == {"b": {"c": 2, "a": 1}}
    assert apply_json6902(doc, "- {op: copy, from: /b, path: /d}") == {"a": 1, "b": {"c": 2}, "d": {"c": 2}}
    with pytest.raises(PatchError, match="testing value failed"):
        apply_json6902(doc, "- {op: test, path: /a, value: true}")


def test_errors_name_the_path() -> None:
    with pytest.raises(PatchError, match="/spec/containers/name"):
        apply_json6902(pod(), "- {op: replace, path: /spec/containers/name, value: x}")
    with pytest.raises(PatchError, match="/spec/missing"):
        apply_json6902(pod(), "- {op: replace, path: /spec/missing, value: x}")
    with pytest.raises(PatchError, match="unexpected operation"):
        apply_json6902(pod(), "- {op: frobnicate, path: /spec}")


def test_rule_with_json6902(run) -> None:
    out = run({"patchesJson6902": "- op: add\n  path: /metadata/labels\n  value: {a: '{{request.object.metadata.name}}'}\n"},
              pod())
    assert out.rules[0].status == Status.PASS
    assert out.rules[0].patched_resource["metadata"]["labels"] == {"a": "web"}
    bad = run({"patchesJson6902": "- {op: add, path: /spec/containers/name/x, value: 1}"}, pod())
    assert bad.rules[0].status == Status.ERROR
    assert "mutate rule r" in bad.rules[0].message and "/spec/containers/name/x" in bad.rules[0].message
