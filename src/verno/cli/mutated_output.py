"""What ``verno apply`` shows or writes of mutated and generated resources (Kyverno's ``printOutput``).

Without ``-o``: for each policy whose mutate rules ran on a resource (or whose verifyImages rules
pinned digests), ``\\npolicy <p> applied to
<ns>/<Kind>/<name>:`` then the resource as YAML and ``---``, patched mutateExisting targets after
``patched targets:``, then ``\\n\\nMutation:\\nMutation has been applied successfully.``; each
generated resource likewise, followed by ``\\n\\nGenerate:\\nGeneration completed successfully.``.

With ``-o FILE`` every resource is appended to FILE (emptied first) as multi-document YAML; with
``-o DIR`` each goes to ``<resource>-mutated.yaml`` or ``<policy>-generated.yaml`` in it. Which one a
path is follows Kyverno's ``checkMutateLogPath``: an existing directory or file is what it is; a path
that does not exist is a file when its last element ends in ``.yaml`` or ``.yml`` (missing parent
directories are created) and a directory otherwise (created), as is a path ending in ``/``.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import yaml

from verno.core.errors import VernoError
from verno.core.results import PolicyResponse, Status

#: the endings that make a path that does not exist yet a file rather than a directory (Kyverno's rule)
FILE_SUFFIXES = (".yaml", ".yml")


def output_is_dir(path: str) -> bool:
    """Whether ``-o PATH`` names a directory (see the module docstring)."""
    if path.endswith(("/", os.sep)) or os.path.isdir(path):
        return True
    if os.path.exists(path):
        return False
    return not os.path.basename(path).endswith(FILE_SUFFIXES)


def to_yaml(obj: Any) -> str:
    return yaml.safe_dump(obj, sort_keys=True, default_flow_style=False)


class MutationOutput:
    def __init__(self, echo: Callable[[str], None], path: str = ""):
        self.echo = echo
        self.path = path
        self.is_dir = bool(path) and output_is_dir(path)
        try:
            if self.is_dir:
                os.makedirs(path, exist_ok=True)
            elif path:
                parent = os.path.dirname(path)
                if parent:
                    os.makedirs(parent, exist_ok=True)
                with open(path, "w", encoding="utf-8"):
                    pass  # emptied once; every resource is appended
        except OSError as exc:
            raise VernoError(f"-o {path}: failed to create file/folder ({exc.strerror or exc})") from exc

    def policy_responses(self, responses: list[PolicyResponse], resource_path: str, resource_name: str) -> None:
        for response in responses:
            # verifyImages rules mutate too: a verified tag is pinned to its digest (mutateDigest)
            mutations = [r for r in response.rules if r.rule_type == "Mutation" or (
                r.rule_type == "ImageVerify" and r.status == Status.PASS and r.patched_resource is not None)]
            if mutations:
                targets = [r.patched_resource for r in mutations if r.patched_resource is not None
                           and is_target_rule(response, r)]
                self._one(response.policy.name, response.patched_resource or response.resource, targets,
                          resource_path, f"{resource_name}-mutated")
                if not self.path:
                    self.echo("\n\nMutation:\nMutation has been applied successfully.")
            for rule in response.rules:
                for generated in rule.generated_resources:
                    self._one(response.policy.name, generated, [], resource_path, f"{response.policy.name}-generated")
                    if not self.path:
                        self.echo("\n\nGenerate:\nGeneration completed successfully.")

    def _one(self, policy: str, obj: dict[str, Any], targets: list[dict[str, Any]], resource_path: str,
             file_stem: str) -> None:
        text = to_yaml(obj)
        if not self.path:
            self.echo(f"\npolicy {policy} applied to {resource_path}:")
            self.echo("\n" + text + "\n---\n")
            if targets:
                self.echo("patched targets: \n")
                for target in targets:
                    self.echo("\n" + to_yaml(target) + "\n---\n\n")
            return
        out = os.path.join(self.path, file_stem + ".yaml") if self.is_dir else self.path
        try:
            with open(out, "a", encoding="utf-8") as fh:
                fh.write(text + "\n---\n\n")
                for target in targets:
                    fh.write(to_yaml(target) + "\n---\n")
        except OSError as exc:
            raise VernoError(f"-o {self.path}: failed to write {out} ({exc.strerror or exc})") from exc


def is_target_rule(response: PolicyResponse, rule_response: Any) -> bool:
    """Whether a rule patched a mutateExisting target rather than the resource itself."""
    rules = getattr(getattr(response.policy, "spec", None), "rules", None)
    if rules is None:  # a policy of another kind: a target is any object other than the patched resource
        return rule_response.patched_resource is not response.patched_resource
    rule_name = rule_response.name
    for rule in rules:
        if rule_name in (rule.name, f"autogen-{rule.name}", f"autogen-cronjob-{rule.name}"):
            return rule.mutate is not None and bool(rule.mutate.targets)
    return False
