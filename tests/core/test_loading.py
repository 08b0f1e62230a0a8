"""core/loading.py: paths, directories, stdin, JSON, List flattening, model validation field paths."""
from __future__ import annotations

import io
from pathlib import Path

import pytest

from verno.core.errors import LoadError
from verno.core.loading import (Document, expand_paths, field_path, flatten_lists, iter_file_documents,
                                iter_path_documents, read_text, validate_model)
from verno.core.models.policy import Policy
from verno.core.models.values import ValuesFile

POD = "apiVersion: v1\nkind: Pod\nmetadata: {name: %s}\n"


def _tree(tmp_path: Path) -> Path:
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "deep").mkdir(parents=True)
    (tmp_path / "z.yaml").write_text(POD % "z")
    (tmp_path / "b" / "one.yml").write_text(POD % "one" + "---\n" + POD % "two")
    (tmp_path / "a" / "deep" / "x.json").write_text('{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}}')
    (tmp_path / "a" / "notes.txt").write_text("not yaml")
    (tmp_path / "a" / "README.md").write_text("# no")
    return tmp_path


def test_expand_paths_recurses_sorted_yaml_json_only(tmp_path):
    root = _tree(tmp_path)
    found = [Path(p).relative_to(root).as_posix() for p in expand_paths([str(root)])]
    # files of a directory first (sorted), then its subdirectories (sorted), recursively
    assert found == ["z.yaml", "a/deep/x.json", "b/one.yml"]
    # deterministic
    assert expand_paths([str(root)]) == expand_paths([str(root)])


def test_expand_paths_missing(tmp_path):
    with pytest.raises(LoadError) as exc:
        expand_paths([str(tmp_path / "nope")])
    assert exc.value.source.endswith("nope") and "no such file" in str(exc.value)


def test_iter_path_documents_indices(tmp_path):
    root = _tree(tmp_path)
    docs = list(iter_path_documents([str(root / "b" / "one.yml"), str(root / "a")]))
    assert [(Path(d.source).name, d.index, d.data["metadata"]["name"]) for d in docs] == [
        ("one.yml", 0, "one"), ("one.yml", 1, "two"), ("x.json", 0, "x")]
    assert docs[1].where.endswith("one.yml (document 2)")


def test_stdin(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(POD % "in" + "---\n" + POD % "in2"))
    docs = list(iter_path_documents(["-"]))
    assert [d.source for d in docs] == ["-", "-"]
    assert [d.data["metadata"]["name"] for d in docs] == ["in", "in2"]


def test_json_input(tmp_path):
    (tmp_path / "p.json").write_text('{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "j", '
                                     '"labels": {"on": "yes"}}}')
    (doc,) = iter_file_documents(str(tmp_path / "p.json"))
    # JSON keeps strings as strings (no YAML 1.1 booleans)
    assert doc.data["metadata"]["labels"] == {"on": "yes"}


def test_read_text_errors(tmp_path):
    with pytest.raises(LoadError, match="is a directory"):
        read_text(str(tmp_path))
    (tmp_path / "bin").write_bytes(b"\xff\xfe")
    with pytest.raises(LoadError, match="not UTF-8"):
        read_text(str(tmp_path / "bin"))
    with pytest.raises(LoadError, match="no such file"):
        read_text(str(tmp_path / "missing.yaml"))


def test_malformed_yaml_names_line(tmp_path):
    (tmp_path / "bad.yaml").write_text(POD % "ok" + "---\nkind: [\n  x\n")
    it = iter_file_documents(str(tmp_path / "bad.yaml"))
    assert next(it).data["metadata"]["name"] == "ok"
    with pytest.raises(LoadError) as exc:
        list(it)
    text = str(exc.value)
    assert "bad.yaml" in text and "line " in text


def test_flatten_lists():
    doc = Document("f", 3, {"apiVersion": "v1", "kind": "PodList", "items": [{"kind": "Pod"}, {"kind": "Pod"}]})
    items = list(flatten_lists(doc))
    assert len(items) == 2 and all(i.index == 3 and i.source == "f" for i in items)
    plain = Document("f", 0, {"kind": "Pod"})
    assert list(flatten_lists(plain)) == [plain]


POLICY = {
    "apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy", "metadata": {"name": "p"},
    "spec": {"rules": [{"name": "r", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
                        "validate": {"message": "m", "pattern": {"a": "b"}}}]},
}


def _with(path: list, value) -> dict:
    import copy
    data = copy.deepcopy(POLICY)
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return data


