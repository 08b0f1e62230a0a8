"""Evaluating ValidatingPolicies as Kyverno's vpol engine does (reference: kyverno-cel.md 3.1, 3.6, 8)."""
from __future__ import annotations

import pytest

from verno.core.results import Status

POLICY = """apiVersion: policies.kyverno.io/v1
kind: ValidatingPolicy
metadata: {name: restrict-registries}
spec:
  matchConstraints:
    resourceRules:
    - apiGroups: [""]
      apiVersions: [v1]
      operations: [CREATE, UPDATE]
      resources: [pods]
  variables:
  - name: images
    expression: "object.spec.containers.map(c, c.image)"
  - name: allowed
    expression: "['registry.corp.example/', 'mirror.corp.example/']"
  validations:
  - expression: "variables.images.all(i, variables.allowed.exists(p, i.startsWith(p)))"
    messageExpression: "'images from other registries: ' + variables.images.filter(i, !variables.allowed.exists(p, i.startsWith(p))).join(', ')"
  - expression: "object.spec.containers.all(c, !c.image.endsWith(':latest'))"
    message: "the latest tag is not allowed"
  auditAnnotations:
  - key: image-count
    valueExpression: "string(size(variables.images))"
  - key: empty
    valueExpression: "''"
"""


def pod(*images, name="web", namespace="shop", labels=None, extra=None):
    meta = {"name": name, "namespace": namespace}
    if labels:
        meta["labels"] = labels
    spec = {"containers": [{"name": f"c{i}", "image": image} for i, image in enumerate(images)]}
    spec.update(extra or {})
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


def only_rule(response):
    assert response is not None and len(response.rules) == 1
    return response.rules[0]


def test_pass_with_audit_annotations_as_properties(vp):
    rule = only_rule(vp.run(vp.load(POLICY), pod("registry.corp.example/shop:1.2")))
    assert (rule.status, rule.message, rule.name, rule.rule_type) == (Status.PASS, "success", "", "Validation")
    # empty annotation values are left out, keys are not prefixed with the policy name
    assert rule.properties == {"image-count": "1"}


def test_first_false_validation_is_the_result_with_its_message_expression(vp):
    rule = only_rule(vp.run(vp.load(POLICY), pod("docker.io/nginx:latest", "registry.corp.example/a:1")))
    assert rule.status == Status.FAIL
    assert rule.message == "images from other registries: docker.io/nginx:latest"
    assert rule.properties == {"cel.validationIndex": "0", "image-count": "2"}


def test_second_validation_fails_with_its_message(vp):
    rule = only_rule(vp.run(vp.load(POLICY), pod("registry.corp.example/a:latest")))
    assert (rule.status, rule.message, rule.properties["cel.validationIndex"]) == \
        (Status.FAIL, "the latest tag is not allowed", "1")


def _one_validation(validation: str, extra: str = "") -> str:
    head = POLICY.split("  variables:")[0]
    return head + "  validations:\n" + validation + extra


@pytest.mark.parametrize("validation,message", [
    # an empty messageExpression result is used as is, then Kyverno's default names the index
    ("  - {expression: 'false', message: fallback, messageExpression: \"''\"}\n",
     "CEL expression validation failed at index 0"),
    ("  - {expression: 'false'}\n", "CEL expression validation failed at index 0"),
    ("  - {expression: 'false', message: 'plain'}\n", "plain"),
    ("  - {expression: 'false', message: plain, messageExpression: \"'x' + object.metadata.missing\"}\n",
     "failed to evaluate message expression: no such key: missing"),
])
def test_message_rules(vp, validation, message):
    rule = only_rule(vp.run(vp.load(_one_validation(validation)), pod("a")))
    assert rule.status == Status.FAIL and rule.message == message


def test_runtime_error_is_an_error_with_the_index(vp):
    policy = vp.load(_one_validation("  - {expression: 'true'}\n  - {expression: 'object.spec.hostNetwork == true'}\n"))
    rule = only_rule(vp.run(policy, pod("a")))
    assert rule.status == Status.ERROR and rule.message == "error: no such key: hostNetwork"
    assert rule.properties == {"cel.validationIndex": "1"}


def test_variables_are_lazy(vp):
    policy = vp.load(_one_validation("  - expression: \"has(object.spec.hostNetwork) && variables.broken == 1\"\n",
                                     "  variables:\n  - {name: broken, expression: 'object.spec.hostNetwork'}\n"))
    assert only_rule(vp.run(policy, pod("a"))).status == Status.FAIL  # never evaluated
    rule = only_rule(vp.run(policy, pod("a", extra={"hostNetwork": True})))
    assert rule.status == Status.FAIL  # evaluated, true != 1


