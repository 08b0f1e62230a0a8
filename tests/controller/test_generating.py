"""GeneratingPolicies through the stand-in: ``cel-generate`` UpdateRequests (as the webhook writes them)
processed by a controller into downstream objects with Kyverno's labels; synchronize (restored, deleted with
the trigger and with the policy), generateExisting; and the webhook's hand-off end to end (a dry run hands
nothing over)."""
from __future__ import annotations

import base64
import sys
import time
from pathlib import Path

import pytest
from kubernetes import client

from controller.harness import NAMESPACE, wait_for
from verno.core.updaterequest import CEL_GENERATE, RuleContext, TriggerRef, generate_request

SERVER_TESTS = str(Path(__file__).resolve().parents[1] / "server")
if SERVER_TESTS not in sys.path:
    sys.path.insert(0, SERVER_TESTS)

from serverproc import VernoServer  # noqa: E402

URS = ("kyverno.io", "v2", NAMESPACE, "updaterequests")
GPOLS = ("policies.kyverno.io", "v1", "generatingpolicies")

#: a namespace labelled team=... gets a ConfigMap naming its team
CONFIGMAP = ("generator.Apply(object.metadata.name, [{'apiVersion': 'v1', 'kind': 'ConfigMap', "
             "'metadata': {'name': 'team-settings'}, 'data': {'team': object.metadata.labels.team}}])")
