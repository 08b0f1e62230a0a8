"""Generate through the stand-in: UpdateRequests (as the webhook writes them) processed by a controller
into downstream objects with Kyverno's labels; synchronize, generateExisting, deletion, retries, restarts."""
from __future__ import annotations

import time

from kubernetes import client

from controller.harness import NAMESPACE, wait_for
from controller.policies import NETPOL, clone_secret, cluster_policy, default_deny
from verno.core.updaterequest import RuleContext, TriggerRef, generate_request

URS = ("kyverno.io", "v2", NAMESPACE, "updaterequests")


def namespace(server, name: str, **labels: str) -> dict:
    return server.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}})


def request_for(server, policy: str, rule: str, trigger: dict, *, delete: bool = False, sync: bool = True,
                operation: str = "CREATE") -> dict:
    """The UpdateRequest the webhook writes for ``trigger``."""
    trigger = {"apiVersion": "v1", "kind": "Namespace", **trigger}
    admission = {"uid": "u1", "operation": operation, "userInfo": {"username": "alice"},
                 "object": None if operation == "DELETE" else trigger,
                 "oldObject": trigger if operation == "DELETE" else None}
    body = generate_request(policy, [RuleContext(rule, TriggerRef.of(trigger), delete, sync)], NAMESPACE,
                            admission_request=admission)
    return server.create(body)


def netpol(server, ns: str):
    return server.get("networking.k8s.io/v1", "NetworkPolicy", "default-deny", ns)


def no_requests_left(server) -> bool:
    return not client.CustomObjectsApi(_api(server)).list_namespaced_custom_object(*URS)["items"]


_clients: dict = {}


def _api(server):
    if server.url not in _clients:
        from kubernetes import config
        configuration = client.Configuration()
        config.load_kube_config(config_file=str(server.kubeconfig), client_configuration=configuration)
        _clients[server.url] = client.ApiClient(configuration)
    return _clients[server.url]


def test_data_rule_generates_with_kyverno_labels_and_the_request_is_cleaned_up(cluster, controllers):
    cluster.create(NETPOL)
    controllers()
    probe = namespace(cluster, "probe")
    started = time.monotonic()
    request_for(cluster, "add-networkpolicy", "default-deny", probe)
    made = wait_for(lambda: netpol(cluster, "probe"), what="NetworkPolicy probe/default-deny")
    elapsed = time.monotonic() - started
    assert made["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    labels = made["metadata"]["labels"]
    assert labels["app.kubernetes.io/managed-by"] == "kyverno"
    assert labels["generate.kyverno.io/policy-name"] == "add-networkpolicy"
    assert labels["generate.kyverno.io/policy-namespace"] == ""
    assert labels["generate.kyverno.io/rule-name"] == "default-deny"
    assert labels["generate.kyverno.io/trigger-kind"] == "Namespace"
    assert labels["generate.kyverno.io/trigger-group"] == ""
    assert labels["generate.kyverno.io/trigger-version"] == "v1"
    assert labels["generate.kyverno.io/trigger-uid"] == probe["metadata"]["uid"]
    wait_for(lambda: no_requests_left(cluster), what="the finished UpdateRequest deleted")
    assert elapsed < 5


def test_clone_copies_the_source_and_marks_it(cluster, controllers):
    cluster.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "regcred", "namespace": "default",
                                                                      "labels": {"team": "ops"}},
                    "type": "Opaque", "data": {"token": "c2VjcmV0"}})
    cluster.create(cluster_policy("sync-secret", clone_secret()))
    controllers()
    team = namespace(cluster, "team-a")
    request_for(cluster, "sync-secret", "clone-regcred", team)
    copy = wait_for(lambda: cluster.get("v1", "Secret", "regcred", "team-a"), what="cloned Secret")
    assert copy["data"] == {"token": "c2VjcmV0"}
    labels = copy["metadata"]["labels"]
    assert labels["team"] == "ops"
    assert labels["generate.kyverno.io/source-kind"] == "Secret"
    assert labels["generate.kyverno.io/source-namespace"] == "default"
    assert labels["generate.kyverno.io/trigger-uid"] == team["metadata"]["uid"]
    source = cluster.get("v1", "Secret", "regcred", "default")
    assert wait_for(lambda: "generate.kyverno.io/clone-source" in
                    (cluster.get("v1", "Secret", "regcred", "default")["metadata"].get("labels") or {}))
    assert source["metadata"]["uid"] != copy["metadata"]["uid"]