def test_audit_annotation_error_is_the_result(vp):
    policy = vp.load(_one_validation("  - {expression: 'true'}\n",
                                     "  auditAnnotations:\n  - {key: k, valueExpression: 'string(object.metadata.team)'}\n"))
    rule = only_rule(vp.run(policy, pod("a")))
    assert rule.status == Status.ERROR and "no such key: team" in rule.message


CONDITIONS = _one_validation("  - {expression: 'false', message: denied}\n", """  matchConditions:
  - name: not-system
    expression: "!object.metadata.namespace.startsWith('kube-')"
  - name: labelled
    expression: "object.metadata.labels.tier == 'web'"
""")


def test_a_false_match_condition_skips(vp):
    rule = only_rule(vp.run(vp.load(CONDITIONS), pod("a", namespace="kube-system", labels={"tier": "web"})))
    assert (rule.status, rule.message) == (Status.SKIP, "skip")


def test_match_condition_error_follows_failure_policy(vp):
    # no labels: the second condition errors (no such key) and none is false
    rule = only_rule(vp.run(vp.load(CONDITIONS), pod("a")))
    assert rule.status == Status.ERROR and rule.message.startswith("failed to load context: no such key")
    ignore = vp.load(CONDITIONS + "  failurePolicy: Ignore\n")
    assert only_rule(vp.run(ignore, pod("a"))).status == Status.SKIP
    # a false condition wins over another's error
    assert only_rule(vp.run(vp.load(CONDITIONS), pod("a", namespace="kube-public"))).status == Status.SKIP
    assert only_rule(vp.run(vp.load(CONDITIONS), pod("a", labels={"tier": "web"}))).message == "denied"


def test_match_conditions_do_not_see_variables(vp):
    policy = vp.load(_one_validation("  - {expression: 'variables.v'}\n", """  variables:
  - {name: v, expression: 'true'}
  matchConditions:
  - {name: uses-variable, expression: 'variables.v'}
"""))
    rule = only_rule(vp.run(policy, pod("a")))
    assert rule.status == Status.ERROR and "no such attribute: variables.v" in rule.message


def test_unmatched_simple_constraints_give_no_response(vp):
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "shop"}}
    assert vp.run(vp.load(POLICY), cm) is None
    assert vp.run(vp.load(POLICY), pod("a"), operation="DELETE") is None  # DELETE not among the operations


def test_unmatched_selector_constraints_give_an_empty_response(vp):
    policy = vp.load(POLICY.replace("    resourceRules:", "    namespaceSelector: {matchLabels: {env: prod}}\n"
                                                         "    resourceRules:"))
    namespaces = {"shop": {"metadata": {"name": "shop", "labels": {"env": "dev"}}}}
    response = vp.run(policy, pod("docker.io/x"), namespaces=namespaces)
    assert response is not None and response.rules == []
    namespaces["shop"]["metadata"]["labels"]["env"] = "prod"
    assert only_rule(vp.run(policy, pod("docker.io/x"), namespaces=namespaces)).status == Status.FAIL


def test_namespace_object_from_the_namespaces(vp):
    policy = vp.load(_one_validation("  - expression: \"namespaceObject.metadata.labels.?env.orValue('') == 'prod'\"\n"))
    namespaces = {"shop": {"metadata": {"name": "shop", "labels": {"env": "prod"}}}}
    assert only_rule(vp.run(policy, pod("a"), namespaces=namespaces)).status == Status.PASS
    # without a Namespace object namespaceObject is null: reading it is an error, not a pass
    assert only_rule(vp.run(policy, pod("a"))).status == Status.ERROR


def test_request_and_old_object(vp):
    policy = vp.load(_one_validation(
        "  - expression: \"request.operation != 'UPDATE' || object.spec.containers == oldObject.spec.containers\"\n"
        "    message: containers are immutable\n"
        "  - expression: \"!request.userInfo.groups.exists(g, g == 'contractors')\"\n"))
    old = pod("a:1")
    assert only_rule(vp.run(policy, pod("a:2"), operation="UPDATE", old=old)).message == "containers are immutable"
    assert only_rule(vp.run(policy, pod("a:1"), operation="UPDATE", old=old)).status == Status.PASS
    user = {"username": "ann", "groups": ["contractors"]}
    assert only_rule(vp.run(policy, pod("a:1"), user=user)).properties == {"cel.validationIndex": "1"}


