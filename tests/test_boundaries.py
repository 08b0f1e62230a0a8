"""The plugin boundaries hold: the import contract of pyproject.toml, and a rule kind replaced by a
third-party plugin without touching the others."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import verno

ROOT = Path(__file__).resolve().parents[1]


def test_import_contract_holds(capsys):
    """import-linter's contracts ([tool.importlinter] in pyproject.toml): the core imports no plugin, server
    or CLI; rule kinds import only the core and not each other; the server and the CLI import no rule kind;
    the core is layered (engine, pipeline, preparation, building blocks) without cycles."""
    from importlinter.cli import lint_imports

    # the contract is checked on the code these tests import, not on another installed copy
    assert Path(verno.__file__).resolve().is_relative_to(ROOT / "src"), verno.__file__
    code = lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True)
    out = capsys.readouterr().out
    assert code == 0, out
    assert "0 broken" in out, out


#: A third-party validate plugin, with the built-in one disabled and made unimportable: mutate's
#: conditional and global anchors still work, from the core's pattern machinery.
REPLACED_VALIDATE = r'''
import importlib.abc, json, sys

class NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "verno.plugins.validate" or name.startswith("verno.plugins.validate."):
            raise ImportError(f"{name} is not installed")

sys.meta_path.insert(0, NotInstalled())

from verno.core.engine import Engine
from verno.core.hookspecs import hookimpl
from verno.core.models.policy import Policy
from verno.core.pattern.matcher import match_pattern
from verno.core.request import Request
from verno.core.results import Status


class AcmeValidate:
    """Answers validate rules with the core's pattern matcher, in its own words."""

    @hookimpl
    def verno_validate_rule(self, rc):
        result = match_pattern(rc.resource, rc.rule.rule.validate_.pattern)
        status = Status.PASS if result.ok else Status.FAIL
        return [rc.response(status, f"acme: {result.status} {result.path}".strip())]


POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "team", "labels": {"tier": "web"}},
       "spec": {"containers": [{"name": "app", "image": "nginx:latest"}, {"name": "side", "image": "envoy:1.30"}]}}
MATCH = {"any": [{"resources": {"kinds": ["Pod"]}}]}


def policy(name, rules):
    return Policy.model_validate({"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy", "metadata": {"name": name},
                                  "spec": {"rules": rules}})


mutate = policy("pull-latest", [
    {"name": "always-pull-latest", "match": MATCH, "mutate": {"patchStrategicMerge": {
        "spec": {"containers": [{"(image)": "*:latest", "imagePullPolicy": "Always"}]}}}},
    {"name": "only-for-web", "match": MATCH, "mutate": {"patchStrategicMerge": {
        "metadata": {"labels": {"<(tier)": "web", "+(team)": "frontend"}}}}},
    {"name": "only-for-db", "match": MATCH, "mutate": {"patchStrategicMerge": {
        "metadata": {"labels": {"<(tier)": "db", "+(backup)": "daily"}}}}},
])
validate = policy("require-pull-policy", [
    {"name": "pull-policy", "match": MATCH, "validate": {"pattern": {
        "spec": {"containers": [{"imagePullPolicy": "Always"}]}}}},
])
engine = Engine([("acme-validate", AcmeValidate())], disabled={"validate"})
out = engine.evaluate([engine.prepare(mutate), engine.prepare(validate)], Request(POD))
print(json.dumps({
    "handlers": engine.handlers("validate"),
    "rules": [[r.name, r.status.value, r.message] for resp in out for r in resp.rules],
    "patched": out[0].patched_resource,
    "validate_loaded": sorted(m for m in sys.modules if m.startswith("verno.plugins.validate")),
}))
'''


def test_validate_replaced_by_a_third_party_plugin_mutate_anchors_still_work():
    env = {**os.environ, "PYTHONPATH": str(Path(verno.__file__).resolve().parents[1])}
    proc = subprocess.run([sys.executable, "-c", REPLACED_VALIDATE], capture_output=True, text=True, env=env,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    assert got["handlers"] == ["acme-validate"]
    assert got["validate_loaded"] == []
    containers = got["patched"]["spec"]["containers"]
    assert containers == [{"name": "app", "image": "nginx:latest", "imagePullPolicy": "Always"},
                          {"name": "side", "image": "envoy:1.30"}]
    assert got["patched"]["metadata"]["labels"] == {"tier": "web", "team": "frontend"}
    assert got["rules"] == [
        ["always-pull-latest", "pass", "mutated Pod/p in namespace team"],
        ["only-for-web", "pass", "mutated Pod/p in namespace team"],
        ["only-for-db", "skip", "no patches applied"],  # its global anchor does not match
        ["pull-policy", "fail", "acme: fail /spec/containers/1/imagePullPolicy/"],
    ]