def test_synchronized_downstream_deleted_or_edited_is_restored(cluster, controllers):
    cluster.create(NETPOL)
    controllers()
    request_for(cluster, "add-networkpolicy", "default-deny", namespace(cluster, "probe"))
    wait_for(lambda: netpol(cluster, "probe"))
    net = client.NetworkingV1Api(_api(cluster))
    net.delete_namespaced_network_policy("default-deny", "probe")
    started = time.monotonic()
    wait_for(lambda: netpol(cluster, "probe"), what="deleted downstream recreated")
    recreated = time.monotonic() - started
    net.patch_namespaced_network_policy("default-deny", "probe", {"spec": {"policyTypes": ["Ingress"]}})
    wait_for(lambda: netpol(cluster, "probe")["spec"]["policyTypes"] == ["Ingress", "Egress"],
             what="edited downstream reverted")
    assert recreated < 5


def test_server_side_apply_reverts_an_edit_and_keeps_what_another_writer_added(cluster, controllers):
    """``spec.useServerSideApply``: written by server-side apply (never POST or PUT); an edit of a field the
    rule sets is reverted, a label another writer added stays."""
    cluster.create(cluster_policy("add-networkpolicy", default_deny(), useServerSideApply=True))
    controllers()
    request_for(cluster, "add-networkpolicy", "default-deny", namespace(cluster, "probe"))
    wait_for(lambda: netpol(cluster, "probe"))
    net = client.NetworkingV1Api(_api(cluster))
    net.patch_namespaced_network_policy("default-deny", "probe", {"metadata": {"labels": {"owner": "ops"}},
                                                                  "spec": {"policyTypes": ["Ingress"]}})
    wait_for(lambda: netpol(cluster, "probe")["spec"]["policyTypes"] == ["Ingress", "Egress"],
             what="edited downstream reverted")
    assert netpol(cluster, "probe")["metadata"]["labels"]["owner"] == "ops"
    writes = {verb for verb, path in list(cluster.audit) if "/networkpolicies" in path and verb in ("POST", "PUT")}
    assert writes == set()


def test_unsynchronized_downstream_stays_deleted(cluster, controllers):
    cluster.create(cluster_policy("add-networkpolicy", default_deny(synchronize=False)))
    controllers()
    request_for(cluster, "add-networkpolicy", "default-deny", namespace(cluster, "probe"), sync=False)
    wait_for(lambda: netpol(cluster, "probe"))
    client.NetworkingV1Api(_api(cluster)).delete_namespaced_network_policy("default-deny", "probe")
    # another trigger processed after the deletion shows the controller was working meanwhile
    request_for(cluster, "add-networkpolicy", "default-deny", namespace(cluster, "other"), sync=False)
    wait_for(lambda: netpol(cluster, "other"))
    time.sleep(0.5)
    assert netpol(cluster, "probe") is None


def test_deleted_trigger_deletes_its_downstream(cluster, controllers):
    cluster.create(NETPOL)
    controllers()
    probe = namespace(cluster, "probe")
    request_for(cluster, "add-networkpolicy", "default-deny", probe)
    wait_for(lambda: netpol(cluster, "probe"))
    # what the webhook writes for the DELETE of the trigger (a synchronized rule)
    request_for(cluster, "add-networkpolicy", "default-deny", probe, delete=True, operation="DELETE")
    wait_for(lambda: netpol(cluster, "probe") is None, what="downstream deleted with its trigger")


def test_generate_existing_makes_downstream_for_triggers_already_there(cluster, controllers):
    for name in ("team-a", "team-b"):
        namespace(cluster, name, env="dev")
    namespace(cluster, "team-c", env="prod")
    rule = default_deny()
    rule["match"] = {"any": [{"resources": {"kinds": ["Namespace"], "selector": {"matchLabels": {"env": "dev"}}}}]}
    rule["generate"]["generateExisting"] = True
    controllers()
    cluster.create(cluster_policy("add-networkpolicy", rule))
    wait_for(lambda: netpol(cluster, "team-a") and netpol(cluster, "team-b"), what="generated for existing")
    time.sleep(0.3)
    assert netpol(cluster, "team-c") is None


