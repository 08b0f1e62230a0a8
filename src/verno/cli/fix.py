"""``verno fix``: apply the policies' own mutate rules to the manifests they are given, in the source files.

Each resource is evaluated as ``verno apply`` evaluates it; the resource its mutations leave is turned
into minimal edits of its source document (:mod:`verno.cli.resource_changes`, :mod:`verno.cli.source_edit`),
so every line the mutations do not touch stays byte for byte. A unified diff of each changed file is
printed (stdout); files are written only with ``--write``. Resources that still fail validation after
their mutations, and mutations that cannot be written back, are listed on stderr with exit code 1.
"""
from __future__ import annotations

import copy
import difflib
import os
import sys
import tempfile
from dataclasses import dataclass, field
from typing import Any, Iterator

import click

from verno.cli.apply_run import Evaluation
from verno.cli.mutation_effects import final_resource, targets
from verno.cli.report import report_result
from verno.cli.resource_changes import Change, Path, apply_plain, changes, format_path, same
from verno.cli.session import Session, load_userinfo, load_values, merge_values, namespace_objects, parse_set, \
    resource_label
from verno.cli.source_edit import Unwritable, check_document, edit_json_text, edit_yaml_document
from verno.core.engine import Engine
from verno.core.errors import LoadError, VernoError
from verno.core.loading import expand_paths, read_text
from verno.core.objectshape import object_problem
from verno.core.policykinds import KindInputs
from verno.core.policyset import load_policy_set
from verno.core.results import Status
from verno.core.yamlio import is_json, iter_documents, load_document, yaml_chunks

#: fields that make a resource the object it is: a mutation of them cannot be written back in place
IDENTITY = (("apiVersion",), ("kind",), ("metadata", "name"), ("metadata", "namespace"))


@dataclass
class Problem:
    label: str
    where: str
    text: str


@dataclass
class FixRun:
    evaluation: Evaluation
    still_failing: list[tuple[str, str, list[str]]] = field(default_factory=list)
    unwritable: list[Problem] = field(default_factory=list)
    changed_resources: int = 0

    def resource(self, data: dict[str, Any], where: str) -> list[Change] | None:
        """The edits ``data``'s mutations make (None: none or unwritable, already reported)."""
        label = resource_label(data)
        responses = self.evaluation(copy.deepcopy(data)).responses
        self._failures(responses, label, where)
        for response in responses:
            for rule, target in targets(response):
                self.unwritable.append(Problem(label, where, f"rule {rule} of policy {response.policy.key} "
                                               f"patches another resource ({resource_label(target)}); verno fix "
                                               "writes only the resources it is given"))
        result = final_resource(responses)
        if result is None:
            return None
        seen, final = result
        edits = changes(seen, final)
        if not edits:
            return None
        for change in edits:
            if change.path[:2] in IDENTITY or change.path[:1] in IDENTITY or not change.path:
                self.unwritable.append(Problem(label, where, f"the mutation changes {format_path(change.path)}, "
                                               "which names the object: written back, the file would describe "
                                               "another object"))
                return None
        again = final_resource(self.evaluation(copy.deepcopy(data)).responses)
        if again is None or not same(again[1], final):
            differ = changes(final, again[1]) if again is not None else []
            at = f" at {format_path(differ[0].path)}" if differ else ""
            self.unwritable.append(Problem(label, where, f"the mutation gives a different result on each run{at} "
                                           "(a generated name, random() or time_now()): nothing to write back"))
            return None
        return edits

    def _failures(self, responses: list[Any], label: str, where: str) -> None:
        for response in responses:
            lines = [f"{rule.name}: {rule.message}" if rule.status == Status.FAIL else
                     f"{rule.name}: error: {rule.message}"
                     for rule in response.rules if report_result(response, rule) in ("fail", "error")]
            if lines:
                self.still_failing.append((f"policy {response.policy.key} -> resource {label} ({where})",
                                           response.policy.key, lines))


def _resources(value: Any, source: str, index: int) -> Iterator[tuple[Path, dict[str, Any]]]:
    """``(prefix, resource)`` of one document: itself, or the items of a ``kind: *List``."""
    if isinstance(value, dict) and str(value.get("kind", "")).endswith("List") and isinstance(value.get("items"), list):
        items: list[tuple[Path, Any]] = [(("items", i), item) for i, item in enumerate(value["items"])]
    else:
        items = [((), value)]
    for prefix, item in items:
        if not isinstance(item, dict):
            raise LoadError(source, f"expected a Kubernetes object, got {type(item).__name__}", document=index)
        problem = object_problem(item)
        if problem is not None:
            raise LoadError(source, problem[1], document=index, field=problem[0])
        yield prefix, item


def fix_text(run: FixRun, path: str, text: str) -> str:
    """``text`` of file ``path`` with its resources' mutations written in."""
    bom = "\ufeff" if text.startswith("\ufeff") else ""
    body = text[len(bom):]
    if is_json(body):
        for index, value in iter_documents(body, path):
            edits, expected = _document_edits(run, path, index, value)
            if not edits:
                return text
            try:
                new = edit_json_text(body, value, edits)
                _check(new, path, index, 0, expected, json_text=True)
            except Unwritable as exc:
                _document_unwritable(run, path, index, value, str(exc))
                return text
            return bom + new
        return text
    out: list[str] = []
    for index, chunk, line in yaml_chunks(body):
        value = load_document(chunk, path, index=index, line=line)
        edits, expected = _document_edits(run, path, index, value) if value is not None else ({}, {})
        if not edits:
            out.append(chunk)
            continue
        try:
            new = edit_yaml_document(chunk, edits, line)
            _check(new, path, index, line, expected)
        except Unwritable as exc:
            _document_unwritable(run, path, index, value, str(exc))
            out.append(chunk)
            continue
        out.append(new)
    return bom + "".join(out)


