"""Every hook is documented in docs/plugins.md with its exact signature."""
from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from verno.core import hookspecs

DOC = Path(__file__).resolve().parents[1] / "docs" / "plugins.md"
HOOKS = [(n, f) for n, f in inspect.getmembers(hookspecs, inspect.isfunction) if n.startswith("verno_")]


def test_there_are_hooks_for_every_rule_kind_and_registry():
    names = {n for n, _ in HOOKS}
    assert set(hookspecs.RULE_HOOKS.values()) <= names
    assert {"verno_register_operators", "verno_register_jmespath_functions", "verno_register_context_loaders",
            "verno_register_predicate_checkers", "verno_register_output_formats"} <= names


@pytest.mark.parametrize("name,fn", HOOKS, ids=[n for n, _ in HOOKS])
def test_hook_documented_with_exact_signature(name, fn):
    text = DOC.read_text()
    assert f"def {name}{inspect.signature(fn)}" in text, f"{name} is missing or outdated in docs/plugins.md"
    assert fn.__doc__ and inspect.cleandoc(fn.__doc__).splitlines()[0] in text
