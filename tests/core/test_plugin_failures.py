"""A plugin's code that raises becomes that rule's error, naming the plugin; the other rules still run."""
from __future__ import annotations

import pytest

from verno.core.engine import Engine
from verno.core.hookspecs import hookimpl
from verno.core.models.policy import Policy
from verno.core.request import Request
from verno.core.results import Status

POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x", "namespace": "default"},
       "spec": {"containers": [{"name": "c", "image": "nginx"}]}}


def _policy(*rules: dict) -> Policy:
    return Policy.model_validate({
        "apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy", "metadata": {"name": "p"},
        "spec": {"rules": [{"name": name, "match": {"any": [{"resources": {"kinds": ["Pod"]}}]}, **body}
                           for name, body in rules]},
    })


GOOD = ("good", {"validate": {"message": "needs a name", "pattern": {"metadata": {"name": "?*"}}}})


def _run(engine: Engine, policy: Policy) -> dict[str, tuple[Status, str]]:
    out = engine.evaluate([engine.prepare(policy)], Request(POD))
    return {r.name: (r.status, r.message) for r in out[0].rules}


class Broken:
    @hookimpl
    def verno_register_operators(self, register):
        register("Explodes", lambda key, value: 1 / 0)

    @hookimpl
    def verno_register_jmespath_functions(self, register):
        def boom(s):
            raise RuntimeError("function went wrong")

        def lookup(s):
            return {}[s]  # a KeyError, which Kyverno-style argument errors also use

        register("boom", boom, [["string"]])
        register("lookup_missing", lookup, [["string"]])

    @hookimpl
    def verno_register_context_loaders(self, register):
        def loader(settings, rc):
            raise OSError("loader went wrong")

        register("brokenSource", loader)


@pytest.fixture(scope="module")
def engine():
    return Engine([("acme-broken", Broken())])


def test_operator_that_raises(engine):
    rule = ("uses-op", {"validate": {"deny": {"conditions": {"any": [
        {"key": "a", "operator": "Explodes", "value": "b"}]}}}})
    out = _run(engine, _policy(rule, GOOD))
    status, message = out["uses-op"]
    assert status == Status.ERROR
    assert "plugin acme-broken: operator Explodes raised ZeroDivisionError: division by zero" in message
    assert out["good"][0] == Status.PASS


def test_operator_in_preconditions(engine):
    rule = ("pre", {"preconditions": {"all": [{"key": "a", "operator": "Explodes", "value": "b"}]},
                    "validate": {"pattern": {"metadata": {"name": "?*"}}}})
    out = _run(engine, _policy(rule, GOOD))
    assert out["pre"][0] == Status.ERROR and "plugin acme-broken: operator Explodes" in out["pre"][1]
    assert out["good"][0] == Status.PASS


@pytest.mark.parametrize("function,expected", [
    ("boom", "plugin acme-broken: JMESPath function 'boom' raised RuntimeError: function went wrong"),
    ("lookup_missing", "plugin acme-broken: JMESPath function 'lookup_missing' raised KeyError"),
])
def test_function_that_raises(engine, function, expected):
    rule = ("uses-fn", {"validate": {"deny": {"conditions": {"any": [
        {"key": "{{ " + function + "('x') }}", "operator": "Equals", "value": "y"}]}}}})
    out = _run(engine, _policy(rule, GOOD))
    assert out["uses-fn"][0] == Status.ERROR and expected in out["uses-fn"][1]
    assert out["good"][0] == Status.PASS


def test_builtin_function_errors_keep_their_wording(engine):
    rule = ("div", {"validate": {"deny": {"conditions": {"any": [
        {"key": "{{ divide(`1`, `0`) }}", "operator": "Equals", "value": "y"}]}}}})
    status, message = _run(engine, _policy(rule))["div"]
    assert status == Status.ERROR and "plugin" not in message


def test_context_loader_that_raises(engine):
    rule = ("ctx", {"context": [{"name": "x", "brokenSource": {"a": 1}}],
                    "validate": {"pattern": {"metadata": {"name": "?*"}}}})
    out = _run(engine, _policy(rule, GOOD))
    status, message = out["ctx"]
    assert status == Status.ERROR
    assert message.startswith("failed to load context: ")
    assert "plugin acme-broken: context loader brokenSource raised OSError: loader went wrong" in message
    assert out["good"][0] == Status.PASS


class RaisingHandler:
    @hookimpl
    def verno_validate_rule(self, rc):
        if rc.rule.name == "victim":
            raise ValueError("handler went wrong")
        return None  # let the built-in handler take every other rule


def test_rule_handler_that_raises_among_several():
    engine = Engine([("acme-handler", RaisingHandler())])
    victim = ("victim", {"validate": {"pattern": {"metadata": {"name": "?*"}}}})
    out = _run(engine, _policy(victim, GOOD))
    assert out["victim"] == (Status.ERROR, "plugin acme-handler: validate rule handler raised ValueError: "
                                           "handler went wrong")
    assert out["good"][0] == Status.PASS


def test_only_rule_handler_that_raises_is_named():
    class Only:
        @hookimpl
        def verno_validate_rule(self, rc):
            raise AttributeError("no such thing")

    engine = Engine([("acme-only", Only())], disabled={"validate"})
    out = _run(engine, _policy(GOOD, ("other", GOOD[1])))
    for name in ("good", "other"):
        assert out[name] == (Status.ERROR, "plugin acme-only: validate rule handler raised AttributeError: "
                                           "no such thing")


def test_rule_preparation_that_raises_names_the_plugin_policy_and_rule():
    from verno.core.errors import PluginFailure, VernoError

    class Preparing:
        @hookimpl
        def verno_prepare_rule(self, policy, rule):
            if rule.name == "victim":
                raise KeyError("compiled")
            rule.compiled["acme"] = rule.name

    engine = Engine([("acme-prepare", Preparing())])
    prepared = engine.prepare(_policy(GOOD))
    assert prepared.rules[0].compiled["acme"] == "good"
    with pytest.raises(PluginFailure) as info:
        engine.prepare(_policy(("victim", GOOD[1])))
    assert str(info.value) == ("plugin acme-prepare: rule preparation (policy p, rule victim) raised KeyError: "
                               "'compiled'")
    assert isinstance(info.value, VernoError)
