"""ValidatingAdmissionPolicy at admission (Sources.webhook set): the API server's semantics."""
from __future__ import annotations

POLICY = """
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: guard}
spec:
  failurePolicy: %(failure)s
  matchConstraints:
    resourceRules:
    - {apiGroups: [apps], apiVersions: [v1], operations: [CREATE, UPDATE], resources: [deployments]}
  matchConditions:
  - name: not-system
    expression: "object.metadata.name != 'system'"
  - name: readable
    expression: "object.metadata.name != 'cond-err' || object.spec.missing == 1"
  validations:
  - expression: "object.spec.replicas <= 3"
    message: too many replicas
    reason: Forbidden
  - expression: "object.metadata.name.size() < 10"
    messageExpression: "'name ' + object.metadata.name + ' is too long'"
  - expression: "object.metadata.name != 'eval-err' || object.spec.template.x == 1"
  auditAnnotations:
  - key: replicas
    valueExpression: "'replicas: ' + string(object.spec.replicas)"
  - key: empty
    valueExpression: "object.metadata.name == 'annot-err' ? string(object.spec.nope) : '  '"
  - key: absent
    valueExpression: "null"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: deny-prod}
spec:
  policyName: guard
  validationActions: [Deny]
  matchResources:
    namespaceSelector:
      matchLabels: {env: prod}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: warn-all}
spec:
  policyName: guard
  validationActions: [Warn, Audit]
"""

NAMESPACES = {"shop": {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop", "labels": {"env": "prod"}}},
              "lab": {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "lab", "labels": {"env": "dev"}}}}


def _admit(vap, ps, resource, **kw):
    kw.setdefault("namespaces", NAMESPACES)
    return vap.rules(ps, resource, webhook="validate", **kw)


def test_each_binding_reports_its_own_validation_actions(vap):
    ps = vap.load(POLICY % {"failure": "Fail"})
    rules = _admit(vap, ps, vap.deployment("web", replicas=2, namespace="shop"))
    assert [(s, p["binding"], p["validationActions"]) for s, _, p in rules] == [
        ("pass", "deny-prod", "Deny"), ("pass", "warn-all", "Warn,Audit")]
    # the binding whose matchResources do not select the namespace does not run
    rules = _admit(vap, ps, vap.deployment("web", replicas=2, namespace="lab"))
    assert [p["binding"] for _, _, p in rules] == ["warn-all"]
    assert ps.kind_policies[0].validation_actions == {"Deny", "Warn", "Audit"}


def test_every_validation_is_evaluated(vap):
    ps = vap.load(POLICY % {"failure": "Fail"})
    rules = _admit(vap, ps, vap.deployment("much-too-long", replicas=7, namespace="lab"))
    assert [(s, m, p["expressionIndex"], p.get("reason")) for s, m, p in rules] == [
        ("fail", "too many replicas", "0", "Forbidden"),
        ("fail", "name much-too-long is too long", "1", "Invalid")]


def test_audit_annotations_are_keyed_by_policy(vap):
    ps = vap.load(POLICY % {"failure": "Fail"})
    (_, _, props), = _admit(vap, ps, vap.deployment("web", replicas=2, namespace="lab"))
    # empty (after trimming) and null values are left out
    assert {k: v for k, v in props.items() if k.startswith("guard/")} == {"guard/replicas": "replicas: 2"}


def test_failure_policy_governs_errors(vap):
    fail = vap.load(POLICY % {"failure": "Fail"})
    ignore = vap.load(POLICY % {"failure": "Ignore"})
    lab = {"namespace": "lab"}
    message = "expression 'object.metadata.name != 'eval-err' || object.spec.template.x == 1' resulted in " \
              "error: no such key: template"
    assert [(s, m) for s, m, _ in _admit(vap, fail, vap.deployment("eval-err", **lab))] == [("error", message)]
    assert [(s, m) for s, m, _ in _admit(vap, ignore, vap.deployment("eval-err", **lab))] == [("skip", message)]
    # a match-condition error
    cond = "expression 'object.metadata.name != 'cond-err' || object.spec.missing == 1' resulted in error: " \
           "no such key: missing"
    assert [(s, m) for s, m, _ in _admit(vap, fail, vap.deployment("cond-err", **lab))] == [("error", cond)]
    assert [(s, m) for s, m, _ in _admit(vap, ignore, vap.deployment("cond-err", **lab))] == [("skip", cond)]
    # a false match condition: not evaluated
    assert [(s, m) for s, m, _ in _admit(vap, fail, vap.deployment("system", **lab))] == [
        ("skip", "match conditions aren't met")]
    # an audit annotation that fails denies under Fail whatever the binding's actions, and is dropped under Ignore
    (status, msg, props), = _admit(vap, fail, vap.deployment("annot-err", **lab))
    assert (status, props["validationActions"], props["auditAnnotation"]) == ("error", "Deny", "empty")
    assert "no such key: nope" in msg
    assert [s for s, _, _ in _admit(vap, ignore, vap.deployment("annot-err", **lab))] == ["pass"]


def test_policy_constraints_and_binding_resources_both_apply(vap):
    ps = vap.load(POLICY % {"failure": "Fail"})
    # the operation is the real one: DELETE is not in the policy's operations
    assert _admit(vap, ps, {}, operation="DELETE", old=vap.deployment(namespace="lab")) is None
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "lab"}}
    assert _admit(vap, ps, pod) is None