NETPOL = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: default-deny
  namespace: (( object.metadata.name ))
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
"""


def gpol(name: str = "team-config", *, synchronize: bool = False, generate_existing: bool = False,
         template: bool = False) -> dict:
    generate = {"template": {"value": NETPOL, "interpolate": "cel"}} if template else {"expression": CONFIGMAP}
    return {"apiVersion": "policies.kyverno.io/v1", "kind": "GeneratingPolicy", "metadata": {"name": name},
            "spec": {"matchConstraints": {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"],
                                                             "operations": ["CREATE", "UPDATE"],
                                                             "resources": ["namespaces"]}]},
                     "matchConditions": [{"name": "has-team", "expression": "has(object.metadata.labels.team)"}],
                     "evaluation": {"synchronize": {"enabled": synchronize},
                                    "generateExisting": {"enabled": generate_existing}},
                     "generate": [generate]}}


def namespace(server, name: str, **labels: str) -> dict:
    return server.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}})


def request_for(server, policy: str, trigger: dict, *, delete: bool = False, sync: bool = False,
                operation: str = "CREATE") -> dict:
    """The UpdateRequest the webhook writes for ``trigger``."""
    trigger = {"apiVersion": "v1", "kind": "Namespace", **trigger}
    admission = {"uid": "u1", "operation": operation, "userInfo": {"username": "alice"},
                 "object": None if operation == "DELETE" else trigger,
                 "oldObject": trigger if operation == "DELETE" else None}
    body = generate_request(policy, [RuleContext(policy.rpartition("/")[2], TriggerRef.of(trigger), delete, sync)],
                            NAMESPACE, admission_request=admission, kind=CEL_GENERATE)
    return server.create(body)


def settings_of(server, ns: str):
    return server.get("v1", "ConfigMap", "team-settings", ns)


_clients: dict = {}


def _api(server):
    if server.url not in _clients:
        from kubernetes import config
        configuration = client.Configuration()
        config.load_kube_config(config_file=str(server.kubeconfig), client_configuration=configuration)
        _clients[server.url] = client.ApiClient(configuration)
    return _clients[server.url]


def requests_left(server) -> list:
    return client.CustomObjectsApi(_api(server)).list_namespaced_custom_object(*URS)["items"]


def test_a_namespace_gets_the_generated_configmap_with_kyvernos_labels(cluster, controllers):
    cluster.create(gpol())
    controllers()
    team = namespace(cluster, "team-a", team="blue")
    request_for(cluster, "team-config", team)
    made = wait_for(lambda: settings_of(cluster, "team-a"), what="ConfigMap team-a/team-settings")
    assert made["data"] == {"team": "blue"}
    labels = made["metadata"]["labels"]
    assert labels["app.kubernetes.io/managed-by"] == "kyverno"
    assert labels["generate.kyverno.io/policy-name"] == "team-config"
    assert labels["generate.kyverno.io/trigger-kind"] == "Namespace"
    assert labels["generate.kyverno.io/trigger-name"] == "team-a"
    assert labels["generate.kyverno.io/trigger-uid"] == team["metadata"]["uid"]
    assert labels["generate.kyverno.io/trigger-version"] == "v1"
    assert "generate.kyverno.io/rule-name" not in labels
    wait_for(lambda: not requests_left(cluster), what="the finished UpdateRequest deleted")


def test_a_policy_whose_conditions_do_not_hold_generates_nothing(cluster, controllers):
    cluster.create(gpol())
    controllers()
    request_for(cluster, "team-config", namespace(cluster, "plain"))
    wait_for(lambda: not requests_left(cluster), what="the request completed")
    assert settings_of(cluster, "plain") is None


def test_synchronized_downstream_is_restored_and_deleted_with_its_trigger(cluster, controllers):
    cluster.create(gpol("default-deny", synchronize=True, template=True))
    controllers()
    team = namespace(cluster, "probe", team="red")
    request_for(cluster, "default-deny", team, sync=True)

    def netpol():
        return cluster.get("networking.k8s.io/v1", "NetworkPolicy", "default-deny", "probe")

    wait_for(netpol, what="NetworkPolicy probe/default-deny")
    net = client.NetworkingV1Api(_api(cluster))
    net.delete_namespaced_network_policy("default-deny", "probe")
    wait_for(netpol, what="deleted downstream recreated")
    net.patch_namespaced_network_policy("default-deny", "probe", {"spec": {"policyTypes": ["Ingress"]}})
    wait_for(lambda: netpol()["spec"]["policyTypes"] == ["Ingress", "Egress"], what="edited downstream reverted")
    # the trigger deleted: the webhook hands the deletion of its downstream over
    client.CoreV1Api(_api(cluster)).delete_namespace("probe")
    request_for(cluster, "default-deny", team, delete=True, sync=True, operation="DELETE")
    wait_for(lambda: netpol() is None, what="downstream deleted with its trigger")


def test_server_side_apply_keeps_what_another_manager_added(cluster, controllers):
    """``useServerSideApply``: the downstream is applied as ``kyverno-generate`` (force), so a key another
    writer added survives a re-sync, where a PUT would drop it."""
    policy = gpol(synchronize=True)
    policy["spec"]["useServerSideApply"] = True
    cluster.create(policy)
    controllers()
    core = client.CoreV1Api(_api(cluster))
    team = namespace(cluster, "t", team="a")
    request_for(cluster, "team-config", team, sync=True)
    wait_for(lambda: settings_of(cluster, "t"), what="ConfigMap t/team-settings")
    core.patch_namespaced_config_map("team-settings", "t", {"data": {"extra": "kept"}})
    core.patch_namespace("t", {"metadata": {"labels": {"team": "b"}}})
    request_for(cluster, "team-config", team, sync=True, operation="UPDATE")
    wait_for(lambda: settings_of(cluster, "t")["data"].get("team") == "b", what="the new team synchronized")
    assert settings_of(cluster, "t")["data"] == {"team": "b", "extra": "kept"}
    writes = [verb for verb, path in list(cluster.audit) if path.endswith("/configmaps/team-settings")
              and verb in ("POST", "PUT", "PATCH")]
    # verno's apply that made it, the other writer's patch, verno's re-sync(s); never a POST or a PUT
    assert set(writes) == {"PATCH"} and len(writes) >= 3
    create = [verb for verb, path in list(cluster.audit) if path.endswith("/namespaces/t/configmaps")]
    assert "POST" not in create


def test_after_a_restart_the_downstream_kinds_are_found_and_watched(cluster, controllers):
    """A restarted controller has written nothing yet, and CEL decides the kinds: it finds the kinds holding
    downstream objects in the cluster, so a deleted NetworkPolicy is restored without any new write first."""
    cluster.create(gpol("default-deny", synchronize=True, template=True))
    first = controllers()
    team = namespace(cluster, "probe", team="red")
    request_for(cluster, "default-deny", team, sync=True)

    def netpol():
        return cluster.get("networking.k8s.io/v1", "NetworkPolicy", "default-deny", "probe")

    wait_for(netpol, what="NetworkPolicy probe/default-deny")
    first.stop()
    second = controllers()
    wait_for(lambda: ("networking.k8s.io/v1", "NetworkPolicy") in second.controller.cel_generator.watched,
             what="the NetworkPolicy kind found and watched")
    client.NetworkingV1Api(_api(cluster)).delete_namespaced_network_policy("default-deny", "probe")
    wait_for(netpol, what="deleted downstream restored by the restarted controller")


def test_unsynchronized_downstream_stays_deleted(cluster, controllers):
    cluster.create(gpol())
    controllers()
    request_for(cluster, "team-config", namespace(cluster, "one", team="a"))
    wait_for(lambda: settings_of(cluster, "one"))
    client.CoreV1Api(_api(cluster)).delete_namespaced_config_map("team-settings", "one")
    request_for(cluster, "team-config", namespace(cluster, "two", team="b"))
    wait_for(lambda: settings_of(cluster, "two"))
    time.sleep(0.5)
    assert settings_of(cluster, "one") is None


def test_generate_existing_on_policy_creation(cluster, controllers):
    namespace(cluster, "old-a", team="green")
    namespace(cluster, "old-b")
    controllers()
    cluster.create(gpol(generate_existing=True))
    made = wait_for(lambda: settings_of(cluster, "old-a"), what="ConfigMap for the existing namespace")
    assert made["data"] == {"team": "green"}
    wait_for(lambda: not requests_left(cluster), what="requests completed")
    assert settings_of(cluster, "old-b") is None


def test_the_periodic_scan_generates_for_triggers_no_request_reached(cluster, controllers):
    """A trigger admitted while no webhook handed it over (verno down) is generated for at the next periodic
    pass, as Kyverno re-enqueues generateExisting policies every background scan interval."""
    namespace(cluster, "old", team="green")
    cluster.create(gpol(generate_existing=True))
    controllers(scan_interval=0.5)
    wait_for(lambda: settings_of(cluster, "old"), what="the policy's first generateExisting pass")
    namespace(cluster, "missed", team="blue")  # no webhook: no UpdateRequest for it
    made = wait_for(lambda: settings_of(cluster, "missed"), timeout=15, what="ConfigMap from the periodic pass")
    assert made["data"] == {"team": "blue"}


def test_without_generate_existing_existing_triggers_get_nothing(cluster, controllers):
    namespace(cluster, "old-a", team="green")
    controllers()
    cluster.create(gpol())
    request_for(cluster, "team-config", namespace(cluster, "new", team="x"))  # shows the controller working
    wait_for(lambda: settings_of(cluster, "new"))
    time.sleep(0.3)
    assert settings_of(cluster, "old-a") is None


def test_a_deleted_synchronized_policy_deletes_its_downstream(cluster, controllers):
    cluster.create(gpol(synchronize=True))
    controllers()
    request_for(cluster, "team-config", namespace(cluster, "t", team="a"), sync=True)
    wait_for(lambda: settings_of(cluster, "t"))
    client.CustomObjectsApi(_api(cluster)).delete_cluster_custom_object(*GPOLS, "team-config")
    wait_for(lambda: settings_of(cluster, "t") is None, what="downstream deleted with the policy")


def test_a_record_given_up_is_an_event_on_the_generating_policy(cluster, controllers):
    cluster.create(gpol())
    controllers()
    ghost = {"metadata": {"name": "ghost", "uid": "gone", "labels": {"team": "x"}}}  # never in the cluster
    request_for(cluster, "team-config", ghost)
    event = wait_for(lambda: [e for e in cluster.store.items(("", "events"))[0]
                              if "failed after" in e.get("message", "")], what="the give-up Event")[0]
    assert event["involvedObject"]["kind"] == "GeneratingPolicy"
    assert event["involvedObject"]["name"] == "team-config"
    assert "trigger Namespace/ghost (uid gone) not found" in event["message"]


@pytest.fixture
def webhook(cluster, api_client, tmp_path):
    client.CustomObjectsApi(api_client).create_cluster_custom_object(*GPOLS, gpol())
    server = VernoServer(tmp_path, ["--kubeconfig", str(cluster.kubeconfig), "--timeout", "5"],
                         env={"POD_NAMESPACE": NAMESPACE})
    try:
        server.wait_ready()
        hook = {"name": "validate.verno.svc-ignore", "failurePolicy": "Ignore", "sideEffects": "NoneOnDryRun",
                "admissionReviewVersions": ["v1"], "timeoutSeconds": 10,
                "clientConfig": {"url": f"{server.base}/validate/ignore",
                                 "caBundle": base64.b64encode(server.cert_pem).decode()},
                "rules": [{"operations": ["CREATE", "UPDATE", "DELETE"], "apiGroups": [""], "apiVersions": ["v1"],
                           "resources": ["namespaces"]}]}
        client.AdmissionregistrationV1Api(api_client).create_validating_webhook_configuration(
            {"metadata": {"name": "verno-resource-validating-webhook-cfg"}, "webhooks": [hook]})
        yield server
    finally:
        server.stop()


def test_the_webhook_hands_generating_policy_work_over(cluster, kubectl, webhook, controllers):
    kubectl("create", "namespace", "dry", "--dry-run=server", "-o", "name")
    kubectl("create", "namespace", "plain")  # the match condition does not hold
    kubectl("create", "namespace", "blue")
    time.sleep(0.5)
    assert requests_left(cluster) == []
    kubectl("label", "namespace", "blue", "team=blue")  # an UPDATE the policy concerns
    (record,) = wait_for(lambda: requests_left(cluster), what="the hand-off record")
    assert record["spec"]["requestType"] == "cel-generate" and record["spec"]["policy"] == "team-config"
    assert record["metadata"]["labels"] == {"generate.kyverno.io/policy-name": "team-config"}
    assert record["spec"]["context"]["admissionRequestInfo"]["operation"] == "UPDATE"
    controllers()
    made = wait_for(lambda: settings_of(cluster, "blue"), what="ConfigMap blue/team-settings")
    assert made["data"] == {"team": "blue"}
    wait_for(lambda: not requests_left(cluster), what="requests completed")
    assert settings_of(cluster, "plain") is None
