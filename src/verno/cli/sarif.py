"""SARIF 2.1.0 logs of ``verno apply`` and ``verno test`` (for GitHub code scanning and other SARIF readers).

One ``result`` per failing rule and resource, located in the source YAML: at the field a pattern failed on
(the JSON path the validate rule reports), or at the first line of the resource's document for failures
about the whole resource. A result of ``verno test`` is a failed expectation, located at its entry of the
Test file, with the resource (and its field) as a related location.

Rules (``tool.driver.rules``) are ``policy/rule``, described by the policy's annotations:
``policies.kyverno.io/title`` (shortDescription), ``description`` (fullDescription), ``category`` (tags)
and ``severity`` (the default level and GitHub's ``security-severity``). A rule that could not be
evaluated (Kyverno's ``error`` result) is a tool execution notification of level ``error``, as SARIF
puts problems of the tool rather than of the code, and the run is marked unsuccessful.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable
from urllib.parse import quote

from verno.cli.positions import Position, SourcePositions, split_path

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/verno-project/verno"
SRCROOT = "%SRCROOT%"

ANNOTATION = "policies.kyverno.io/"
#: GitHub's security-severity scores (critical >= 9.0, high 7.0-8.9, medium 4.0-6.9, low 0.1-3.9)
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0"}
#: the default level of a rule by its severity; a rule without one fails as an error
LEVELS = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}


@dataclass
class Place:
    """Where a finding is: a document of a file, and a JSON path into it (empty: the whole document)."""

    source: str
    document: int = 0
    path: list[str] = field(default_factory=list)
    #: the object the path is about, when the document is a List of them
    resource: dict[str, Any] | None = None


@dataclass
class Finding:
    policy: str
    rule: str
    annotations: dict[str, str]
    message: str
    #: ``fail``/``warn`` (a result) or ``error`` (a notification: the rule could not be evaluated)
    verdict: str
    place: Place | None = None
    related: list[Place] = field(default_factory=list)
    #: identifies the finding across runs (GitHub's partialFingerprints), e.g. the resource label
    identity: str = ""


def rule_id(policy: str, rule: str) -> str:
    return f"{policy}/{rule}" if rule else policy


def sarif_log(findings: Iterable[Finding], positions: SourcePositions | None = None) -> dict[str, Any]:
    """The SARIF log (one run) of ``findings``."""
    from verno import __version__

    positions = positions or SourcePositions()
    rules: dict[str, dict[str, Any]] = {}
    order: dict[str, int] = {}
    results: list[dict[str, Any]] = []
    notifications: list[dict[str, Any]] = []
    for f in findings:
        rid = rule_id(f.policy, f.rule)
        if rid not in rules:
            order[rid] = len(rules)
            rules[rid] = _descriptor(rid, f)
        locations = [_location(f.place, positions)] if f.place is not None else []
        related = [dict(_location(p, positions), id=i) for i, p in enumerate(f.related)]
        if f.verdict == "error":
            note: dict[str, Any] = {"level": "error", "message": {"text": f.message or "rule error"},
                                    "associatedRule": {"id": rid, "index": order[rid]}}
            if locations:
                note["locations"] = locations
            notifications.append(note)
            continue
        default = rules[rid]["defaultConfiguration"]["level"]
        result: dict[str, Any] = {
            "ruleId": rid,
            "ruleIndex": order[rid],
            "level": "warning" if f.verdict == "warn" and default == "error" else default,
            "message": {"text": f.message or f"{rid} failed"},
            "locations": locations,
        }
        if related:
            result["relatedLocations"] = related
        if f.identity:
            digest = hashlib.sha256(f"{rid}\0{f.identity}".encode()).hexdigest()[:32]
            result["partialFingerprints"] = {"vernoFinding/v1": digest}
        results.append(result)
    run: dict[str, Any] = {
        "tool": {"driver": {"name": "verno", "version": __version__, "informationUri": INFORMATION_URI,
                            "rules": list(rules.values())}},
        "originalUriBaseIds": {SRCROOT: {"uri": Path.cwd().as_uri().rstrip("/") + "/"}},
        "invocations": [{"executionSuccessful": not notifications,
                         **({"toolExecutionNotifications": notifications} if notifications else {})}],
        "results": results,
    }
    return {"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}


def dumps(log: dict[str, Any]) -> str:
    return json.dumps(log, indent=2) + "\n"


def _descriptor(rid: str, f: Finding) -> dict[str, Any]:
    ann = f.annotations or {}
    title = (ann.get(ANNOTATION + "title") or "").strip()
    description = " ".join((ann.get(ANNOTATION + "description") or "").split())
    severity = (ann.get(ANNOTATION + "severity") or "").strip().lower()
    categories = [c.strip() for c in (ann.get(ANNOTATION + "category") or "").split(",") if c.strip()]
    short = f"{title} ({f.rule})" if title and f.rule else title or rid
    out: dict[str, Any] = {"id": rid, "name": rid, "shortDescription": {"text": short}}
    if description:
        out["fullDescription"] = {"text": description}
        out["help"] = {"text": description}
    out["defaultConfiguration"] = {"level": LEVELS.get(severity, "error")}
    props: dict[str, Any] = {}
    tags = list(categories)
    if severity in SECURITY_SEVERITY:
        props["security-severity"] = SECURITY_SEVERITY[severity]
        tags.append("security")  # GitHub reads security-severity only for results tagged security
    if severity:
        props["severity"] = severity
    if tags:
        props["tags"] = tags
    if props:
        out["properties"] = props
    return out


def _location(place: Place, positions: SourcePositions) -> dict[str, Any]:
    physical: dict[str, Any] = {"artifactLocation": _artifact(place.source)}
    pos: Position | None = positions.locate(place.source, place.document, place.path, place.resource)
    if pos is not None:
        physical["region"] = {"startLine": pos.line, "startColumn": pos.column}
    return {"physicalLocation": physical}


def _artifact(source: str) -> dict[str, Any]:
    """A repository-relative URI (``uriBaseId`` %SRCROOT%, the working directory) when the file is under it."""
    if source == "-":
        return {"uri": "stdin"}
    absolute = os.path.abspath(source)
    rel = os.path.relpath(absolute, os.getcwd())
    if rel.startswith(os.pardir + os.sep) or rel == os.pardir or os.path.isabs(rel):
        return {"uri": Path(absolute).as_uri()}
    return {"uri": quote(Path(rel).as_posix()), "uriBaseId": SRCROOT}


# -- verno apply ---------------------------------------------------------------------------------------

def apply_findings(located: Iterable[tuple[tuple[str, int] | None, Any]], audit_warn: bool) -> list[Finding]:
    """Findings of ``verno apply``: ``(source file and document, PolicyResponse)`` pairs."""
    from verno.cli.report import report_result
    from verno.cli.session import resource_label

    out: list[Finding] = []
    for where, response in located:
        for rule in response.rules:
            verdict = report_result(response, rule, audit_warn)
            if verdict not in ("fail", "warn", "error"):
                continue
            place = None
            if where is not None:
                path = split_path(resource_path(response.policy, rule))
                place = Place(where[0], where[1], path, response.resource)
            out.append(Finding(response.policy.key, rule.name, dict(response.policy.annotations), rule.message,
                               verdict, place, identity=resource_label(response.resource)))
    return out


def resource_path(policy: Any, rule: Any) -> str:
    """The path a rule response failed at, when it is a path in the resource: a foreach rule's path is
    relative to the element it validated, so it is dropped (the finding points at the whole resource)."""
    if not rule.path:
        return ""
    spec = getattr(policy, "spec", None)
    for written in getattr(spec, "rules", None) or ():
        if written.name == rule.name or rule.name.endswith("-" + written.name):
            validate = written.validate_
            return "" if validate is not None and validate.foreach else rule.path
    return rule.path


def apply_sarif(located: list[tuple[tuple[str, int] | None, Any]], audit_warn: bool = False) -> str:
    """The ``verno apply --output-format sarif`` text."""
    return dumps(sarif_log(apply_findings(located, audit_warn)))


# -- verno test ----------------------------------------------------------------------------------------

def suite_findings(rows: Iterable[Any]) -> list[Finding]:
    """Findings of ``verno test``: each failed expectation, at its entry of the Test file."""
    out: list[Finding] = []
    for row in rows:
        if row.ok:
            continue
        place = None
        if row.expectation is not None:
            document, index = row.expectation
            place = Place(row.test, document, ["results", str(index)])
        related = []
        if row.origin is not None:
            source, document, path = row.origin
            related.append(Place(source, document, split_path(path)))
        verdict = "error" if row.reason == "Test error" else "fail"
        message = f"{row.reason}: {row.message}" if row.message and row.message != row.reason else row.reason
        out.append(Finding(row.policy, row.rule, dict(row.annotations), message, verdict, place or Place(row.test),
                           related, identity=f"{row.test}\0{row.resource}"))
    return out


def suite_sarif(rows: list[Any], summary: dict[str, int]) -> str:
    """The ``verno test -o sarif`` text."""
    return dumps(sarif_log(suite_findings(rows)))