def test_without_bindings_the_api_server_does_nothing(vap):
    ps = vap.load((POLICY % {"failure": "Fail"}).split("---")[0])
    assert _admit(vap, ps, vap.deployment(replicas=9, namespace="lab")) is None
    # offline the same policy runs on its own constraints
    assert vap.rules(ps, vap.deployment(replicas=9, namespace="lab"))[0][0] == "fail"


UPDATES = """
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: no-scale-down}
spec:
  matchConstraints:
    resourceRules:
    - {apiGroups: [apps], apiVersions: [v1], operations: ["*"], resources: [deployments]}
  validations:
  - expression: "request.operation != 'UPDATE' || object.spec.replicas >= oldObject.spec.replicas"
    message: no scaling down
  - expression: "request.operation != 'DELETE' || object == null"
  - expression: "request.operation == 'DELETE' || namespaceObject.metadata.annotations.owner == 'ops'"
    message: owner
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: all}
spec: {policyName: no-scale-down, validationActions: [Deny]}
"""


def test_the_real_operation_old_object_and_namespace_object(vap):
    ps = vap.load(UPDATES)
    namespaces = {"shop": vap.namespace("shop", annotations={"owner": "ops"}),
                  "lab": vap.namespace("lab", annotations={"owner": "dev"})}
    old = vap.deployment(replicas=3, namespace="shop")
    assert _admit(vap, ps, vap.deployment(replicas=2, namespace="shop"), operation="UPDATE", old=old,
                  namespaces=namespaces)[0][:2] == ("fail", "no scaling down")
    assert _admit(vap, ps, vap.deployment(replicas=4, namespace="shop"), operation="UPDATE", old=old,
                  namespaces=namespaces)[0][0] == "pass"
    assert _admit(vap, ps, {}, operation="DELETE", old=old, namespaces=namespaces)[0][0] == "pass"
    # the Namespace object is the one given, annotations included
    assert _admit(vap, ps, vap.deployment(namespace="lab"), namespaces=namespaces)[0][:2] == ("fail", "owner")


PARAMS = """
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: limits}
spec:
  failurePolicy: %(failure)s
  paramKind: {apiVersion: v1, kind: ConfigMap}
  matchConstraints:
    resourceRules:
    - {apiGroups: [apps], apiVersions: [v1], operations: [CREATE], resources: [deployments]}
  validations:
  - expression: "params == null || object.spec.replicas <= int(params.data.max)"
    messageExpression: "'at most ' + params.data.max"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: limits}
spec:
  policyName: limits
  validationActions: [Deny]
  paramRef: %(ref)s
"""


def _params(vap):
    return [vap.config_map("max", {"max": "2"}, "shop", {"tier": "a"}),
            vap.config_map("max", {"max": "5"}, "lab", {"tier": "a"}),
            vap.config_map("other", {"max": "1"}, "lab", {"tier": "a"}),
            {"apiVersion": "example.com/v1", "kind": "Limit", "metadata": {"name": "max", "namespace": "lab"},
             "data": {"max": "0"}}]


def test_param_by_name_is_looked_up_in_the_request_namespace(vap):
    ps = vap.load(PARAMS % {"failure": "Fail", "ref": "{name: max, parameterNotFoundAction: Deny}"})
    params = _params(vap)
    assert _admit(vap, ps, vap.deployment(replicas=4, namespace="shop"), params=params)[0][:2] == ("fail", "at most 2")
    assert _admit(vap, ps, vap.deployment(replicas=4, namespace="lab"), params=params)[0][2]["param"] == "lab/max"
    # paramRef.namespace overrides the request's namespace
    ps = vap.load(PARAMS % {"failure": "Fail", "ref": "{name: max, namespace: shop}"})
    assert _admit(vap, ps, vap.deployment(replicas=4, namespace="lab"), params=params)[0][:2] == ("fail", "at most 2")


def test_params_by_selector_evaluate_once_each(vap):
    ps = vap.load(PARAMS % {"failure": "Fail", "ref": "{selector: {matchLabels: {tier: a}}}"})
    rules = _admit(vap, ps, vap.deployment(replicas=3, namespace="lab"), params=_params(vap))
    # the Limit object is not of the paramKind
    assert [(s, p["param"]) for s, _, p in rules] == [("pass", "lab/max"), ("fail", "lab/other")]


def test_parameter_not_found_action(vap):
    params = _params(vap)
    allow = vap.load(PARAMS % {"failure": "Fail", "ref": "{name: nope, parameterNotFoundAction: Allow}"})
    assert _admit(vap, allow, vap.deployment(namespace="lab"), params=params) is None
    deny = vap.load(PARAMS % {"failure": "Fail", "ref": "{name: nope, parameterNotFoundAction: Deny}"})
    assert _admit(vap, deny, vap.deployment(namespace="lab"), params=params) == [
        ("error", "failed to configure binding: no params found for policy binding with `Deny` "
                  "parameterNotFoundAction", {"binding": "limits", "validationActions": "Deny"})]
    ignored = vap.load(PARAMS % {"failure": "Ignore", "ref": "{name: nope, parameterNotFoundAction: Deny}"})
    assert _admit(vap, ignored, vap.deployment(namespace="lab"), params=params)[0][0] == "skip"
    # a namespaced paramKind without a namespace to look in
    cluster = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}}
    ps = vap.load((PARAMS % {"failure": "Fail", "ref": "{name: max}"}).replace(
        "resources: [deployments]", "resources: [namespaces]").replace("apiGroups: [apps]", 'apiGroups: [""]'))
    (status, message, _), = _admit(vap, ps, cluster, params=params)
    assert status == "error" and "cannot use namespaced paramRef" in message
