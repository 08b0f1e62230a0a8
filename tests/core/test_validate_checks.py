"""A validate rule takes one kind of check, as Kyverno admits it; two are a load error naming the field."""
from __future__ import annotations

import pytest
import yaml

from verno.core.engine import Engine
from verno.core.errors import LoadError
from verno.core.policyset import load_policy_set

RULE = """
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: two}
spec:
  rules:
  - name: r
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate:
      message: x
"""
CHECKS = {
    "pattern": {"metadata": {"name": "?*"}},
    "anyPattern": [{"metadata": {"name": "?*"}}],
    "deny": {"conditions": {"any": [{"key": "a", "operator": "Equals", "value": "a"}]}},
    "cel": {"expressions": [{"expression": "true"}]},
}


@pytest.mark.parametrize("pair", [("pattern", "deny"), ("pattern", "anyPattern"), ("deny", "cel")])
def test_two_checks_are_an_error(tmp_path, pair):
    doc = yaml.safe_load(RULE)
    for name in pair:
        doc["spec"]["rules"][0]["validate"][name] = CHECKS[name]
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(doc))
    with pytest.raises(LoadError) as info:
        load_policy_set(Engine(), [str(tmp_path / "p.yaml")])
    assert "spec.rules[0].validate" in str(info.value) and f"sets {pair[0]} and {pair[1]}" in str(info.value)


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_one_check_loads(tmp_path, name):
    doc = yaml.safe_load(RULE)
    doc["spec"]["rules"][0]["validate"][name] = CHECKS[name]
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(doc))
    assert [p.name for p in load_policy_set(Engine(), [str(tmp_path / "p.yaml")]).policies] == ["two"]
