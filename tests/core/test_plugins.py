"""The plugin manager an Engine owns: entry points, blocklist, duplicates, missing handlers."""
from __future__ import annotations

from importlib.metadata import entry_points

import pytest

from verno.core.engine import Engine
from verno.core.errors import PluginError
from verno.core.hookspecs import hookimpl
from verno.core.models.policy import Policy

BUILTINS = {"jmespath-functions", "operators", "context-loaders", "validate", "output-formats"}


def test_builtin_plugins_are_entry_points_in_installed_metadata():
    names = {ep.name for ep in entry_points(group="verno")}
    assert BUILTINS <= names


def test_engine_loads_builtins_and_registries():
    engine = Engine()
    names = {name for name, _ in engine.loaded_plugins()}
    assert BUILTINS <= names
    assert "Equals" in engine.operators and "equals" in engine.operators
    assert "to_upper" in engine.functions
    assert {"variable", "configMap", "apiCall", "imageRegistry", "globalReference"} <= set(engine.loaders.names())
    assert engine.handlers("validate") == ["validate"]


def test_engines_are_independent():
    class Extra:
        @hookimpl
        def verno_register_operators(self, register):
            register("OnlyHere", lambda key, value: True)

    a = Engine([("extra", Extra())])
    b = Engine()
    assert "OnlyHere" in a.operators
    assert "OnlyHere" not in b.operators


def test_duplicate_operator_names_both_plugins():
    class Dup:
        @hookimpl
        def verno_register_operators(self, register):
            register("equals", lambda key, value: True)

    with pytest.raises(PluginError) as err:
        Engine([("my-dup", Dup())])
    assert "my-dup" in str(err.value) and "operators" in str(err.value)


def test_disable_plugins_env(monkeypatch):
    monkeypatch.setenv("VERNO_DISABLE_PLUGINS", "validate, output-formats")
    engine = Engine()
    names = {name for name, _ in engine.loaded_plugins()}
    assert "validate" not in names and "output-formats" not in names
    assert engine.handlers("validate") == []


def test_missing_handler_is_a_startup_error_naming_the_fix():
    engine = Engine(disabled={"validate"})
    policy = Policy.model_validate({
        "apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy", "metadata": {"name": "p"},
        "spec": {"rules": [{"name": "r", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
                            "validate": {"pattern": {"metadata": {"name": "?*"}}}}]},
    })
    prepared = engine.prepare(policy)
    with pytest.raises(PluginError) as err:
        engine.require_handlers([prepared])
    msg = str(err.value)
    assert "verno_validate_rule" in msg and "verno.plugins.validate" in msg and "VERNO_DISABLE_PLUGINS" in msg


def test_third_party_rule_handler_takes_over_builtin():
    from verno.core.results import Status

    class Mine:
        @hookimpl
        def verno_validate_rule(self, rc):
            return [rc.response(Status.WARN, "mine")]

    from verno.core.request import Request

    engine = Engine([("mine", Mine())])
    policy = Policy.model_validate({
        "apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy", "metadata": {"name": "p"},
        "spec": {"rules": [{"name": "r", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
                            "validate": {"pattern": {"metadata": {"name": "?*"}}}}]},
    })
    out = engine.evaluate([engine.prepare(policy)], Request({"apiVersion": "v1", "kind": "Pod",
                                                             "metadata": {"name": "x"}}))
    assert [(r.status, r.message) for r in out[0].rules] == [(Status.WARN, "mine")]


def test_unknown_hook_in_plugin_is_an_error():
    class Bad:
        @hookimpl
        def verno_no_such_hook(self):
            pass

    with pytest.raises(PluginError):
        Engine([("bad", Bad())])