@pytest.mark.parametrize("path,value,field,fragment", [
    (["spec", "rules", 0, "validat"], {}, "spec.rules[0].validat", "unknown field"),
    (["spec", "validationFailureAction"], 5, "spec.validationFailureAction", "got 5"),
    (["spec", "rules", 0, "match", "any", 0, "resources", "kinds"], "Pod", "spec.rules[0].match.any[0].resources.kinds",
     ""),
    (["spec", "background"], "maybe", "spec.background", ""),
])
def test_validate_model_field_paths(path, value, field, fragment):
    with pytest.raises(LoadError) as exc:
        validate_model(Policy, Document("pol.yaml", 1, _with(path, value)))
    err = exc.value
    assert err.source == "pol.yaml" and err.document == 1
    assert err.field == field
    assert str(err).startswith(f"pol.yaml (document 2): {field}: ")
    assert fragment in err.message
    assert "\n" not in str(err)


def test_validate_model_validator_message_has_no_pydantic_prefix():
    data = _with(["spec", "rules"], POLICY["spec"]["rules"] * 2)
    with pytest.raises(LoadError) as exc:
        validate_model(Policy, Document("pol.yaml", 0, data))
    assert exc.value.field == "spec.rules"
    assert exc.value.message.startswith("duplicate rule name")


def test_validate_model_not_a_mapping():
    with pytest.raises(LoadError, match="expected a mapping, got list"):
        validate_model(ValuesFile, Document("v.yaml", 0, [1, 2]))


def test_validate_model_counts_more_errors():
    data = _with(["spec", "background"], "maybe")
    data["spec"]["bogus"] = 1
    with pytest.raises(LoadError) as exc:
        validate_model(Policy, Document("pol.yaml", 0, data))
    assert "(and 1 more error)" in exc.value.message


def test_field_path_skips_union_branch_names():
    assert field_path(["spec", "rules", 0, "validate", "deny", "conditions", "AnyAllConditions", "any", 2,
                       "operator"]) == "spec.rules[0].validate.deny.conditions.any[2].operator"
    assert field_path(["a", "list[Condition]", 1, "key"]) == "a[1].key"



@pytest.mark.parametrize("validate,message", [
    ({"pattern": "hello"}, "validate.pattern: a rule's pattern is matched against the whole resource, so it must "
                           "be a mapping (got str)"),
    ({"pattern": ["a"]}, "validate.pattern: a rule's pattern is matched against the whole resource"),
    ({"anyPattern": [{"metadata": {}}, 5]}, "validate.anyPattern: anyPattern[1] is matched against the whole "
                                            "resource, so it must be a mapping (got int)"),
])
def test_rule_pattern_must_be_an_object(tmp_path, validate, message):
    import yaml as _yaml

    from verno.core.engine import Engine
    from verno.core.errors import LoadError as _LoadError
    from verno.core.policyset import load_policy_set

    policy = {"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy", "metadata": {"name": "p"},
              "spec": {"rules": [{"name": "r", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
                                  "validate": validate}]}}
    (tmp_path / "p.yaml").write_text(_yaml.safe_dump(policy))
    with pytest.raises(_LoadError) as err:
        load_policy_set(Engine(), [str(tmp_path / "p.yaml")])
    assert message in str(err.value) and "p.yaml (document 1): spec.rules[0]." in str(err.value)


def test_foreach_pattern_may_be_a_scalar(tmp_path):
    from verno.core.models.policy import Policy

    Policy.model_validate({
        "apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy", "metadata": {"name": "p"},
        "spec": {"rules": [{"name": "r", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
                            "validate": {"foreach": [{"list": "request.object.spec.containers[].image",
                                                      "pattern": "!*:latest"}]}}]}})


@pytest.mark.parametrize("values,field", [
    ({"globalValues": {"request.operation": ["&a"]}}, "globalValues"),
    ({"globalValues": {"request.operation": "PATCH"}}, "globalValues"),
    ({"policies": [{"name": "p", "resources": [{"name": "r", "values": {"request.operation": 5}}]}]},
     "policies[0].resources[0].values"),
])
def test_values_request_operation_checked_at_load(tmp_path, values, field):
    import yaml as _yaml

    from verno.cli.session import load_values
    from verno.core.errors import LoadError as _LoadError

    (tmp_path / "values.yaml").write_text(_yaml.safe_dump(
        {"apiVersion": "cli.kyverno.io/v1alpha1", "kind": "Values", **values}))
    with pytest.raises(_LoadError) as err:
        load_values(str(tmp_path / "values.yaml"))
    assert err.value.source.endswith("values.yaml") and err.value.field == field
    assert "request.operation must be one of CREATE, UPDATE, DELETE, CONNECT" in str(err.value)
