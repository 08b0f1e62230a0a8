"""The webhook's mutateExisting hand-off: one ``requestType: mutate`` UpdateRequest per matching rule with
targets (DELETE only for rules listing it, the controller's own requests only for rules that ask), with the
admission request and Kyverno's labels, written on the same backoff path as generate."""
from __future__ import annotations

from verno.core.request import Request
from verno.core.updaterequest import TriggerRef, mutate_request, request_type, resource_of
from verno.server.handoff import HandOff
from verno.server.mutate_handoff import mutate_work

from tests.server.test_handoff import cm, prepared
from tests.server.test_handoff import rule as generate_rule


def rule(name: str = "sync", operations: list[str] | None = None, **extra) -> dict:
    resources: dict = {"kinds": ["ConfigMap"], "selector": {"matchLabels": {"gen": "yes"}}}
    if operations:
        resources["operations"] = operations
    return {"name": name, "match": {"any": [{"resources": resources}]}, **extra,
            "mutate": {"targets": [{"apiVersion": "v1", "kind": "Secret", "namespace": "{{request.namespace}}"}],
                       "patchStrategicMerge": {"metadata": {"labels": {"synced": "yes"}}}}}


def test_each_matching_rule_is_one_record():
    p = prepared({**rule("a")}, name="mut")
    p2 = prepared(rule("b"), name="mut2")
    for op in ("CREATE", "UPDATE"):
        work = mutate_work([p, p2], Request(cm({"gen": "yes"}), cm({"gen": "yes"}) if op == "UPDATE" else None, op))
        assert [(w.policy, w.rule) for w in work] == [("mut", "a"), ("mut2", "b")]
        assert work[0].trigger == TriggerRef("v1", "ConfigMap", "team", "c", "u-1")
    assert mutate_work([p], Request(cm(), None, "CREATE")) == []
    # a mutate rule without targets is the mutating webhook's, not handed over
    plain = rule()
    del plain["mutate"]["targets"]
    assert mutate_work([prepared(plain)], Request(cm({"gen": "yes"}), None, "CREATE")) == []
    # generate rules are not mutate work
    assert mutate_work([prepared(generate_rule())], Request(cm({"gen": "yes"}), None, "CREATE")) == []


def test_delete_only_for_rules_listing_it():
    deleted = Request({}, cm({"gen": "yes"}), "DELETE")
    assert mutate_work([prepared(rule())], deleted) == []
    (work,) = mutate_work([prepared(rule(operations=["DELETE"]))], deleted)
    assert work.trigger.name == "c" and work.trigger.uid == "u-1"


def test_dry_run_other_namespaces_and_the_controllers_own_requests():
    obj = cm({"gen": "yes"})
    assert mutate_work([prepared(rule())], Request(obj, None, "CREATE", dry_run=True)) == []
    assert mutate_work([prepared(rule(), namespace="other")], Request(obj)) == []
    assert [w.policy for w in mutate_work([prepared(rule(), namespace="team")], Request(obj))] == ["team/gen"]
    controller = "system:serviceaccount:verno:verno-controller"
    own = Request(obj, None, "CREATE", {"username": controller})
    assert mutate_work([prepared(rule())], own, controller) == []
    assert len(mutate_work([prepared(rule(skipBackgroundRequests=False))], own, controller)) == 1


def test_record_shape_and_labels():
    trigger = TriggerRef("apps/v1", "Deployment", "team", "x" * 70 + "-y", "u-9")
    admission = {"uid": "r1", "operation": "UPDATE", "userInfo": {"username": "alice"}}
    body = mutate_request("team/pol", "sync", trigger, "verno", admission_request=admission)
    assert body["metadata"]["generateName"] == "ur-" and body["metadata"]["namespace"] == "verno"
    labels = body["metadata"]["labels"]
    assert labels == {"mutate.updaterequest.kyverno.io/policy-name": "pol",
                      "mutate.updaterequest.kyverno.io/trigger-name": "x" * 63,
                      "mutate.updaterequest.kyverno.io/trigger-namespace": "team",
                      "mutate.updaterequest.kyverno.io/trigger-kind": "Deployment",
                      "mutate.updaterequest.kyverno.io/trigger-apiversion": "apps-v1"}
    spec = body["spec"]
    assert spec["requestType"] == "mutate" and request_type(body) == "mutate"
    assert spec["policy"] == "team/pol" and spec["rule"] == "sync" and "ruleContext" not in spec
    assert resource_of(body) == trigger
    assert spec["context"]["admissionRequestInfo"] == {"admissionRequest": admission, "operation": "UPDATE"}


def test_hand_off_writes_generate_and_mutate_records_on_the_same_path():
    posted: list = []
    slept: list = []
    failures = iter([RuntimeError("down"), None, None])

    def post(path, body):
        error = next(failures)
        if error:
            raise error
        posted.append((path, body))

    handoff = HandOff(post, "verno", sleep=slept.append)
    admission = {"uid": "r1", "operation": "CREATE", "userInfo": {"username": "alice"}, "object": cm({"gen": "yes"})}
    handoff._run((prepared(generate_rule(), name="gen"), prepared(rule(), name="mut")), Request(cm({"gen": "yes"})),
                 admission)
    assert [body["spec"]["requestType"] for _, body in posted] == ["generate", "mutate"]
    assert {path for path, _ in posted} == {"/apis/kyverno.io/v2/namespaces/verno/updaterequests"}
    assert slept == [0.5] and handoff.written == 2
    mutate = posted[1][1]
    assert mutate["spec"]["rule"] == "sync" and mutate["spec"]["policy"] == "mut"
    assert mutate["spec"]["context"]["admissionRequestInfo"]["admissionRequest"] == admission
    handoff.close()
