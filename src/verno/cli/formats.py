"""Built-in output formats (a plugin): json, yaml, markdown, junit and sarif for ``verno test``; yaml and
json for ``verno apply -p`` (``--output-format``), and sarif for ``verno apply --output-format sarif``.

An ``apply`` formatter receives one PolicyReport (a dict) and returns its text. When a run gives several
reports (one per namespace), each is formatted and the texts are combined by the format's ``join``
option, a callable given the list of texts; without one they are printed one after another. A format
registered with ``reads="responses"`` is about the whole run instead (SARIF): it receives the list of
``(source, PolicyResponse)`` pairs, ``source`` being ``(file, document index)`` or ``None``, and the
``--audit-warn`` flag, and it is printed without ``-p``.
"""
from __future__ import annotations

import json
from typing import Any

import yaml

from verno.cli.sarif import apply_sarif, suite_sarif
from verno.core.hookspecs import hookimpl


def _rows(rows: list[Any]) -> list[dict[str, Any]]:
    return [row.as_dict() for row in rows]


def to_json(rows: list[Any], summary: dict[str, int]) -> str:
    return json.dumps({"summary": summary, "results": _rows(rows)}, indent=2)


def to_yaml(rows: list[Any], summary: dict[str, int]) -> str:
    return yaml.safe_dump({"summary": summary, "results": _rows(rows)}, sort_keys=False)


def to_markdown(rows: list[Any], summary: dict[str, int]) -> str:
    lines = ["| ID | POLICY | RULE | RESOURCE | RESULT | REASON | MESSAGE |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        cells = [str(r.id), r.policy, r.rule, r.resource, r.result, r.reason, r.message]
        lines.append("| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |")
    lines.append("")
    lines.append(f"**Test Summary:** {summary['passed']} tests passed and {summary['failed']} tests failed")
    return "\n".join(lines)


def to_junit(rows: list[Any], summary: dict[str, int]) -> str:
    from xml.sax.saxutils import escape, quoteattr  # pulls in urllib: load it only for JUnit output

    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           f'<testsuites name="verno" tests="{len(rows)}" failures="{summary["failed"]}">']
    by_file: dict[str, list[Any]] = {}
    for r in rows:
        by_file.setdefault(r.test, []).append(r)
    for test, items in by_file.items():
        fails = sum(1 for r in items if not r.ok)
        out.append(f'  <testsuite name={quoteattr(test)} tests="{len(items)}" failures="{fails}">')
        for r in items:
            name = quoteattr(f"{r.policy}/{r.rule}/{r.resource}")
            out.append(f'    <testcase classname={quoteattr(r.policy)} name={name}>')
            if not r.ok:
                out.append(f'      <failure message={quoteattr(r.reason)}>{escape(r.message)}</failure>')
            out.append("    </testcase>")
        out.append("  </testsuite>")
    out.append("</testsuites>")
    return "\n".join(out)


def report_yaml(report: dict[str, Any]) -> str:
    return yaml.safe_dump(report, sort_keys=False)


def join_yaml(texts: list[str]) -> str:
    """One YAML stream, as Kyverno prints its reports."""
    return "---\n".join(texts)


def report_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2) + "\n"


def join_json(texts: list[str]) -> str:
    """Several reports as one JSON array (still one JSON document)."""
    return "[\n" + ",\n".join(t.rstrip("\n") for t in texts) + "\n]\n"


def join_lines(texts: list[str]) -> str:
    """What a format without ``join`` prints: each text in turn, each ending in a newline."""
    return "".join(t if t.endswith("\n") else t + "\n" for t in texts)


@hookimpl
def verno_register_output_formats(register):
    register("json", to_json, command="test")
    register("yaml", to_yaml, command="test")
    register("markdown", to_markdown, command="test")
    register("junit", to_junit, command="test")
    register("sarif", suite_sarif, command="test")
    register("yaml", report_yaml, command="apply", join=join_yaml)
    register("json", report_json, command="apply", join=join_json)
    register("sarif", apply_sarif, command="apply", reads="responses")
