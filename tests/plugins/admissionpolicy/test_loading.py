"""Loading ValidatingAdmissionPolicies and bindings: every error names the file, the field and the policy."""
from __future__ import annotations

import pytest

from verno.core.errors import LoadError

BASE = """
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: checked}
spec:
  matchConstraints:
    resourceRules:
    - {apiGroups: [apps], apiVersions: [v1], operations: [CREATE], resources: [deployments]}
"""


def _error(vap, text: str) -> str:
    with pytest.raises(LoadError) as err:
        vap.load(text)
    return str(err.value)


@pytest.mark.parametrize("spec, field, words", [
    ("  validations:\n  - expression: object.spec.replicas < 3\n  - expression: object.spec.replicas +\n",
     "spec.validations[1].expression", "syntax error"),
    ("  validations:\n  - expression: object.spec.replicas\n", "spec.validations[0].expression",
     "output is expected to be of type bool, got dyn"),
    ("  validations:\n  - expression: 'true'\n    messageExpression: '1'\n",
     "spec.validations[0].messageExpression", "output is expected to be of type string, got int"),
    ("  validations:\n  - expression: params.max == 1\n", "spec.validations[0].expression",
     "undeclared reference to 'params'"),
    ("  validations:\n  - expression: 'true'\n    messageExpression: \"authorizer.path('/x').check('get').reason()\"\n",
     "spec.validations[0].messageExpression", "a messageExpression cannot use the authorizer"),
    ("  variables:\n  - {name: a, expression: 'variables.b'}\n  - {name: b, expression: '1'}\n"
     "  validations:\n  - expression: 'true'\n", "spec.variables[0].expression", "variables.b"),
    ("  matchConditions:\n  - {name: c, expression: request.uid == ''}\n  validations:\n  - expression: 'true'\n",
     "spec.matchConditions[0].expression", "undefined field 'uid'"),
    ("  auditAnnotations:\n  - {key: k, valueExpression: '1'}\n", "spec.auditAnnotations[0].valueExpression",
     "string or null, got int"),
])
def test_compile_errors_name_the_policy_and_field(vap, spec, field, words):
    message = _error(vap, BASE + spec)
    assert f"(document 1): {field}: ValidatingAdmissionPolicy checked: compiling CEL expression" in message
    assert words in message


@pytest.mark.parametrize("text, field, words", [
    (BASE + "  validations:\n  - expression: 'true'\n    mesage: x\n", "spec.validations[0].mesage",
     "unknown field (did you mean message?)"),
    (BASE + "  failurePolicy: Never\n  validations:\n  - expression: 'true'\n", "spec.failurePolicy", "Fail"),
    (BASE, "spec", "validations or auditAnnotations must contain at least one item"),
    (BASE.replace("  matchConstraints:", "  other:") + "  validations:\n  - expression: 'true'\n",
     "spec.matchConstraints", "Field required"),
    (BASE + "  variables:\n  - {name: a, expression: '1'}\n  - {name: a, expression: '2'}\n"
            "  validations:\n  - expression: 'true'\n", "spec.variables", "variable name 'a' is used twice"),
    (BASE.replace("/v1\n", "/v1alpha1\n", 1) + "  validations:\n  - expression: 'true'\n", "apiVersion",
     "admissionregistration.k8s.io/v1"),
])
def test_document_errors_name_the_field(vap, text, field, words):
    message = _error(vap, text)
    assert f"(document 1): {field}" in message and words in message


BINDING = BASE + """  validations:
  - expression: 'true'
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: b}
spec:
  policyName: checked
"""


@pytest.mark.parametrize("extra, field, words", [
    ("  validationActions: [Block]\n", "spec.validationActions[0]", "'Deny', 'Warn' or 'Audit'"),
    ("  validationActions: [Deny, Warn]\n", "spec.validationActions", "both Deny and Warn"),
    ("  paramRef: {name: a, selector: {}}\n", "spec.paramRef", "sets both name and selector"),
    ("  paramRef: {name: a, parameterNotFoundAction: Skip}\n", "spec.paramRef.parameterNotFoundAction", "Allow"),
    ("  matchResources: {namespaceSelectors: {}}\n", "spec.matchResources.namespaceSelectors", "did you mean"),
])
def test_binding_errors_name_the_file_and_field(vap, extra, field, words):
    message = _error(vap, BINDING + extra)
    assert f"(document 2): {field}" in message and words in message


def test_a_valid_pair_loads_as_one_policy_and_one_companion(vap):
    ps = vap.load(BINDING + "  validationActions: [Warn, Audit]\n")
    policy, = ps.kind_policies
    assert (policy.kind, policy.key, policy.failure_policy, policy.report_source, policy.admission,
            policy.background) == ("ValidatingAdmissionPolicy", "checked", "Fail", "ValidatingAdmissionPolicy",
                                   True, True)
    assert list(ps.companions) == ["admissionregistration.k8s.io/ValidatingAdmissionPolicyBinding"]
