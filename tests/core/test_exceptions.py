from __future__ import annotations

from typing import Any

from verno.core.errors import ConditionError
from verno.core.exceptions import PreparedException, exception_matches, prepare_exception
from verno.core.models.exception import PolicyException
from verno.core.request import Request


class FakeRC:
    def __init__(self, result=(True, ""), raises=False):
        self.result, self.raises, self.calls = result, raises, 0

    def check_conditions(self, conditions):
        self.calls += 1
        if self.raises:
            raise ConditionError("bad operator")
        return self.result


def exc(match: dict[str, Any], conditions=None) -> PolicyException:
    spec: dict[str, Any] = {"match": match, "exceptions": [{"policyName": "p", "ruleNames": ["r"]}]}
    if conditions is not None:
        spec["conditions"] = conditions
    return PolicyException.model_validate({"apiVersion": "kyverno.io/v2", "kind": "PolicyException",
                                           "metadata": {"name": "e", "namespace": "kyverno"}, "spec": spec})


def pod(name="web", ns="default", **kw):
    return Request({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns}}, **kw)


def test_any_and_all():
    e = exc({"any": [{"resources": {"kinds": ["Pod"], "names": ["web*"]}}]})
    assert exception_matches(e, pod(), FakeRC())
    assert not exception_matches(e, pod("db"), FakeRC())
    e = exc({"all": [{"resources": {"kinds": ["Pod"]}}, {"resources": {"namespaces": ["delta"]}}]})
    assert not exception_matches(e, pod(), FakeRC())
    assert exception_matches(e, pod(ns="delta"), FakeRC())


def test_direct_and_empty_match_nothing():
    assert not exception_matches(exc({"resources": {"kinds": ["Pod"]}}), pod(), FakeRC())
    assert not exception_matches(exc({"any": [{}]}), pod(), FakeRC())


def test_user_info_is_not_dropped():
    e = exc({"any": [{"resources": {"kinds": ["Pod"]}, "subjects": [{"kind": "User", "name": "bob"}]}]})
    assert not exception_matches(e, pod(), FakeRC())
    assert exception_matches(e, pod(user_info={"username": "bob"}), FakeRC())


def test_namespace_selector_skipped_for_namespace():
    e = exc({"any": [{"resources": {"kinds": ["Namespace", "Pod"], "namespaceSelector": {"matchLabels": {"a": "b"}}}}]})
    ns = Request({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}})
    assert exception_matches(e, ns, FakeRC())
    assert not exception_matches(e, pod(), FakeRC())
    assert exception_matches(e, pod(namespace_labels={"a": "b"}), FakeRC())


def test_conditions():
    conds = {"any": [{"key": "{{ request.object.metadata.name }}", "operator": "Equals", "value": "web"}]}
    e = exc({"any": [{"resources": {"kinds": ["Pod"]}}]}, conds)
    rc = FakeRC((True, ""))
    assert exception_matches(e, pod(), rc) and rc.calls == 1
    assert not exception_matches(e, pod(), FakeRC((False, "no")))
    assert not exception_matches(e, pod(), FakeRC(raises=True))
    rc = FakeRC()
    assert not exception_matches(e, Request({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}}), rc)
    assert rc.calls == 0


def test_prepared_once():
    e = exc({"any": [{"resources": {"kinds": ["Pod"]}}]})
    p = prepare_exception(e)
    assert isinstance(p, PreparedException)
    assert prepare_exception(e) is p
    assert exception_matches(p, pod(), FakeRC())
