"""A ValidatingPolicy using Kubernetes' CEL format library on a Pod's name."""
from __future__ import annotations

import pytest

from verno.core.errors import VernoError
from verno.core.results import Status

POLICY = """apiVersion: policies.kyverno.io/v1
kind: ValidatingPolicy
metadata: {name: pod-name-format}
spec:
  matchConstraints:
    resourceRules:
    - apiGroups: [""]
      apiVersions: [v1]
      operations: [CREATE, UPDATE]
      resources: [pods]
  variables:
  - name: labelFormat
    expression: "format.named('dns1123Label')"
  validations:
  - expression: "!format.dns1123Label().validate(object.metadata.name).hasValue()"
    messageExpression: "'pod name: ' + format.dns1123Label().validate(object.metadata.name).value().join('; ')"
  - expression: "variables.labelFormat.value().validate(object.metadata.?labels.app.orValue('')).orValue([]) == []"
    message: "the app label is not a DNS label"
"""

LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
             "start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
             "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")


def pod(name, labels=None):
    meta = {"name": name, "namespace": "shop", **({"labels": labels} if labels else {})}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
            "spec": {"containers": [{"name": "c", "image": "nginx"}]}}


def only_rule(response):
    assert response is not None and len(response.rules) == 1
    return response.rules[0]


def test_a_dns_label_name_passes(vp):
    rule = only_rule(vp.run(vp.load(POLICY), pod("web-1", {"app": "shop"})))
    assert rule.status == Status.PASS


def test_a_name_that_is_not_a_dns_label_fails_with_kubernetes_messages(vp):
    rule = only_rule(vp.run(vp.load(POLICY), pod("Web_1")))
    assert rule.status == Status.FAIL
    assert rule.message == "pod name: " + LABEL_MSG
    long = only_rule(vp.run(vp.load(POLICY), pod("a" * 64)))
    assert long.message == "pod name: must be no more than 63 characters"
    dotted = only_rule(vp.run(vp.load(POLICY), pod("web.shop")))
    assert dotted.message == "pod name: must not contain dots"


def test_a_named_format_through_an_optional_variable(vp):
    rule = only_rule(vp.run(vp.load(POLICY), pod("web", {"app": "Shop!"})))
    assert (rule.status, rule.message) == (Status.FAIL, "the app label is not a DNS label")


def test_a_wrong_argument_is_a_load_error_pointing_at_the_call(vp):
    bad = POLICY.replace("validate(object.metadata.name).hasValue()", "validate(1).hasValue()")
    with pytest.raises(VernoError, match=r"1:32: found no matching overload for 'validate'"):
        vp.load(bad)