def test_policy_deletion_deletes_or_orphans_downstream(cluster, controllers):
    orphan = default_deny()
    orphan["name"] = "keep"
    orphan["generate"].update(name="keep", orphanDownstreamOnPolicyDelete=True)
    cluster.create(cluster_policy("add-networkpolicy", default_deny(), orphan))
    controllers()
    probe = namespace(cluster, "probe")
    request_for(cluster, "add-networkpolicy", "default-deny", probe)
    request_for(cluster, "add-networkpolicy", "keep", probe)
    wait_for(lambda: netpol(cluster, "probe") and cluster.get("networking.k8s.io/v1", "NetworkPolicy", "keep", "probe"))
    client.CustomObjectsApi(_api(cluster)).delete_cluster_custom_object("kyverno.io", "v1", "clusterpolicies",
                                                                        "add-networkpolicy")
    wait_for(lambda: netpol(cluster, "probe") is None, what="synchronized downstream deleted with the policy")
    assert cluster.get("networking.k8s.io/v1", "NetworkPolicy", "keep", "probe") is not None


def test_changed_policy_resyncs_data_downstream(cluster, controllers):
    cluster.create(NETPOL)
    controllers()
    request_for(cluster, "add-networkpolicy", "default-deny", namespace(cluster, "probe"))
    wait_for(lambda: netpol(cluster, "probe"))
    custom = client.CustomObjectsApi(_api(cluster))
    policy = custom.get_cluster_custom_object("kyverno.io", "v1", "clusterpolicies", "add-networkpolicy")
    policy["spec"]["rules"][0]["generate"]["data"]["spec"]["policyTypes"] = ["Ingress"]
    custom.replace_cluster_custom_object("kyverno.io", "v1", "clusterpolicies", "add-networkpolicy", policy)
    wait_for(lambda: netpol(cluster, "probe")["spec"]["policyTypes"] == ["Ingress"], what="re-synced data")


def test_failing_request_is_retried_then_given_up_with_an_event(cluster, controllers):
    cluster.create(NETPOL)
    controllers()
    ghost = {"metadata": {"name": "ghost", "uid": "0000-gone"}}
    made = request_for(cluster, "add-networkpolicy", "default-deny", ghost)
    name = made["metadata"]["name"]
    custom = client.CustomObjectsApi(_api(cluster))
    seen = wait_for(lambda: (custom.list_namespaced_custom_object(*URS)["items"] or [{}])[0].get("status"),
                    what="a Failed status")
    assert seen["state"] == "Failed" and "not found in the cluster" in seen["message"]
    wait_for(lambda: no_requests_left(cluster), timeout=15, what="given-up request deleted")
    events = client.CoreV1Api(_api(cluster)).list_namespaced_event("default").items
    assert any("add-networkpolicy" == e.involved_object.name and "after 3 retries" in e.message for e in events), name


def test_requests_written_while_no_controller_runs_are_processed_later(cluster, controllers):
    cluster.create(NETPOL)
    request_for(cluster, "add-networkpolicy", "default-deny", namespace(cluster, "early"))
    first = controllers()
    wait_for(lambda: netpol(cluster, "early"))
    first.stop()
    request_for(cluster, "add-networkpolicy", "default-deny", namespace(cluster, "between"))
    time.sleep(0.3)
    assert netpol(cluster, "between") is None
    controllers()
    wait_for(lambda: netpol(cluster, "between"), timeout=15, what="processed after a restart")


def test_forbidden_create_becomes_an_event_on_the_policy(cluster, controllers):
    cluster.create(NETPOL)
    cluster.deny("create", "networking.k8s.io", "networkpolicies", "locked")
    controllers()
    request_for(cluster, "add-networkpolicy", "default-deny", namespace(cluster, "locked"))
    core = client.CoreV1Api(_api(cluster))

    def event():
        return [e for e in core.list_namespaced_event("default").items
                if e.involved_object.kind == "ClusterPolicy" and e.reason == "PolicyError"]

    found = wait_for(event, what="an Event on the policy")
    message = found[0].message
    assert found[0].involved_object.name == "add-networkpolicy" and found[0].type == "Warning"
    assert message.startswith("verno lacks permission to create NetworkPolicy in namespace locked: ")
    assert 'cannot create resource "networkpolicies"' in message


