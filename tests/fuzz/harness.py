"""A structure-aware fuzzer for ``verno test`` and ``verno apply``: seed suites, mutated, run in-process.

A *case* takes one seed suite (a ``kyverno-test.yaml`` and the files it names), mutates one of its files
(a node of one document replaced, deleted or given a new key; a subtree's type changed; or the raw text
edited, control characters included) and runs ``verno test`` on the suite and ``verno apply`` on its
policies and resources, as a user would from the command line. Files are read through
``verno.core.loading.read_text``, which the harness overrides for the mutated file, so nothing is copied.

What a case must show (:func:`check`): no exception escapes the command, no "internal error", exit codes
are 0 or 1 (2 only for usage errors), and every ``Error:`` line names the file it is about.

While a case runs, the commands share one Engine (building one loads every plugin); everything is put
back afterwards. Used by ``tests/fuzz/test_fuzz.py`` (a bounded hypothesis run in the suite) and ``bench/fuzz.py`` (long runs).
"""
from __future__ import annotations

import json
import math
import os
import random
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import yaml
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parents[2]

#: seed suites inside the project (directories holding a kyverno-test.yaml)
PROJECT_SEEDS = [ROOT / "examples", ROOT / "tests/fuzz/seeds/features", ROOT / "tests/data/cli/suite",
                 ROOT / "tests/data/cli/values-operation", ROOT / "tests/data/cli/multi", ROOT / "tests/fuzz/seeds/cel"]

#: field names a mutation may add, so that mutations reach the parts of the schema that matter
FIELDS = [
    "apiVersion", "kind", "metadata", "name", "namespace", "labels", "annotations", "spec", "rules", "match",
    "exclude", "any", "all", "resources", "kinds", "names", "namespaces", "selector", "matchLabels",
    "matchExpressions", "namespaceSelector", "subjects", "roles", "clusterRoles", "operations", "validate",
    "pattern", "anyPattern", "deny", "conditions", "foreach", "list", "elementScope", "message", "mutate",
    "patchStrategicMerge", "patchesJson6902", "targets", "generate", "data", "clone", "cloneList",
    "synchronize", "verifyImages", "imageReferences", "attestors", "entries", "keys", "publicKeys", "count",
    "attestations", "context", "variable", "jmesPath", "value", "default", "configMap", "apiCall", "urlPath",
    "method", "service", "url", "imageRegistry", "reference", "globalReference", "preconditions", "key",
    "operator", "validationFailureAction", "failureAction", "validationFailureActionOverrides", "background",
    "podSecurity", "level", "version", "exclude", "controlName", "images", "results", "result", "policy",
    "rule", "resource", "patchedResource", "generatedResource", "cloneSourceResource", "values",
    "globalValues", "policies", "userinfo", "variables", "exceptions", "clusterResources", "ruleNames",
    "policyName", "containers", "image", "securityContext", "privileged", "autogen-x", "=(tier)", "+(x)",
    "matchConstraints", "resourceRules", "apiGroups", "apiVersions", "matchConditions", "expression",
    "validations", "messageExpression", "auditAnnotations", "valueExpression", "validationActions",
    "failurePolicy", "evaluation", "mode", "policyRefs", "allowedValues", "reportResult", "jsonPayloads",
    "paramResources", "isValidatingPolicy",
    "X(y)", "^(name)", "<(a)", "(name)", "subresources", "namespaceSelector", "imageExtractors",
    "mutateExistingOnPolicyUpdate", "generateExisting", "applyRules", "webhookTimeoutSeconds", "schemaValidation",
]

