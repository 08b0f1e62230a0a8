"""``verno jp``: queries on stdin and files with Kyverno's functions; the function listing."""
from __future__ import annotations

import json


def test_query_stdin(run):
    r = run("jp", "query", "to_upper(a.b)", input='{"a": {"b": "x"}}')
    assert r.exit_code == 0
    assert json.loads(r.stdout) == "X"


def test_query_yaml_file_multiple_expressions(run, data):
    r = run("jp", "query", "-i", data / "resources/configmap.json", "metadata.name", "data", "-c")
    assert r.exit_code == 0
    assert r.stdout.splitlines() == ['"cfg"', '{"a": "b"}']


def test_query_unquoted_and_query_file(run, data, tmp_path):
    (tmp_path / "q.jp").write_text("split(metadata.name, 'f')\n")
    (tmp_path / "in.yaml").write_text("metadata:\n  name: cfg\n")
    r = run("jp", "query", "-i", tmp_path / "in.yaml", "-q", tmp_path / "q.jp", "-c")
    assert json.loads(r.stdout) == ["c", "g"]
    r = run("jp", "query", "-u", "metadata.name", "-i", tmp_path / "in.yaml")
    assert r.stdout == "cfg\n"


def test_query_kyverno_functions(run):
    r = run("jp", "query", "-c", "[regex_match('^a+$', 'aaa'), time_add('2024-01-01T00:00:00Z', '1h'), "
            "add(`1`, `2`), semver_compare('1.2.3', '>1.0.0')]", input="{}")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout) == [True, "2024-01-01T01:00:00Z", 3, True]


def test_query_errors(run, data):
    r = run("jp", "query", "to_upper(`1`)", input="{}")
    assert r.exit_code == 1 and r.stderr.startswith("Error: ") and "to_upper" in r.stderr
    r = run("jp", "query", input="{}")
    assert r.exit_code == 2
    r = run("jp", "query", "a", input="a: 1\n---\nb: 2\n")
    assert r.exit_code == 1 and "expected one document, found 2" in r.stderr


def test_function_listing(run):
    r = run("jp", "function")
    assert r.exit_code == 0
    names = [ln.split(": ", 1)[1] for ln in r.stdout.splitlines() if ln.startswith("Name: ")]
    assert {"to_upper", "regex_match", "time_add", "base64_decode", "semver_compare", "x509_decode"} <= set(names)
    assert len(names) >= 51
    assert names == sorted(names)


def test_function_signatures(run):
    r = run("jp", "function", "to_upper", "regex_match", "time_add")
    assert r.exit_code == 0
    blocks = {b.splitlines()[0][len("Name: "):]: b for b in r.stdout.strip().split("\n\n")}
    assert set(blocks) == {"to_upper", "regex_match", "time_add"}
    assert "  Signature: to_upper(string) string" in blocks["to_upper"]
    assert "  Signature: regex_match(string, string|number) boolean" in blocks["regex_match"]
    assert "  Signature: time_add(string, string) string" in blocks["time_add"]
    for block in blocks.values():
        assert "  Description: " in block and "  Plugin: jmespath-functions" in block


def test_function_unknown(run):
    r = run("jp", "function", "no_such_function")
    assert r.exit_code == 1
    assert r.stderr == "Error: unknown function(s): no_such_function\n"


def test_query_real_executable(run_exe):
    p = run_exe("jp", "query", "-u", "to_lower(a)", input="a: HELLO\n")
    assert p.returncode == 0 and p.stdout == "hello\n"
