"""ValidatingAdmissionPolicy offline (verno apply / test): Kyverno's CLI semantics."""
from __future__ import annotations

REPLICAS = """
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: replica-cap}
spec:
  matchConstraints:
    resourceRules:
    - apiGroups: [apps]
      apiVersions: [v1]
      operations: [CREATE, UPDATE]
      resources: [deployments]
  validations:
  - expression: object.spec.replicas <= 3
    messageExpression: "'at most 3 replicas, got ' + string(object.spec.replicas)"
"""


def test_without_bindings_the_policy_constraints_decide(vap):
    ps = vap.load(REPLICAS)
    assert vap.rules(ps, vap.deployment(replicas=2)) == [("pass", "", {})]
    assert vap.rules(ps, vap.deployment(replicas=5)) == [("fail", "at most 3 replicas, got 5", {})]
    response = vap.run(ps, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}})
    # not matched: a response without rules (Kyverno's CLI reports it as excluded)
    assert len(response) == 1 and response[0].rules == [] and response[0].policy.report_source == \
        "ValidatingAdmissionPolicy"


def test_rule_and_report_name_are_the_policy_name(vap):
    ps = vap.load(REPLICAS)
    response = vap.run(ps, vap.deployment(replicas=5))[0]
    assert response.rules[0].name == "replica-cap" and response.policy.key == "replica-cap"
    assert response.rules[0].rule_type == "Validation"


MESSAGES = """
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: messages}
spec:
  matchConstraints:
    resourceRules:
    - {apiGroups: [apps], apiVersions: [v1], operations: [CREATE], resources: [deployments]}
  validations:
  - expression: "object.metadata.name != 'a'"
    message: "  plain message  "
    messageExpression: "''"
  - expression: "object.metadata.name != 'b'"
    message: "fallback"
    messageExpression: "'two\\\\nlines'"
  - expression: "object.metadata.name != 'c'"
    message: "fallback after error"
    messageExpression: "string(object.missing.field)"
  - expression: "  object.metadata.name != 'd'  "
  - expression: "object.metadata.name != 'e'"
    messageExpression: "'   name ' + object.metadata.name + '  '"
"""


def test_message_rules_follow_kubernetes(vap):
    ps = vap.load(MESSAGES)
    # an empty messageExpression result falls back to message (trimmed)
    assert vap.rules(ps, vap.deployment("a"))[0][:2] == ("fail", "plain message")
    # a multi-line result falls back too
    assert vap.rules(ps, vap.deployment("b"))[0][:2] == ("fail", "fallback")
    # so does a messageExpression that fails
    assert vap.rules(ps, vap.deployment("c"))[0][:2] == ("fail", "fallback after error")
    # neither: the expression itself, trimmed
    assert vap.rules(ps, vap.deployment("d"))[0][:2] == ("fail", "failed expression: object.metadata.name != 'd'")
    assert vap.rules(ps, vap.deployment("e"))[0][:2] == ("fail", "name e")


ORDER = """
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: order}
spec:
  matchConstraints:
    resourceRules:
    - {apiGroups: [apps], apiVersions: [v1], operations: [CREATE], resources: [deployments]}
  validations:
  - expression: "object.metadata.name != 'first-fails'"
    message: "name rejected"
  - expression: "object.spec.strategy.type == 'Recreate'"
    message: "strategy"
"""


def test_the_first_failing_decision_decides_error_or_fail(vap):
    ps = vap.load(ORDER)
    # the first validation fails before the second errors: fail
    assert vap.rules(ps, vap.deployment("first-fails")) == [("fail", "name rejected", {})]
    # the first passes, the second errors (no strategy): error with Kubernetes' wording
    assert vap.rules(ps, vap.deployment("ok")) == [
        ("error", "expression 'object.spec.strategy.type == 'Recreate'' resulted in error: no such key: strategy", {})]


CONDITIONS = """
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: conditions}
spec:
  failurePolicy: %s
  matchConstraints:
    resourceRules:
    - {apiGroups: [apps], apiVersions: [v1], operations: [CREATE], resources: [deployments]}
  matchConditions:
  - name: broken-for-x
    expression: "object.metadata.name != 'x' || object.spec.nothing == 1"
  - name: not-excluded
    expression: "!('skip' in object.metadata.labels)"
  validations:
  - expression: object.spec.replicas < 10
"""


