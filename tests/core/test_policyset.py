"""core/policyset.py: policies and PolicyExceptions from paths; any other document is an error."""
from __future__ import annotations

import io
from pathlib import Path

import pytest

from verno.core.engine import Engine
from verno.core.errors import LoadError
from verno.core.policyset import load_policy_set

DATA = Path(__file__).resolve().parent.parent / "data" / "cli"
POLICY = (DATA / "policies/require-team-label.yaml").read_text()
EXCEPTION = (DATA / "extra/exception.yaml").read_text()
NAMESPACED = (DATA / "extra/namespaced-policy.yaml").read_text()


@pytest.fixture(scope="module")
def engine():
    return Engine()


def test_directory_recursion(engine, tmp_path):
    (tmp_path / "sub" / "deeper").mkdir(parents=True)
    (tmp_path / "a.yaml").write_text(POLICY)
    (tmp_path / "sub" / "deeper" / "b.yaml").write_text(NAMESPACED)
    (tmp_path / "sub" / "ignored.txt").write_text("kind: ClusterPolicy")
    ps = load_policy_set(engine, [str(tmp_path)])
    assert sorted(p.policy.key for p in ps.policies) == ["apps/apps-need-owner", "require-team-label"]
    assert ps.exceptions == []
    # a Pod rule autogenerates the Pod-controller and CronJob rules
    assert ps.rule_count == 6
    assert ps.find("require-team-label").name == "require-team-label"
    assert ps.find("apps/apps-need-owner") is ps.find("apps-need-owner")
    assert ps.find("nope") is None


def test_stdin(engine, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(POLICY + "---\n" + EXCEPTION))
    ps = load_policy_set(engine, ["-"])
    assert [p.name for p in ps.policies] == ["require-team-label"]
    assert [e.key for e in ps.exceptions] == ["default/allow-unlabelled"]
    assert ps.policies[0].source == "-"


def test_json_policy(engine, tmp_path):
    import json

    import yaml

    (tmp_path / "p.json").write_text(json.dumps(yaml.safe_load(POLICY)))
    ps = load_policy_set(engine, [str(tmp_path / "p.json")])
    assert [p.name for p in ps.policies] == ["require-team-label"]


@pytest.mark.parametrize("doc,expected", [
    ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n",
     "ConfigMap (v1) is not a policy: expected kyverno.io ClusterPolicy or Policy (or PolicyException)"),
    ("apiVersion: kyverno.io/v2\nkind: ClusterCleanupPolicy\nmetadata: {name: v}\n", "is not supported yet"),
    ("apiVersion: kyverno.io/v2beta1\nkind: CleanupPolicy\nmetadata: {name: v, namespace: x}\n",
     "CleanupPolicy (kyverno.io/v2beta1) is not supported yet"),
])
def test_other_documents_are_errors(engine, tmp_path, doc, expected):
    (tmp_path / "mixed.yaml").write_text(POLICY + "---\n" + doc)
    with pytest.raises(LoadError) as exc:
        load_policy_set(engine, [str(tmp_path / "mixed.yaml")])
    err = exc.value
    assert err.source.endswith("mixed.yaml") and err.document == 1 and err.field == "kind"
    assert expected in err.message


def test_exception_in_policy_path(engine, tmp_path):
    (tmp_path / "all.yaml").write_text(POLICY + "---\n" + EXCEPTION)
    ps = load_policy_set(engine, [str(tmp_path / "all.yaml")])
    assert [e.key for e in ps.exceptions] == ["default/allow-unlabelled"]
    with pytest.raises(LoadError) as exc:
        load_policy_set(engine, [str(tmp_path / "all.yaml")], exceptions_in_policies=False)
    assert exc.value.document == 1 and "give it with -e/--exception" in exc.value.message


def test_exception_paths_reject_policies(engine, tmp_path):
    (tmp_path / "e.yaml").write_text(EXCEPTION)
    ps = load_policy_set(engine, [], [str(tmp_path / "e.yaml")])
    assert ps.policies == [] and len(ps.exceptions) == 1
    (tmp_path / "all.yaml").write_text(EXCEPTION + "---\n" + POLICY)
    with pytest.raises(LoadError) as exc:
        load_policy_set(engine, [], [str(tmp_path / "all.yaml")])
    assert exc.value.document == 1 and "found among PolicyExceptions" in exc.value.message


def test_no_policy_is_an_error(engine, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(LoadError) as exc:
        load_policy_set(engine, [str(tmp_path / "empty")])
    assert "no policies found" in exc.value.message and str(tmp_path / "empty") in str(exc.value)
    (tmp_path / "only-exception.yaml").write_text(EXCEPTION)
    with pytest.raises(LoadError, match="no policies found"):
        load_policy_set(engine, [str(tmp_path / "only-exception.yaml")])
    # a webhook may start empty and be given policies later
    assert load_policy_set(engine, [str(tmp_path / "empty")], allow_empty=True).policies == []


def test_document_without_kind_is_an_error(engine, tmp_path):
    (tmp_path / "p.yaml").write_text(POLICY + "---\nfoo: bar\n")
    with pytest.raises(LoadError) as exc:
        load_policy_set(engine, [str(tmp_path / "p.yaml")])
    assert exc.value.document == 1 and "no kind" in exc.value.message


def test_invalid_policy_names_file_document_field(engine, tmp_path):
    (tmp_path / "p.yaml").write_text(EXCEPTION + "---\n" + POLICY.replace("    - name: check-team\n",
                                                                          "    - name: check-team\n      bogus: 1\n"))
    with pytest.raises(LoadError) as exc:
        load_policy_set(engine, [str(tmp_path / "p.yaml")])
    err = exc.value
    assert err.source.endswith("p.yaml") and err.document == 1 and err.field == "spec.rules[0].bogus"


def test_invalid_exception(engine, tmp_path):
    (tmp_path / "e.yaml").write_text(EXCEPTION.replace("policyName:", "policyNam:"))
    with pytest.raises(LoadError) as exc:
        load_policy_set(engine, [], [str(tmp_path / "e.yaml")])
    assert exc.value.field.startswith("spec.exceptions[0]")


def test_load_time_check_becomes_load_error(engine, tmp_path):
    bad = (DATA / "policies/no-default-namespace.yaml").read_text().replace("operator: Equals", "operator: Nope")
    (tmp_path / "p.yaml").write_text(bad)
    with pytest.raises(LoadError) as exc:
        load_policy_set(engine, [str(tmp_path / "p.yaml")])
    assert exc.value.source.endswith("p.yaml") and "Nope" in str(exc.value)
