"""Loading ValidatingPolicy documents: every served version, Kyverno's rejections as load errors."""
from __future__ import annotations

import pytest

from verno.core.errors import LoadError
from verno.core.policyset import load_policy_set

HEAD = """apiVersion: policies.kyverno.io/{version}
kind: {kind}
metadata: {{name: require-run-as-non-root, namespace: team-a}}
spec:
  matchConstraints:
    resourceRules:
    - apiGroups: [""]
      apiVersions: [v1]
      operations: [CREATE, UPDATE]
      resources: [pods]
"""
VALIDATIONS = """  validations:
  - expression: "object.spec.?securityContext.?runAsNonRoot.orValue(false) == true"
    message: pods must run as non-root
"""


@pytest.mark.parametrize("version,kind", [("v1", "ValidatingPolicy"), ("v1beta1", "ValidatingPolicy"),
                                          ("v1alpha1", "ValidatingPolicy"), ("v1", "NamespacedValidatingPolicy"),
                                          ("v1beta1", "NamespacedValidatingPolicy")])
def test_every_served_version_loads(vp, version, kind):
    policy = vp.load(HEAD.format(version=version, kind=kind) + VALIDATIONS)
    assert policy.kind == kind and policy.api_version == f"policies.kyverno.io/{version}"
    assert policy.report_source == "KyvernoValidatingPolicy"
    assert policy.validation_actions == frozenset({"Deny"}) and policy.failure_policy == "Fail"
    assert policy.admission and policy.background
    # a cluster-wide policy has no namespace, whatever its metadata says
    assert policy.key == ("team-a/require-run-as-non-root" if kind.startswith("Namespaced")
                          else "require-run-as-non-root")


def test_namespaced_kind_is_not_served_as_v1alpha1(vp):
    with pytest.raises(LoadError, match="NamespacedValidatingPolicy is served as .*v1beta1 and v1") as err:
        vp.load(HEAD.format(version="v1alpha1", kind="NamespacedValidatingPolicy") + VALIDATIONS)
    assert err.value.field == "apiVersion"


def test_attributes_from_the_spec(vp):
    policy = vp.load(HEAD.format(version="v1", kind="ValidatingPolicy") + VALIDATIONS + """
  validationActions: [Audit, Warn]
  failurePolicy: Ignore
  webhookConfiguration: {timeoutSeconds: 4}
  evaluation: {admission: {enabled: false}, background: {enabled: false}}
""")
    assert policy.validation_actions == frozenset({"Audit", "Warn"}) and policy.failure_policy == "Ignore"
    assert not policy.admission and not policy.background and policy.timeout_seconds == 4


@pytest.mark.parametrize("extra,field,message", [
    ("  validation:\n  - expression: 'true'\n", "spec.validation", "unknown field (did you mean validations?)"),
    ("  validations:\n  - expression: 'true'\n    mesage: x\n", "spec.validations.0.mesage", "unknown field"),
    ("  validationActions: [Block]\n", "spec.validationActions.0", "Input should be"),
    ("  failurePolicy: Never\n", "spec.failurePolicy", "Input should be"),
    ("  matchConditions:\n  - {name: a, expression: 'true'}\n  - {name: a, expression: 'true'}\n",
     "spec.matchConditions", "duplicate name 'a'"),
    ("  webhookConfiguration: {timeoutSeconds: 31}\n", "spec.webhookConfiguration.timeoutSeconds", "less than"),
])
def test_invalid_fields_name_the_field(vp, extra, field, message):
    with pytest.raises(LoadError) as err:
        vp.load(HEAD.format(version="v1", kind="ValidatingPolicy") + extra)
    assert err.value.field.replace("[", ".").replace("]", "") == field.replace("[", ".").replace("]", "")
    assert message in err.value.message
    assert err.value.source == "policy.yaml"