def test_match_conditions_skip_and_error(vap):
    for policy in ("Fail", "Ignore"):
        ps = vap.load(CONDITIONS % policy)
        assert vap.rules(ps, vap.deployment("web")) == [("pass", "", {})]
        assert vap.rules(ps, vap.deployment("web", labels={"skip": "y"})) == [
            ("skip", "match conditions aren't met", {})]
        # an error: offline it is an error whatever the failurePolicy (Kyverno's CLI reads the evaluation)
        assert vap.rules(ps, vap.deployment("x")) == [
            ("error", "expression 'object.metadata.name != 'x' || object.spec.nothing == 1' resulted in error: "
                      "no such key: nothing", {})]
        # an error and a false condition: not matched
        assert vap.rules(ps, vap.deployment("x", labels={"skip": "y"}))[0][0] == "skip"


VARIABLES = """
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: variables}
spec:
  matchConstraints:
    resourceRules:
    - {apiGroups: [apps], apiVersions: [v1], operations: [CREATE], resources: [deployments]}
  variables:
  - name: team
    expression: "object.metadata.labels.?team.orValue('')"
  - name: owned
    expression: "variables.team != ''"
  - name: broken
    expression: "object.spec.template.spec"
  matchConditions:
  - name: owned-only
    expression: "variables.owned"
  validations:
  - expression: "variables.team.startsWith('t-')"
    messageExpression: "'team ' + variables.team + ' must start with t-'"
  - expression: "object.metadata.name != 'deep' || has(variables.broken.containers)"
"""


def test_variables_in_conditions_validations_and_messages(vap):
    ps = vap.load(VARIABLES)
    assert vap.rules(ps, vap.deployment(labels={"app": "x"}))[0][0] == "skip"
    assert vap.rules(ps, vap.deployment(labels={"team": "t-web"})) == [("pass", "", {})]
    assert vap.rules(ps, vap.deployment(labels={"team": "ops"})) == [("fail", "team ops must start with t-", {})]
    # a broken variable fails only the expression that reads it
    status, message, _ = vap.rules(ps, vap.deployment("deep", labels={"team": "t-a"}))[0]
    assert status == "error" and "no such key: template" in message


BOUND = """
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: bound}
spec:
  paramKind: {apiVersion: v1, kind: ConfigMap}
  matchConstraints:
    resourceRules:
    - {apiGroups: [apps], apiVersions: [v1], operations: [UPDATE], resources: [deployments]}
  validations:
  - expression: "params != null && object.spec.replicas <= int(params.data.max)"
    messageExpression: "params == null ? 'no params' : 'at most ' + params.data.max"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: prod}
spec:
  policyName: bound
  validationActions: [Audit]
  paramRef: {name: prod-limits, namespace: limits}
  matchResources:
    namespaceSelector:
      matchLabels: {env: prod}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: other-policy}
spec:
  policyName: not-this-one
  validationActions: [Deny]
"""


def test_bindings_select_by_their_match_resources_and_skip_policy_constraints(vap):
    ps = vap.load(BOUND)
    params = [vap.config_map("prod-limits", {"max": "1"}, "other"), vap.config_map("prod-limits", {"max": "4"}, "limits")]
    namespaces = {"shop": vap.namespace("shop", {"env": "prod"}), "lab": vap.namespace("lab", {"env": "dev"})}
    # the policy only matches UPDATE, the offline request is a CREATE: with a binding the constraints are not read
    assert vap.rules(ps, vap.deployment(replicas=3, namespace="shop"), params=params, namespaces=namespaces) == [
        ("pass", "", {"binding": "prod"})]
    # validationActions (Audit) are ignored offline: a false validation is a fail
    assert vap.rules(ps, vap.deployment(replicas=5, namespace="shop"), params=params, namespaces=namespaces) == [
        ("fail", "at most 4", {"binding": "prod"})]
    # the binding does not select this namespace: no rule
    assert vap.rules(ps, vap.deployment(replicas=5, namespace="lab"), params=params, namespaces=namespaces) == []
    # namespace labels from the run when the Namespace object is not given
    assert vap.rules(ps, vap.deployment(replicas=5, namespace="x"), params=params,
                     namespace_labels={"env": "prod"})[0][0] == "fail"
    # no such param: params is null
    assert vap.rules(ps, vap.deployment(replicas=1, namespace="shop"), namespaces=namespaces) == [
        ("fail", "no params", {"binding": "prod"})]


LAST_WINS = """
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: labelled}
spec:
  paramKind: {apiVersion: v1, kind: ConfigMap}
  matchConstraints:
    resourceRules:
    - {apiGroups: [apps], apiVersions: [v1], operations: [CREATE], resources: [deployments]}
  validations:
  - expression: "params.items.all(p, object.metadata.labels.exists(k, k == p.data.required))"
    messageExpression: "'needs ' + params.items.map(p, p.data.required).join(', ')"
  - expression: "!has(params.data) || object.spec.replicas <= int(params.data.max)"
    message: too many
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: by-name}
spec:
  policyName: labelled
  paramRef: {name: limits}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: by-selector}
spec:
  policyName: labelled
  paramRef:
    selector:
      matchLabels: {kind: required-label}
"""


