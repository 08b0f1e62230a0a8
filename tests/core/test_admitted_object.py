"""Engine.admitted_object: the ``verno_admitted_object`` hook completes the object the mutating webhook admits."""
from __future__ import annotations

import pytest

from verno.core.engine import Engine
from verno.core.errors import PluginFailure
from verno.core.hookspecs import hookimpl
from verno.core.request import Request

POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "team"},
       "spec": {"containers": [{"name": "c", "image": "ghcr.io/acme/app:v1"}]}}


class Labeller:
    def __init__(self, key: str):
        self.key = key

    @hookimpl
    def verno_admitted_object(self, request, responses, resource):
        labels = (resource.get("metadata") or {}).get("labels") or {}
        return {**resource, "metadata": {**resource["metadata"], "labels": {**labels, self.key: str(len(responses))}}}


class Silent:
    @hookimpl
    def verno_admitted_object(self, request, responses, resource):
        return None


def test_implementations_run_in_turn_each_seeing_the_previous_result():
    engine = Engine([("first", Labeller("a")), ("silent", Silent()), ("second", Labeller("b"))],
                    load_entrypoints=False)
    out = engine.admitted_object(Request(POD), [object(), object()], POD)
    assert out["metadata"]["labels"] == {"a": "2", "b": "2"}
    assert "labels" not in POD["metadata"]  # the object handed in is never modified


def test_no_implementation_leaves_the_object_as_it_is():
    engine = Engine([("silent", Silent())], load_entrypoints=False)
    assert engine.admitted_object(Request(POD), [], POD) is POD


def test_a_raising_implementation_is_a_failure_naming_its_plugin():
    class Broken:
        @hookimpl
        def verno_admitted_object(self, request, responses, resource):
            raise KeyError("metadata")

    engine = Engine([("broken", Broken())], load_entrypoints=False)
    with pytest.raises(PluginFailure) as err:
        engine.admitted_object(Request(POD), [], POD)
    assert str(err.value) == "plugin broken: admitted-object hook raised KeyError: 'metadata'"
