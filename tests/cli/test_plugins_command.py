"""``verno plugins``: built-in plugins and what they registered, as text and JSON."""
from __future__ import annotations

import json

BUILTIN = {"context-loaders", "jmespath-functions", "operators", "output-formats", "validate"}


def test_text_listing(run):
    r = run("plugins")
    assert r.exit_code == 0
    out = r.stdout
    for name in BUILTIN:
        assert f"\n{name} (" in "\n" + out
    assert "  context loaders (5): variable, configMap, apiCall, imageRegistry, globalReference" in out
    assert "  operators (18): Equals," in out
    assert "  JMESPath functions (51): " in out
    assert ("  output formats (8): test:json, test:yaml, test:markdown, test:junit, test:sarif, apply:yaml, "
            "apply:json, apply:sarif"
            in out)
    assert "  hooks: verno_prepare_rule, verno_validate_rule" in out


def test_json_listing(run):
    r = run("plugins", "--json")
    assert r.exit_code == 0
    entries = {e["name"]: e for e in json.loads(r.stdout)}
    assert BUILTIN <= set(entries)
    fn = entries["jmespath-functions"]
    assert fn["module"] == "verno.core.jmespath.functions"
    assert "verno_register_jmespath_functions" in fn["hooks"]
    assert {"to_upper", "regex_match", "time_add"} <= set(fn["functions"]) and len(fn["functions"]) == 51
    assert len(entries["operators"]["operators"]) == 18
    assert {"variable", "configMap", "apiCall"} <= set(entries["context-loaders"]["context_loaders"])
    assert "verno_validate_rule" in entries["validate"]["hooks"]
    for e in entries.values():
        assert set(e) >= {"name", "module", "hooks", "operators", "functions", "context_loaders",
                          "predicate_checkers", "output_formats"}


def test_real_executable(run_exe):
    p = run_exe("plugins", "--json")
    assert p.returncode == 0, p.stderr
    assert BUILTIN <= {e["name"] for e in json.loads(p.stdout)}