def test_delete_sees_the_old_object(vp):
    policy = vp.load(_one_validation("  - expression: \"object == null && oldObject.metadata.name != 'db'\"\n")
                     .replace("[CREATE, UPDATE]", "[DELETE]"))
    assert only_rule(vp.run(policy, pod("a", name="db"), operation="DELETE")).status == Status.FAIL
    assert only_rule(vp.run(policy, pod("a", name="web"), operation="DELETE")).status == Status.PASS


def test_namespaced_policy_applies_in_its_namespace_only(vp):
    policy = vp.load(POLICY.replace("kind: ValidatingPolicy", "kind: NamespacedValidatingPolicy")
                     .replace("{name: restrict-registries}", "{name: restrict-registries, namespace: shop}"))
    assert only_rule(vp.run(policy, pod("docker.io/x"))).status == Status.FAIL
    assert vp.run(policy, pod("docker.io/x", namespace="billing")) is None


JSON_POLICY = """apiVersion: policies.kyverno.io/v1
kind: ValidatingPolicy
metadata: {name: plan-encrypted-volumes}
spec:
  evaluation: {mode: JSON}
  matchConditions:
  - {name: is-plan, expression: "has(object.planned_values)"}
  validations:
  - expression: "object.planned_values.volumes.all(v, v.encrypted == true)"
    message: every volume must be encrypted
  - expression: "oldObject == null"
"""


def test_json_mode_reads_payloads(vp):
    policy = vp.load(JSON_POLICY)
    plan = {"planned_values": {"volumes": [{"encrypted": True}, {"encrypted": False}]}}
    rule = only_rule(vp.run(policy, plan, payload=True))
    assert (rule.status, rule.message) == (Status.FAIL, "every volume must be encrypted")
    assert only_rule(vp.run(policy, {"planned_values": {}}, payload=True)).status == Status.ERROR
    assert only_rule(vp.run(policy, {"planned_values": {"volumes": []}}, payload=True)).status == Status.PASS
    assert only_rule(vp.run(policy, {"other": 1}, payload=True)).status == Status.SKIP


def test_kubernetes_mode_ignores_payloads(vp):
    assert vp.run(vp.load(POLICY), pod("docker.io/x"), payload=True) is None


# -- autogen ---------------------------------------------------------------------------------------------

def deployment(image, kind="Deployment"):
    template = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": image}]}}
    if kind == "CronJob":
        return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "nightly", "namespace": "shop"},
                "spec": {"schedule": "@daily", "jobTemplate": {"spec": {"template": template}}}}
    group = "batch/v1" if kind == "Job" else "apps/v1"
    return {"apiVersion": group, "kind": kind, "metadata": {"name": "web", "namespace": "shop"},
            "spec": {"template": template}}


