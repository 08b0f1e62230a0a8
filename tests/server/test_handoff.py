"""The webhook's generate hand-off: which rules an admitted request concerns (generate, or delete the
downstream), and the UpdateRequest written with backoff."""
from __future__ import annotations

from verno.core.engine import Engine
from verno.core.loading import Document, validate_model
from verno.core.models.policy import Policy
from verno.core.request import Request
from verno.core.updaterequest import contexts_of
from verno.server.handoff import HandOff, rule_contexts


def prepared(rule: dict, name: str = "gen", namespace: str = "", **spec) -> object:
    kind = "Policy" if namespace else "ClusterPolicy"
    doc = {"apiVersion": "kyverno.io/v1", "kind": kind, "metadata": {"name": name, "namespace": namespace},
           "spec": {**spec, "rules": [rule]}}
    return Engine().prepare(validate_model(Policy, Document("p", 0, doc)))


def rule(sync: bool = True, operations: list[str] | None = None) -> dict:
    resources: dict = {"kinds": ["ConfigMap"], "selector": {"matchLabels": {"gen": "yes"}}}
    if operations:
        resources["operations"] = operations
    return {"name": "copy", "match": {"any": [{"resources": resources}]},
            "generate": {"apiVersion": "v1", "kind": "Secret", "name": "s", "namespace": "{{request.namespace}}",
                         "synchronize": sync, "data": {"data": {}}}}


def cm(labels: dict | None = None, name: str = "c") -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "team", "uid": "u-1", "labels": labels or {}}}


def only(work: dict) -> tuple:
    ((key, contexts),) = work.items()
    ((ctx),) = contexts
    return key, ctx


def test_matching_create_and_update_generate():
    p = prepared(rule())
    for op in ("CREATE", "UPDATE"):
        key, ctx = only(rule_contexts([p], Request(cm({"gen": "yes"}), cm({"gen": "yes"}) if op == "UPDATE" else None,
                                                    op)))
        assert key == "gen" and ctx.rule == "copy" and not ctx.delete_downstream and ctx.synchronize
        assert ctx.trigger.uid == "u-1" and ctx.trigger.kind == "ConfigMap" and ctx.trigger.namespace == "team"


def test_unrelated_objects_make_no_work():
    p = prepared(rule())
    assert rule_contexts([p], Request(cm(), None, "CREATE")) == {}
    assert rule_contexts([p], Request(cm(), cm(), "UPDATE")) == {}
    assert rule_contexts([p], Request({}, cm(), "DELETE")) == {}


def test_trigger_that_stops_matching_or_is_deleted_deletes_synchronized_downstream():
    p = prepared(rule())
    _, ctx = only(rule_contexts([p], Request(cm(), cm({"gen": "yes"}), "UPDATE")))
    assert ctx.delete_downstream
    _, ctx = only(rule_contexts([p], Request({}, cm({"gen": "yes"}), "DELETE")))
    assert ctx.delete_downstream and ctx.trigger.uid == "u-1"
    assert rule_contexts([prepared(rule(sync=False))], Request({}, cm({"gen": "yes"}), "DELETE")) == {}


def test_a_rule_listing_delete_generates_on_delete():
    p = prepared(rule(operations=["DELETE"]))
    _, ctx = only(rule_contexts([p], Request({}, cm({"gen": "yes"}), "DELETE")))
    assert not ctx.delete_downstream


def test_dry_run_and_other_namespaces_and_admission_false_make_no_work():
    assert rule_contexts([prepared(rule())], Request(cm({"gen": "yes"}), None, "CREATE", dry_run=True)) == {}
    assert rule_contexts([prepared(rule(), namespace="other")], Request(cm({"gen": "yes"}))) == {}
    assert rule_contexts([prepared(rule(), admission=False)], Request(cm({"gen": "yes"}))) == {}
    key, _ = only(rule_contexts([prepared(rule(), namespace="team")], Request(cm({"gen": "yes"}))))
    assert key == "team/gen"


def test_write_retries_with_backoff_then_gives_up():
    posted, slept = [], []
    failures = iter([RuntimeError("down"), RuntimeError("down"), None])

    def post(path, body):
        error = next(failures)
        if error:
            raise error
        posted.append((path, body))

    handoff = HandOff(post, "verno", sleep=slept.append)
    admission = {"uid": "r1", "operation": "CREATE", "userInfo": {"username": "alice"}, "object": cm({"gen": "yes"})}
    handoff._run((prepared(rule()),), Request(cm({"gen": "yes"})), admission)
    assert slept == [0.5, 1.0] and handoff.written == 1
    ((path, body),) = posted
    assert path == "/apis/kyverno.io/v2/namespaces/verno/updaterequests"
    assert body["metadata"]["generateName"] == "ur-" and body["metadata"]["namespace"] == "verno"
    assert body["metadata"]["labels"] == {"generate.kyverno.io/policy-name": "gen"}
    assert body["spec"]["requestType"] == "generate" and body["spec"]["policy"] == "gen"
    assert body["spec"]["context"]["admissionRequestInfo"] == {"admissionRequest": admission, "operation": "CREATE"}
    assert body["spec"]["context"]["userInfo"]["userInfo"] == {"username": "alice"}
    assert [c.rule for c in contexts_of(body)] == ["copy"]

    never = HandOff(lambda path, body: (_ for _ in ()).throw(RuntimeError("down")), "verno", sleep=slept.append)
    never._run((prepared(rule()),), Request(cm({"gen": "yes"})), admission)
    assert never.written == 0 and never.lost == 1
    handoff.close()
    never.close()


def test_the_controllers_own_requests_trigger_only_rules_that_ask_for_them():
    controller = "system:serviceaccount:verno:verno-controller"
    request = Request(cm({"gen": "yes"}), None, "CREATE", {"username": controller})
    assert rule_contexts([prepared(rule())], request, controller) == {}
    chained = rule()
    chained["skipBackgroundRequests"] = False
    key, _ = only(rule_contexts([prepared(chained)], request, controller))
    assert key == "gen"
    other = Request(cm({"gen": "yes"}), None, "CREATE", {"username": "alice"})
    assert only(rule_contexts([prepared(rule())], other, controller))[0] == "gen"