@pytest.mark.parametrize("extra,field,message", [
    # a bare dyn where bool is required is rejected, as Kyverno's type check does
    ("  validations:\n  - expression: object.spec.hostNetwork\n", "spec.validations[0].expression",
     "expected to be of type bool, got dyn"),
    ("  validations:\n  - expression: 'true'\n    messageExpression: size(object.spec.containers)\n",
     "spec.validations[0].messageExpression", "expected to be of type string"),
    ("  matchConditions:\n  - {name: m, expression: 'request.userInfo.usernme == \"x\"'}\n",
     "spec.matchConditions[0].expression", "undefined field 'usernme'"),
    ("  variables:\n  - {name: a, expression: 'variables.b'}\n  - {name: b, expression: '1'}\n",
     "spec.variables[0].expression", "undeclared reference"),
    ("  validations: [{expression: 'true'}]\n  auditAnnotations:\n  - {key: k, valueExpression: '1 + 1'}\n",
     "spec.auditAnnotations[0].valueExpression", "string or null"),
    ("  validations:\n  - expression: 'object.spec.containers.all(c, c.name =='\n",
     "spec.validations[0].expression", "syntax error"),
])
def test_compile_errors_name_the_expression_field(vp, extra, field, message):
    with pytest.raises(LoadError) as err:
        vp.load(HEAD.format(version="v1", kind="ValidatingPolicy") + extra)
    assert err.value.field == field and message in err.value.message


def test_kubernetes_mode_needs_resource_rules(vp):
    with pytest.raises(LoadError) as err:
        vp.load("apiVersion: policies.kyverno.io/v1\nkind: ValidatingPolicy\nmetadata: {name: p}\nspec:\n"
                + VALIDATIONS)
    assert err.value.field == "spec.matchConstraints.resourceRules"
    assert "evaluation.mode: JSON" in err.value.message


def test_json_mode_needs_no_constraints_and_ignores_audit_annotations(vp):
    policy = vp.load("""apiVersion: policies.kyverno.io/v1
kind: ValidatingPolicy
metadata: {name: terraform-no-public-buckets}
spec:
  evaluation: {mode: JSON}
  validations:
  - expression: "object.resources.all(r, r.?acl.orValue('private') != 'public-read')"
  auditAnnotations:
  - {key: k, valueExpression: '1 + 1'}
""")
    assert policy.mode == "JSON" and policy.variants[0].audit_annotations == []


@pytest.mark.parametrize("mode, response", [("Envoy", "envoy.Allowed().Response()"),
                                            ("HTTP", "http.Allowed().Response()")])
def test_authorization_modes_load_without_admission(vp, mode, response):
    policy = vp.load(f"""apiVersion: policies.kyverno.io/v1
kind: ValidatingPolicy
metadata: {{name: authz}}
spec:
  evaluation: {{mode: {mode}}}
  validations:
  - expression: "{response}"
""")
    assert policy.mode == mode and not policy.admission and not policy.background
    assert policy.variants[0].match is None and len(policy.variants) == 1


@pytest.mark.parametrize("mode", ["Envoy", "HTTP"])
def test_authorization_validation_returning_bool_is_a_load_error(vp, mode):
    with pytest.raises(LoadError, match=f"a validation in {mode} mode returns a CheckResponse or null") as err:
        vp.load(HEAD.format(version="v1", kind="ValidatingPolicy") + VALIDATIONS
                + f"  evaluation: {{mode: {mode}}}\n")
    assert err.value.field == "spec.validations[0].expression"


def test_policy_files_load_with_cel_exceptions_as_companions(engine, tmp_path):
    (tmp_path / "p.yaml").write_text(HEAD.format(version="v1", kind="ValidatingPolicy") + VALIDATIONS + """---
apiVersion: policies.kyverno.io/v1
kind: PolicyException
metadata: {name: legacy, namespace: kyverno}
spec:
  policyRefs: [{name: require-run-as-non-root, kind: ValidatingPolicy}]
""")
    ps = load_policy_set(engine, [str(tmp_path / "p.yaml")])
    assert [p.key for p in ps.kind_policies] == ["require-run-as-non-root"]
    assert [d["metadata"]["name"] for d in ps.companions["policies.kyverno.io/PolicyException"]] == ["legacy"]


def test_an_invalid_cel_exception_names_its_file_and_field(engine, tmp_path):
    (tmp_path / "e.yaml").write_text("""apiVersion: policies.kyverno.io/v1
kind: PolicyException
metadata: {name: legacy}
spec:
  policyRefs: [{name: require-run-as-non-root, kind: ValidatingPolicy}]
  reportResult: fail
""")
    with pytest.raises(LoadError) as err:
        load_policy_set(engine, [], [str(tmp_path / "e.yaml")])
    assert err.value.source.endswith("e.yaml") and err.value.field == "spec.reportResult"