@pytest.mark.parametrize("kind", ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob"])
def test_autogen_applies_pod_checks_to_controllers(vp, kind):
    policy = vp.load(POLICY)
    rule = only_rule(vp.run(policy, deployment("docker.io/nginx:1", kind)))
    assert rule.status == Status.FAIL and rule.message == "images from other registries: docker.io/nginx:1"
    assert only_rule(vp.run(policy, deployment("registry.corp.example/nginx:1", kind))).status == Status.PASS


def test_autogen_controllers_can_be_chosen_or_disabled(vp):
    chosen = vp.load(POLICY + "  autogen: {podControllers: {controllers: [cronjobs]}}\n")
    assert vp.run(chosen, deployment("docker.io/x")) is None
    assert only_rule(vp.run(chosen, deployment("docker.io/x", "CronJob"))).status == Status.FAIL
    disabled = vp.load(POLICY + "  autogen: {podControllers: {controllers: []}}\n")
    assert vp.run(disabled, deployment("docker.io/x", "CronJob")) is None


def test_autogen_keeps_the_namespace_path(vp):
    policy = vp.load(_one_validation("  - expression: \"object.metadata.namespace == 'shop' && "
                                     "object.metadata.labels.app == 'web'\"\n"))
    assert only_rule(vp.run(policy, deployment("x"))).status == Status.PASS


# -- exceptions --------------------------------------------------------------------------------------------

def exception(name, condition, *, kind="ValidatingPolicy", extra="", labels=""):
    return f"""apiVersion: policies.kyverno.io/v1
kind: PolicyException
metadata: {{name: {name}, namespace: platform{labels}}}
spec:
  policyRefs: [{{name: restrict-registries, kind: {kind}}}]
  matchConditions:
  - {{name: c, expression: "{condition}"}}
{extra}"""


def test_a_matching_exception_skips_before_match_conditions(vp):
    policy = vp.load(POLICY + "  matchConditions:\n  - {name: never, expression: 'false'}\n")
    rule = only_rule(vp.run(policy, pod("docker.io/x", name="legacy"),
                            exceptions=[exception("legacy-app", "object.metadata.name == 'legacy'")]))
    assert (rule.status, rule.name) == (Status.SKIP, "exception")
    assert rule.message == "rule is skipped due to policy exception: platform/legacy-app"
    assert rule.exception == "platform/legacy-app"


def test_an_exception_for_another_kind_or_resource_does_not_apply(vp):
    policy = vp.load(POLICY)
    other_kind = exception("e", "true", kind="NamespacedValidatingPolicy")
    other_pod = exception("e2", "object.metadata.name == 'legacy'")
    assert only_rule(vp.run(policy, pod("docker.io/x"), exceptions=[other_kind, other_pod])).status == Status.FAIL


def test_report_result_pass_and_priority(vp):
    policy = vp.load(POLICY)
    low = exception("low", "true", extra="  reportResult: pass\n")
    high = exception("high", "true", labels=", labels: {'polex.kyverno.io/priority': '10'}")
    rule = only_rule(vp.run(policy, pod("docker.io/x"), exceptions=[low, high]))
    assert rule.status == Status.SKIP
    assert rule.message == "rule is skipped due to policy exception: platform/low, platform/high"
    rule = only_rule(vp.run(policy, pod("docker.io/x"), exceptions=[low]))
    assert (rule.status, rule.message) == (Status.PASS, "rule is passed due to policy exception: platform/low")


def test_partial_exception_exposes_allowed_images(vp):
    policy = vp.load(_one_validation(
        "  - expression: \"object.spec.containers.all(c, c.image.startsWith('registry.corp.example/') || "
        "c.image in exceptions.allowedImages)\"\n"))
    partial = exception("vendor", "true", extra="  images: ['docker.io/vendor/agent:2']\n")
    assert only_rule(vp.run(policy, pod("docker.io/vendor/agent:2"), exceptions=[partial])).status == Status.PASS
    assert only_rule(vp.run(policy, pod("docker.io/vendor/agent:3"), exceptions=[partial])).status == Status.FAIL
    assert only_rule(vp.run(policy, pod("docker.io/vendor/agent:2"))).status == Status.FAIL


def test_an_exception_condition_error_is_an_error_unless_another_exempts(vp):
    policy = vp.load(POLICY)
    broken = exception("broken", "object.metadata.labels.team == 'x'")
    rule = only_rule(vp.run(policy, pod("docker.io/x"), exceptions=[broken]))
    assert rule.status == Status.ERROR and "no such key: labels" in rule.message
    rule = only_rule(vp.run(policy, pod("docker.io/x"), exceptions=[broken, exception("all", "true")]))
    assert rule.status == Status.SKIP


def test_json_mode_exceptions(vp):
    policy = vp.load(JSON_POLICY.replace("plan-encrypted-volumes", "restrict-registries"))
    skip = exception("sandbox", "object.?workspace.orValue('') == 'sandbox'")
    plan = {"workspace": "sandbox", "planned_values": {"volumes": [{"encrypted": False}]}}
    assert only_rule(vp.run(policy, plan, payload=True, exceptions=[skip])).status == Status.SKIP


NUL_POLICY = """apiVersion: policies.kyverno.io/v1
kind: ValidatingPolicy
metadata: {name: exact-annotation}
spec:
  matchConstraints:
    resourceRules:
    - apiGroups: [""]
      apiVersions: [v1]
      operations: [CREATE, UPDATE]
      resources: [pods]
  validations:
  - expression: "object.metadata.?annotations.?note.orValue('') != 'a'"
    message: "note must not be a"
"""


def test_a_nul_in_an_input_string_is_an_error_not_a_shorter_string(vp):
    # the runtime's conversion would cut "a\u0000b" to "a": the policy would then fail a Pod it should pass
    resource = pod("registry.corp.example/shop:1.2")
    resource["metadata"]["annotations"] = {"note": "a\u0000b"}
    rule = only_rule(vp.run(vp.load(NUL_POLICY), resource))
    assert rule.status == Status.ERROR
    assert "NUL character" in rule.message and "object.metadata.annotations.note" in rule.message
    resource["metadata"]["annotations"] = {"note": "ab"}
    assert only_rule(vp.run(vp.load(NUL_POLICY), resource)).status == Status.PASS


def test_a_nul_in_a_map_key_is_an_error(vp):
    resource = pod("registry.corp.example/shop:1.2")
    resource["metadata"]["labels"] = {"x\u0000y": "1"}
    rule = only_rule(vp.run(vp.load(NUL_POLICY), resource))
    assert rule.status == Status.ERROR and "a key of object.metadata.labels" in rule.message