STRINGS = [
    "", " ", "*", "?*", "!*", "a", "Pod", "v1", "apps/v1", "kyverno.io/v1", "default", "kube-system",
    "CREATE", "DELETE", "Enforce", "Audit", "pass", "fail", "skip", "error", "warn", "Equals", "NotEquals", "In",
    "AnyIn", "AllNotIn", "GreaterThan", "DurationLessThan", "<5", ">=1Gi", "1Gi", "1h", "a | b", "!a & !b",
    "{{ request.object.metadata.name }}", "{{ request.object.spec.containers[].image }}", "{{ element }}",
    "{{ request.userInfo.groups[?contains(@, 'x')] }}", "{{ images.containers.*.tag }}", "{{ }}", "{{",
    "{{ to_number('x') }}", "{{ divide(`1`, `0`) }}", "{{ regex_replace_all('(a+)+', 'aaaa', '$1$1') }}",
    "{{ parse_yaml('a: 1') }}", "{{ parse_json('[1') }}", "{{ base64_decode('!!') }}", "{{ random('[a-z]{3}') }}",
    "{{ time_now_utc() }}", "{{ x509_decode('') }}", "{{ semver_compare('1.0.0', '>1') }}", "{{ length(@) }}",
    "{{ request.object | keys(@) }}", "{{ lookup(request.object, 'kind') }}", "{{ items(request.object, 'a', 'b') }}",
    "$(./../metadata/name)", "$(", "{{request.object.metadata.labels.\"a.b\"}}", "registry.example.com/*",
    "nginx:latest", "ghcr.io/a/b@sha256:" + "0" * 64, "k8s://default/key", "https://127.0.0.1/x",
    "/api/v1/namespaces/default/configmaps/settings", "/apis/apps/v1/deployments", "x" * 300,
    "\ud800", "\udfff", "\x00", "\x07", "\u200b", "\ufeff", "é", "日本", "a\nb", "'", "\"", "\\", "- a", "a: b",
    "&a", "*a", "!!binary", "yes", "no", "on", "0777", "1e3", ".inf", "~", "null", "true", "2024-01-01",
]