def test_params_by_selector_are_a_list_and_the_last_binding_wins(vap):
    ps = vap.load(LAST_WINS)
    params = [vap.config_map("limits", {"max": "2"}),
              vap.config_map("team", {"required": "team"}, labels={"kind": "required-label"}),
              vap.config_map("tier", {"required": "tier"}, labels={"kind": "required-label"})]
    # both bindings match; the last (selector: a List of two params) gives the result
    assert vap.rules(ps, vap.deployment(replicas=9, labels={"team": "a"}), params=params) == [
        ("fail", "needs team, tier", {"binding": "by-selector"})]
    assert vap.rules(ps, vap.deployment(replicas=9, labels={"team": "a", "tier": "b"}), params=params) == [
        ("pass", "", {"binding": "by-selector"})]


ATTRIBUTES = """
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: attributes}
spec:
  matchConstraints:
    resourceRules:
    - {apiGroups: ["", apps], apiVersions: [v1], operations: [CREATE], resources: [deployments, namespaces]}
  validations:
  - expression: "oldObject == null && request.operation == 'CREATE'"
    message: not a create
  - expression: "request.userInfo.username == 'alice'"
    message: not alice
  - expression: "object.kind == 'Namespace' || namespaceObject.metadata.name == 'shop'"
    message: namespace object
  - expression: "object.kind == 'Namespace' || namespaceObject.metadata.labels.env == 'prod'"
    message: namespace labels
"""


def test_the_offline_request_is_a_create_with_the_run_namespace(vap):
    ps = vap.load(ATTRIBUTES)
    alice = {"username": "alice"}
    namespaces = {"shop": vap.namespace("shop", {"env": "prod"})}
    old = vap.deployment(replicas=1, namespace="shop")
    # an UPDATE is still evaluated as a CREATE without oldObject
    assert vap.rules(ps, vap.deployment(namespace="shop"), operation="UPDATE", old=old, user=alice,
                     namespaces=namespaces) == [("pass", "", {})]
    assert vap.rules(ps, vap.deployment(namespace="shop"), user={"username": "bob"}, namespaces=namespaces)[0][1] \
        == "not alice"
    # a namespace the run does not describe has no labels (not even its name label)
    status, message, _ = vap.rules(ps, vap.deployment(namespace="shop"), user=alice)[0]
    assert status == "error" and message.endswith("no such key: env")
    assert vap.rules(ps, vap.namespace("shop"), user=alice) == [("pass", "", {})]


def test_payloads_are_not_evaluated(vap):
    ps = vap.load(REPLICAS)
    from verno.core.policykinds import KindInputs
    from verno.core.request import Request
    from verno.core.sources import Sources

    assert vap.engine.evaluate_kinds(ps.kind_policies, Request(vap.deployment(replicas=9)), KindInputs(Sources()),
                                     payload=True) == []


NAMED = """
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: named}
spec:
  matchConstraints:
    resourceRules:
    - {apiGroups: [apps], apiVersions: [v1], operations: [CREATE], resources: [deployments]}
  validations:
  - expression: "false"
    message: fallback
    messageExpression: "string(object.metadata.annotations.note)"
"""


def test_a_message_expression_result_is_used_only_when_one_short_line(vap):
    from hypothesis import given, settings
    from hypothesis import strategies as st

    ps = vap.load(NAMED)

    @settings(max_examples=60, deadline=None)
    # a NUL or a lone surrogate cannot cross the CEL runtime's string boundary: such a value is an evaluation
    # error (the fallback message), see docs/cel.md
    @given(st.one_of(st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=40),
                     st.text(alphabet=" \n\tab\x1c\u3000", max_size=8),
                     st.integers(5100, 5200).map(lambda n: "x" * n)))
    def check(note):
        resource = {**vap.deployment(), "metadata": {"name": "n", "namespace": "default",
                                                     "annotations": {"note": note}}}
        (status, message, _), = vap.rules(ps, resource)
        expected = note.strip("\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
                              "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")  # Go's TrimSpace
        if not expected or "\n" in expected or len(expected.encode()) > 5 * 1024:
            expected = "fallback"
        assert (status, message) == ("fail", expected)

    check()


def test_a_message_expression_result_that_cannot_cross_the_runtime_gives_the_fallback(vap):
    ps = vap.load(NAMED)
    for note in ("\ud800", "x\udfff"):
        resource = {**vap.deployment(), "metadata": {"name": "n", "namespace": "default", "annotations": {"note": note}}}
        (status, message, _), = vap.rules(ps, resource)
        assert (status, message) == ("fail", "fallback")