def test_existing_object_is_taken_over_with_synchronize_and_an_event_says_so(cluster, controllers):
    cluster.create(NETPOL)
    namespace_obj = namespace(cluster, "probe")
    cluster.create({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                    "metadata": {"name": "default-deny", "namespace": "probe", "labels": {"owner": "me"}},
                    "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}})
    controllers()
    request_for(cluster, "add-networkpolicy", "default-deny", namespace_obj)
    taken = wait_for(lambda: (netpol(cluster, "probe")["metadata"]["labels"].get("app.kubernetes.io/managed-by")
                              and netpol(cluster, "probe")), what="object taken over")
    assert taken["spec"]["policyTypes"] == ["Ingress", "Egress"]
    events = wait_for(lambda: [e for e in client.CoreV1Api(_api(cluster)).list_namespaced_event("default").items
                               if e.reason == "TakenOver"], what="a TakenOver event")
    assert "NetworkPolicy probe/default-deny existed without verno's labels" in events[0].message


def test_existing_object_is_left_alone_without_synchronize(cluster, controllers):
    cluster.create(cluster_policy("add-networkpolicy", default_deny(synchronize=False)))
    namespace_obj = namespace(cluster, "probe")
    mine = cluster.create({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                           "metadata": {"name": "default-deny", "namespace": "probe"},
                           "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}})
    controllers()
    request_for(cluster, "add-networkpolicy", "default-deny", namespace_obj, sync=False)
    wait_for(lambda: no_requests_left(cluster), what="request completed")
    assert netpol(cluster, "probe")["metadata"]["resourceVersion"] == mine["metadata"]["resourceVersion"]


def test_clone_list_copies_every_selected_source(cluster, controllers):
    for kind, name in (("Secret", "tls"), ("ConfigMap", "settings"), ("ConfigMap", "private")):
        labels = {"copy": "yes"} if name != "private" else {}
        cluster.create({"apiVersion": "v1", "kind": kind, "metadata": {"name": name, "namespace": "default",
                                                                       "labels": labels}, "data": {}})
    rule = {"name": "copy-all", "match": {"any": [{"resources": {"kinds": ["Namespace"]}}]},
            "generate": {"namespace": "{{request.object.metadata.name}}", "synchronize": True,
                         "cloneList": {"namespace": "default", "kinds": ["v1/Secret", "v1/ConfigMap"],
                                       "selector": {"matchLabels": {"copy": "yes"}}}}}
    cluster.create(cluster_policy("copy-all", rule))
    controllers()
    request_for(cluster, "copy-all", "copy-all", namespace(cluster, "team"))
    wait_for(lambda: cluster.get("v1", "Secret", "tls", "team") and cluster.get("v1", "ConfigMap", "settings", "team"),
             what="both selected sources cloned")
    wait_for(lambda: no_requests_left(cluster))
    assert cluster.get("v1", "ConfigMap", "private", "team") is None


def test_foreach_generates_one_object_per_element(cluster, controllers):
    rule = {"name": "per-team", "match": {"any": [{"resources": {"kinds": ["Namespace"]}}]},
            "generate": {"synchronize": True, "foreach": [{
                "list": "request.object.metadata.labels.teams | split(@, '.')",
                "apiVersion": "v1", "kind": "ConfigMap", "name": "team-{{element}}",
                "namespace": "{{request.object.metadata.name}}", "data": {"data": {"team": "{{element}}"}}}]}}
    cluster.create(cluster_policy("per-team", rule))
    controllers()
    request_for(cluster, "per-team", "per-team", namespace(cluster, "shared", teams="red.blue"))
    red = wait_for(lambda: cluster.get("v1", "ConfigMap", "team-red", "shared"), what="team-red")
    blue = wait_for(lambda: cluster.get("v1", "ConfigMap", "team-blue", "shared"), what="team-blue")
    assert red["data"] == {"team": "red"} and blue["data"] == {"team": "blue"}


def test_clone_source_changed_resyncs_and_deleted_deletes_the_downstream(cluster, controllers):
    cluster.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "regcred", "namespace": "default"},
                    "data": {"token": "b25l"}})
    cluster.create(cluster_policy("sync-secret", clone_secret()))
    controllers()
    request_for(cluster, "sync-secret", "clone-regcred", namespace(cluster, "team-a"))
    wait_for(lambda: cluster.get("v1", "Secret", "regcred", "team-a"), what="cloned Secret")
    wait_for(lambda: no_requests_left(cluster))
    core = client.CoreV1Api(_api(cluster))
    core.patch_namespaced_secret("regcred", "default", {"data": {"token": "dHdv"}})
    wait_for(lambda: cluster.get("v1", "Secret", "regcred", "team-a")["data"] == {"token": "dHdv"},
             what="the copy re-synced from its changed source")
    core.delete_namespaced_secret("regcred", "default")
    wait_for(lambda: cluster.get("v1", "Secret", "regcred", "team-a") is None,
             what="the copy deleted with its source")


def test_downstream_deleted_for_a_trigger_that_stopped_matching_stays_deleted_quietly(cluster, controllers):
    rule = {"name": "copy", "match": {"any": [{"resources": {"kinds": ["ConfigMap"],
                                                             "selector": {"matchLabels": {"copy": "yes"}}}}]},
            "generate": {"apiVersion": "v1", "kind": "ConfigMap", "name": "{{request.object.metadata.name}}-copy",
                         "namespace": "default", "synchronize": True, "data": {"data": {"a": "b"}}}}
    cluster.create(cluster_policy("copy", rule))
    running = controllers()
    trigger = cluster.create({"apiVersion": "v1", "kind": "ConfigMap",
                              "metadata": {"name": "src", "namespace": "default", "labels": {"copy": "yes"}}})
    request_for(cluster, "copy", "copy", trigger)
    wait_for(lambda: cluster.get("v1", "ConfigMap", "src-copy", "default"))
    trigger["metadata"]["labels"] = {}
    client.CoreV1Api(_api(cluster)).replace_namespaced_config_map("src", "default", trigger)
    request_for(cluster, "copy", "copy", trigger, delete=True, operation="UPDATE")  # as the webhook writes it
    wait_for(lambda: cluster.get("v1", "ConfigMap", "src-copy", "default") is None)
    time.sleep(1.0)
    assert no_requests_left(cluster)
    assert running.controller.metrics.requests.value("failed") == 0
    assert cluster.get("v1", "ConfigMap", "src-copy", "default") is None


def test_a_namespaced_policy_generates_only_in_its_own_namespace(cluster, controllers):
    namespace(cluster, "team")
    for target, name in (("team", "inside"), ("default", "outside")):
        cluster.create({"apiVersion": "kyverno.io/v1", "kind": "Policy",
                        "metadata": {"name": name, "namespace": "team"},
                        "spec": {"rules": [{"name": "cm", "match": {"any": [{"resources": {"kinds": ["ConfigMap"]}}]},
                                            "generate": {"apiVersion": "v1", "kind": "ConfigMap", "name": f"made-{name}",
                                                         "namespace": target, "data": {"data": {}}}}]}})
    running = controllers()
    trigger = cluster.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "t", "namespace": "team"}})
    for name in ("inside", "outside"):
        body = generate_request(f"team/{name}", [RuleContext("cm", TriggerRef.of(trigger))], NAMESPACE)
        cluster.create(body)
    wait_for(lambda: cluster.get("v1", "ConfigMap", "made-inside", "team"))
    wait_for(lambda: running.controller.metrics.requests.value("failed") >= 1, what="the outside request failed")
    status = wait_for(lambda: [u.get("status") for u in client.CustomObjectsApi(_api(cluster))
                               .list_namespaced_custom_object(*URS)["items"] if u.get("status")])
    assert ("a namespaced policy cannot generate resources in other namespaces, expected: team, received: default"
            in status[0]["message"])
    assert cluster.get("v1", "ConfigMap", "made-outside", "default") is None