def _document_edits(run: FixRun, path: str, index: int, value: Any) -> tuple[dict[Path, list[Change]], dict[Path, Any]]:
    edits: dict[Path, list[Change]] = {}
    expected: dict[Path, Any] = {}
    for prefix, resource in _resources(value, path, index):
        resource_edits = run.resource(resource, f"{path} document {index + 1}")
        if resource_edits:
            edits[prefix] = resource_edits
            expected[prefix] = apply_plain(copy.deepcopy(resource), resource_edits)
            run.changed_resources += 1
    return edits, expected


def _document_unwritable(run: FixRun, path: str, index: int, value: Any, why: str) -> None:
    labels = ", ".join(resource_label(r) for _, r in _resources(value, path, index))
    run.unwritable.append(Problem(labels, f"{path} document {index + 1}", why))


def _check(text: str, path: str, index: int, line: int, expected: dict[Path, Any], json_text: bool = False) -> None:
    if json_text:
        try:
            docs = list(iter_documents(text, path))
        except VernoError as exc:
            raise Unwritable(f"the edited file would not read back: {exc}") from None
        value = docs[0][1] if docs else None
        for prefix, want in expected.items():
            got = value
            for part in prefix:
                got = got[part]
            if not same(got, want):
                raise Unwritable("the edited JSON would read back differently from the mutated resource")
        return
    check_document(text, path, index, line, expected)


def unified(path: str, old: str, new: str) -> str:
    out = []
    before, after = (path, path) if os.path.isabs(path) else (f"a/{path}", f"b/{path}")
    for line in difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                     fromfile=before, tofile=after):
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)


def write_atomically(path: str, text: str) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    try:
        mode = os.stat(path).st_mode & 0o7777
        fd, tmp = tempfile.mkstemp(prefix=".verno-fix-", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
                fh.write(text)
            os.chmod(tmp, mode)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
    except OSError as exc:
        raise VernoError(f"{path}: cannot write the fixed file ({exc.strerror or exc})") from exc


@click.command("fix")
@click.argument("policies", nargs=-1, required=True)
@click.option("-r", "--resource", "--resources", "resources", multiple=True,
              help="Resource file or directory to fix (repeatable).")
@click.option("-e", "--exception", "--exceptions", "exceptions", multiple=True, help="PolicyException file (repeatable).")
@click.option("-f", "--values-file", "values_file", default="", help="Values file (kind: Values).")
@click.option("-s", "--set", "set_values", multiple=True, help="Variables: key=value,key2=value2.")
@click.option("-u", "--userinfo", "userinfo", default="", help="UserInfo file (roles, clusterRoles, subjects).")
@click.option("--write", is_flag=True, help="Write the fixed files (default: print the diff only).")
def fix_command(policies: tuple[str, ...], resources: tuple[str, ...], exceptions: tuple[str, ...],
                values_file: str, set_values: tuple[str, ...], userinfo: str, write: bool) -> None:
    """Apply the mutate rules of POLICIES to the resource files themselves.

    Prints a unified diff of every file the mutations change, keeping comments, key order, quoting and
    document separators; writes the files only with --write. Resources that still fail validation
    afterwards, and mutations that cannot be written back, are listed (exit code 1).
    """
    if not resources:
        raise click.UsageError("give resource files with -r/--resource")
    if write and "-" in resources:
        raise click.UsageError("--write cannot write to stdin (-r -); give files")
    engine = Engine()
    policy_set = load_policy_set(engine, policies, exceptions)
    engine.require_handlers(policy_set.policies)
    values = merge_values(load_values(values_file) if values_file else None, None, parse_set(set_values))
    session = Session.build(values, load_userinfo(userinfo) if userinfo else None)
    kind_inputs = KindInputs(session.sources, policy_set.companions, namespaces=namespace_objects(values),
                             engine=engine)
    evaluation = Evaluation(session, engine, policy_set.policies, policy_set.exceptions, False, True, False, False,
                            True, "", policy_set.kind_policies, kind_inputs)
    run = FixRun(evaluation)
    fixed: list[tuple[str, str]] = []
    for path in expand_paths(resources):
        text = read_text(path)
        new = fix_text(run, path, text)
        if new != text:
            click.echo(unified(path, text, new), nl=False)
            fixed.append((path, new))
    if write:
        for path, new in fixed:
            write_atomically(path, new)
    err = sys.stderr
    done = "written" if write else "not written: add --write to write them"
    click.echo(f"{run.changed_resources} resource(s) changed in {len(fixed)} file(s) ({done})"
               if fixed else "no changes: the policies' mutate rules change nothing in these files", file=err)
    for problem in run.unwritable:
        click.echo(f"cannot write back {problem.label} ({problem.where}): {problem.text}", file=err)
    if run.still_failing:
        click.echo("\nstill failing after the mutations:", file=err)
        for header, _, lines in run.still_failing:
            click.echo(header, file=err)
            for n, line in enumerate(lines, 1):
                click.echo(f"{n} - {line}", file=err)
    sys.exit(1 if run.still_failing or run.unwritable else 0)
