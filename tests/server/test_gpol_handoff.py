"""The webhook's GeneratingPolicy hand-off: which policies an admitted request concerns (generate, or delete
the synchronized downstream), and the ``cel-generate`` UpdateRequest written."""
from __future__ import annotations

from importlib.metadata import entry_points

import pytest

from verno.core.engine import Engine
from verno.core.loading import Document
from verno.core.request import Request
from verno.core.updaterequest import contexts_of
from verno.server.gpol_handoff import GeneratingWork, generating_contexts, generating_policies
from verno.server.handoff import HandOff

EXCEPTION = "policies.kyverno.io/PolicyException"
#: reads the cluster, which the webhook's hand-off does not: the error does not matter there
CLUSTER = "generator.Apply(object.metadata.namespace, [resource.Get('v1', 'secrets', 'default', 'x')])"
NAMESPACED = "generator.Apply([{'apiVersion': 'v1', 'kind': 'ConfigMap', 'metadata': {'name': 'x'}}])"


@pytest.fixture(scope="module")
def engine() -> Engine:
    if any(ep.name == "generatingpolicy" for ep in entry_points(group="verno")):
        return Engine()
    import verno.plugins.generatingpolicy as gpol
    return Engine([("generatingpolicy", gpol)])


def gpol(engine, name="gen", *, sync=False, skip_background=None, kind="GeneratingPolicy", namespace=None):
    evaluation: dict = {"synchronize": {"enabled": sync}}
    if skip_background is not None:
        evaluation["skipBackgroundRequests"] = skip_background
    meta = {"name": name, **({"namespace": namespace} if namespace else {})}
    doc = {"apiVersion": "policies.kyverno.io/v1", "kind": kind, "metadata": meta,
           "spec": {"matchConstraints": {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"],
                                                            "operations": ["CREATE", "UPDATE"],
                                                            "resources": ["configmaps"]}]},
                    "matchConditions": [{"name": "gen", "expression": "object.metadata.?labels.?gen.orValue('') == 'yes'"}],
                    "evaluation": evaluation,
                    "generate": [{"expression": NAMESPACED if namespace else CLUSTER}]}}
    return engine.policy_kinds.kind_of("policies.kyverno.io", kind).load(Document("p", 0, doc), engine)


def cm(labels=None, name="c", namespace="team"):
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": namespace, "uid": "u-1", "labels": labels or {}}}


def work(engine, *policies, companions=None):
    return GeneratingWork(engine, tuple(policies), companions or {})


def only(out):
    ((key, contexts),) = out.items()
    (ctx,) = contexts
    return key, ctx


def test_a_matching_create_or_update_is_handed_over(engine):
    p = gpol(engine, sync=True)
    for op in ("CREATE", "UPDATE"):
        request = Request(cm({"gen": "yes"}), cm() if op == "UPDATE" else None, op)
        key, ctx = only(generating_contexts(work(engine, p), request))
        assert key == "gen" and ctx.rule == "gen" and not ctx.delete_downstream and ctx.synchronize
        assert ctx.trigger.uid == "u-1" and ctx.trigger.kind == "ConfigMap" and ctx.trigger.namespace == "team"


def test_match_conditions_and_constraints_decide(engine):
    p = gpol(engine)
    assert generating_contexts(work(engine, p), Request(cm(), None, "CREATE")) == {}
    secret = {**cm({"gen": "yes"}), "kind": "Secret"}
    assert generating_contexts(work(engine, p), Request(secret, None, "CREATE")) == {}


def test_an_exempted_trigger_is_not_handed_over(engine):
    p = gpol(engine)
    exception = {"apiVersion": "policies.kyverno.io/v1", "kind": "PolicyException",
                 "metadata": {"name": "e", "namespace": "team"},
                 "spec": {"policyRefs": [{"name": "gen", "kind": "GeneratingPolicy"}],
                          "matchConditions": [{"name": "all", "expression": "true"}]}}
    assert generating_contexts(work(engine, p, companions={EXCEPTION: [exception]}),
                               Request(cm({"gen": "yes"}), None, "CREATE")) == {}


def test_a_synchronized_trigger_that_stops_matching_or_is_deleted_deletes_its_downstream(engine):
    p = gpol(engine, sync=True)
    _, ctx = only(generating_contexts(work(engine, p), Request(cm(), cm({"gen": "yes"}), "UPDATE")))
    assert ctx.delete_downstream and ctx.trigger.uid == "u-1"
    _, ctx = only(generating_contexts(work(engine, p), Request({}, cm({"gen": "yes"}), "DELETE")))
    assert ctx.delete_downstream
    unsynced = gpol(engine)
    assert generating_contexts(work(engine, unsynced), Request({}, cm({"gen": "yes"}), "DELETE")) == {}


def test_dry_runs_hand_nothing_over(engine):
    request = Request(cm({"gen": "yes"}), None, "CREATE", dry_run=True)
    assert generating_contexts(work(engine, gpol(engine)), request) == {}


def test_the_controllers_own_requests_only_for_policies_that_ask(engine):
    user = "system:serviceaccount:verno:verno-controller"
    request = Request(cm({"gen": "yes"}), None, "CREATE", {"username": user})
    assert generating_contexts(work(engine, gpol(engine)), request, user) == {}
    key, _ = only(generating_contexts(work(engine, gpol(engine, skip_background=False)), request, user))
    assert key == "gen"


def test_a_namespaced_policy_sees_its_namespace_only(engine):
    p = gpol(engine, kind="NamespacedGeneratingPolicy", namespace="team")
    key, _ = only(generating_contexts(work(engine, p), Request(cm({"gen": "yes"}), None, "CREATE")))
    assert key == "team/gen"
    assert generating_contexts(work(engine, p), Request(cm({"gen": "yes"}, namespace="other"), None, "CREATE")) == {}


def test_generating_policies_are_found_by_stage(engine):
    p = gpol(engine)
    assert generating_policies(engine, [p]) == (p,)


def test_the_record_is_a_cel_generate_update_request(engine):
    posted = []
    handoff = HandOff(lambda path, body: posted.append((path, body)), "verno")
    admission = {"uid": "a1", "operation": "CREATE", "userInfo": {"username": "alice"}}
    handoff.offer((), Request(cm({"gen": "yes"}), None, "CREATE"), admission, work(engine, gpol(engine)))
    handoff.close()
    ((path, body),) = posted
    assert path == "/apis/kyverno.io/v2/namespaces/verno/updaterequests"
    assert body["spec"]["requestType"] == "cel-generate" and body["spec"]["policy"] == "gen"
    assert body["metadata"]["labels"] == {"generate.kyverno.io/policy-name": "gen"}
    assert body["spec"]["context"]["admissionRequestInfo"] == {"admissionRequest": admission, "operation": "CREATE"}
    assert [c.rule for c in contexts_of(body)] == ["gen"]