def _value(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth > 2 or roll < 0.45:
        return rng.choice(STRINGS)
    if roll < 0.55:
        return rng.choice([0, 1, -1, 63, 64, 2 ** 31, 2 ** 70, -(2 ** 63), 1.5, -0.0, math.inf, math.nan])
    if roll < 0.62:
        return rng.choice([True, False, None])
    if roll < 0.82:
        return {rng.choice(FIELDS): _value(rng, depth + 1) for _ in range(rng.randint(0, 3))}
    return [_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]


def _nodes(doc: Any, path: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    yield path, doc
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _nodes(v, path + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _nodes(v, path + (i,))


def _set(doc: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    parent = doc
    for part in path[:-1]:
        parent = parent[part]
    parent[path[-1]] = value
    return doc


def _delete(doc: Any, path: tuple) -> Any:
    if not path:
        return None
    parent = doc
    for part in path[:-1]:
        parent = parent[part]
    del parent[path[-1]]
    return doc


def mutate_tree(doc: Any, rng: random.Random) -> Any:
    """One structural mutation of a parsed document."""
    nodes = list(_nodes(doc))
    path, node = rng.choice(nodes)
    op = rng.random()
    if op < 0.4:
        return _set(doc, path, _value(rng))
    if op < 0.55 and path:
        return _delete(doc, path)
    if op < 0.75 and isinstance(node, dict):
        node[rng.choice(FIELDS)] = _value(rng)
        return doc
    if op < 0.85:  # change the shape: wrap in a list, take the first element, stringify
        if isinstance(node, list) and node:
            return _set(doc, path, node[0])
        if isinstance(node, (dict, str)):
            return _set(doc, path, [node])
        return _set(doc, path, str(node))
    if op < 0.93 and isinstance(node, list):
        node.extend(rng.choice(node) if node else _value(rng) for _ in range(rng.randint(1, 3)))
        return doc
    return _set(doc, path, _value(rng))


#: raw characters a text mutation inserts: control characters, BOMs, YAML indicators, surrogate escapes
RAW = ["\x00", "\x01", "\x08", "\x0b", "\x0c", "\x1b", "\x7f", "\x85", "\u2028", "\ufeff", "\t", "\r", "\n",
       ":", "- ", "&a ", "*a", "<<: *a\n", "!!str ", "!!python/object ", "%YAML 1.1\n", "---\n", "...\n", "{", "[",
       "\"\\ud800\"", "'", "#", "|", ">", "? ", "\\x00", "é", "\U0001f600"]


def mutate_text(text: str, rng: random.Random) -> str:
    """One raw-text mutation: insert, delete or duplicate at a random place."""
    if not text:
        return rng.choice(RAW)
    pos = rng.randrange(len(text) + 1)
    op = rng.random()
    if op < 0.6:
        return text[:pos] + rng.choice(RAW) + text[pos:]
    if op < 0.8:
        end = min(len(text), pos + rng.randint(1, 40))
        return text[:pos] + text[end:]
    lines = text.split("\n")
    i = rng.randrange(len(lines))
    lines.insert(i, lines[i])
    return "\n".join(lines)


@dataclass
class Seed:
    """A suite: its Test file and every file it names, with the policies and resources for ``apply``."""

    directory: Path
    test_file: Path
    files: list[Path]
    policies: list[Path]
    resources: list[Path]


def load_seed(directory: Path) -> Seed | None:
    test_file = directory / "kyverno-test.yaml"
    if not test_file.is_file():
        return None
    docs = [d for d in yaml.safe_load_all(test_file.read_text()) if isinstance(d, dict)]
    files: list[Path] = [test_file]
    policies: list[Path] = []
    resources: list[Path] = []

    def add(names: Any, into: list[Path] | None = None) -> None:
        for name in names if isinstance(names, list) else [names] if isinstance(names, str) else []:
            p = (directory / name).resolve()
            if p.is_file():
                files.append(p)
                if into is not None:
                    into.append(p)

    for d in docs:
        add(d.get("policies"), policies)
        add(d.get("resources"), resources)
        for key in ("exceptions", "clusterResources", "targetResources", "variables", "userinfo", "values",
                    "jsonPayloads", "paramResources", "context"):
            add(d.get(key))
        for r in d.get("results") or []:
            if isinstance(r, dict):
                for key in ("patchedResource", "patchedResources", "generatedResource", "cloneSourceResource"):
                    add(r.get(key))
    return Seed(directory, test_file, list(dict.fromkeys(files)), policies, resources)


def mutate_file(text: str, rng: random.Random) -> str:
    """Structural mutation of one document (as YAML or JSON, as the file was), or a raw-text one."""
    if rng.random() < 0.25:
        return mutate_text(text, rng)
    try:
        docs = list(yaml.safe_load_all(text))
    except yaml.YAMLError:
        return mutate_text(text, rng)
    if not docs:
        return mutate_text(text, rng)
    i = rng.randrange(len(docs))
    for _ in range(rng.randint(1, 3)):
        docs[i] = mutate_tree(docs[i], rng)
    if text.lstrip().startswith(("{", "[")) and len(docs) == 1:
        return json.dumps(docs[0], allow_nan=True)
    try:
        return yaml.safe_dump_all(docs, sort_keys=False)
    except yaml.YAMLError:
        return mutate_text(text, rng)


@dataclass
class Case:
    seed: Seed
    file: Path
    text: str
    label: str = ""


def make_case(seed: Seed, rng: random.Random) -> Case:
    target = rng.choice(seed.files)
    text = target.read_text(encoding="utf-8")
    for _ in range(rng.randint(1, 2)):
        text = mutate_file(text, rng)
    return Case(seed, target, text)


@contextmanager
def overridden(path: Path, text: str) -> Iterator[None]:
    """Read ``text`` where verno reads ``path``."""
    from verno.core import loading

    original = loading.read_text
    wanted = str(path.resolve())

    def read_text(p: str) -> str:
        if p != "-" and os.path.abspath(p) == wanted:
            return text
        return original(p)

    loading.read_text = read_text
    try:
        yield
    finally:
        loading.read_text = original


_ENGINE: Any = None


def shared_engine() -> Any:
    """One Engine for every case (building one loads every plugin)."""
    global _ENGINE
    if _ENGINE is None:
        from verno.core.engine import Engine

        _ENGINE = Engine()
    return _ENGINE


@contextmanager
def cli_with_shared_engine() -> Iterator[None]:
    """While a case runs, ``apply`` and ``test`` use the shared Engine and leave the collector's settings
    alone; everything is put back afterwards, so other tests in the same process see the real commands."""
    import verno.cli.apply as apply_mod
    import verno.cli.test_cmd as test_mod

    engine = shared_engine()
    saved = [(mod, name, getattr(mod, name)) for mod in (apply_mod, test_mod)
             for name in ("Engine", "batch_mode", "keep_for_run") if hasattr(mod, name)]
    for mod, name, _ in saved:
        setattr(mod, name, (lambda: engine) if name == "Engine" else (lambda: None))
    try:
        yield
    finally:
        for mod, name, value in saved:
            setattr(mod, name, value)


@dataclass
class Run:
    command: list[str]
    exit_code: int
    output: str
    exception: BaseException | None = None
    problems: list[str] = field(default_factory=list)


ERROR_LINE = re.compile(r"^\s*Error: (.*)$", re.M)
#: ``verno test``'s closing lines, which count what the named errors above them said
SUMMARY = re.compile(r"^\d+ tests failed$|^\d+ test document\(s\) could not be loaded$")


def run_case(case: Case) -> list[Run]:
    """``verno test`` on the suite and ``verno apply`` on its policies and resources, the file mutated."""
    from verno.cli.main import cli

    runner = CliRunner()
    seed = case.seed
    commands = [["test", str(seed.directory)]]
    if seed.policies and seed.resources:
        apply = ["apply", *map(str, seed.policies)]
        for r in seed.resources:
            apply += ["-r", str(r)]
        commands.append(apply)
    out = []
    with overridden(case.file, case.text), cli_with_shared_engine():
        for command in commands:
            result = runner.invoke(cli, command, catch_exceptions=True)
            exc = result.exception if not isinstance(result.exception, SystemExit) else None
            out.append(Run(command, result.exit_code, result.output, exc))
    for run in out:
        run.problems = check(run, case)
    return out


def check(run: Run, case: Case) -> list[str]:
    """What is wrong with one command's run (nothing for a correct one)."""
    problems = []
    if run.exception is not None:
        problems.append(f"exception escaped: {type(run.exception).__name__}: {run.exception}")
    if "internal error" in run.output:
        problems.append("internal error: " + next(l for l in run.output.splitlines() if "internal error" in l))
    if run.exit_code not in (0, 1):
        problems.append(f"exit code {run.exit_code}")
    names = {p.name for p in case.seed.files} | {str(case.seed.directory)}
    for message in ERROR_LINE.findall(run.output):
        if SUMMARY.match(message):
            continue
        if not any(n in message for n in names):
            problems.append(f"error names no file: {message[:200]}")
    return problems


def signature(problem: str) -> str:
    """A problem with its variable parts (quoted values, numbers, paths) blanked, to count distinct ones."""
    text = re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", problem)
    text = re.sub(r"\d+", "N", text)
    return re.sub(r"(/[\w.-]+)+", "/…", text)[:160]


def project_seeds() -> list[Seed]:
    return [s for s in map(load_seed, PROJECT_SEEDS) if s is not None]


# -- JMESPath expressions ----------------------------------------------------------------------------------
LITERALS = ["'a'", "'a/b:c'", "'*'", "''", "`1`", "`-1`", "`0`", "`1.5`", "`true`", "`null`", "`[]`", "`{}`",
            "`[1, \"a\"]`", "`{\"a\": [1]}`", "'1Gi'", "'1h30m'", "'2024-01-01T00:00:00Z'", "'[a-z]+'", "'(a+)+$'",
            "'1.2.3'", "'>=1.0.0'", "'YQ=='", "'a: [1'", "'{\"a\":'", "'\\u0000'", "'x{1000}'", "'a,b'"]
PATHS = ["@", "metadata", "metadata.name", "metadata.labels", "spec.containers", "spec.containers[0].image",
         "spec.containers[*].name", "spec.containers[].image", "items", "[0]", "[-1]", "nope.nope", "*", "@.a",
         "metadata.labels.\"app.kubernetes.io/name\"", "spec.containers[?image=='x']", "keys(@)"]


def random_expression(rng: random.Random, functions: list[str], depth: int = 0) -> str:
    """A random JMESPath expression over Kyverno's functions, literals and field paths."""
    roll = rng.random()
    if depth > 2 or roll < 0.3:
        return rng.choice(LITERALS + PATHS)
    if roll < 0.8:
        args = [random_expression(rng, functions, depth + 1) for _ in range(rng.randint(0, 3))]
        return f"{rng.choice(functions)}({', '.join(args)})"
    a = random_expression(rng, functions, depth + 1)
    b = random_expression(rng, functions, depth + 1)
    return rng.choice([f"{a} || {b}", f"{a} && {b}", f"{a} | {b}", f"[{a}, {b}]", f"{{x: {a}}}", f"!{a}",
                       f"{a}[?{b}]", f"{a} == {b}", f"&{a}", f"{a}.{b}", f"({a})"])


def expression_problem(expression: str, data: Any) -> str | None:
    """What is wrong when evaluating ``expression``: None when it gave a value or one of verno's errors."""
    from verno.core.errors import VernoError

    try:
        shared_engine().jmespath.search(expression, data)
    except VernoError:
        return None
    except Exception as exc:
        return f"JMESPath raised {type(exc).__name__}: {exc}"
    return None


def function_names() -> list[str]:
    return sorted(shared_engine().jmespath.functions.FUNCTION_TABLE)
