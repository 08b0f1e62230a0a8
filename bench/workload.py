"""Generated workloads for the benchmarks: Deployments and ten typical validate policies."""
from __future__ import annotations

import json
import random

import yaml

#: Kubernetes binary suffixes of the memory values the generated containers carry
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30}


def _bytes(quantity: str) -> int:
    number, suffix = quantity[:-2], quantity[-2:]
    if suffix not in _BINARY or not number.isdigit():
        raise ValueError(f"the bench's expectation reads Ki/Mi/Gi quantities only, not {quantity!r}")
    return int(number) * _BINARY[suffix]


def _containers(pod_spec: dict) -> list[dict]:
    return pod_spec.get("containers") or []


#: name, rule body, and what the rule decides for a Pod (``meta``, ``spec``) in ``namespace`` (True: pass).
#: The decision is written out in plain Python, independently of verno, so that the bench can check the
#: counts ``verno apply`` prints against what the policies mean for the resources it generated.
POLICIES = [
    ("require-labels", {"validate": {"message": "label app is required", "pattern": {
        "metadata": {"labels": {"app": "?*"}}}}},
     lambda meta, spec, ns: bool((meta.get("labels") or {}).get("app"))),
    ("require-limits", {"validate": {"message": "limits required", "pattern": {"spec": {"containers": [
        {"resources": {"limits": {"memory": "?*", "cpu": "?*"}}}]}}}},
     lambda meta, spec, ns: all(c.get("resources", {}).get("limits", {}).get("memory")
                                and c.get("resources", {}).get("limits", {}).get("cpu") for c in _containers(spec))),
    ("disallow-latest", {"validate": {"message": "no latest", "pattern": {"spec": {"containers": [
        {"image": "!*:latest"}]}}}},
     lambda meta, spec, ns: not any(c["image"].endswith(":latest") for c in _containers(spec))),
    ("require-tag", {"validate": {"message": "tag required", "pattern": {"spec": {"containers": [
        {"image": "*:*"}]}}}},
     lambda meta, spec, ns: all(":" in c["image"] for c in _containers(spec))),
    ("restrict-registries", {"validate": {"message": "registry", "pattern": {"spec": {"containers": [
        {"image": "registry.example.com/* | docker.io/*"}]}}}},
     lambda meta, spec, ns: all(c["image"].startswith(("registry.example.com/", "docker.io/"))
                                for c in _containers(spec))),
    ("memory-max", {"validate": {"message": "memory <= 2Gi", "pattern": {"spec": {"containers": [
        {"=(resources)": {"=(limits)": {"=(memory)": "<=2Gi"}}}]}}}},
     lambda meta, spec, ns: all(_bytes(c.get("resources", {}).get("limits", {}).get("memory", "0Mi")) <= 2 * 2**30
                                for c in _containers(spec))),
    ("no-privileged", {"validate": {"message": "no privileged", "pattern": {"spec": {"containers": [
        {"=(securityContext)": {"=(privileged)": "false"}}]}}}},
     lambda meta, spec, ns: not any(c.get("securityContext", {}).get("privileged") for c in _containers(spec))),
    ("no-host-network", {"validate": {"message": "no host network", "pattern": {"spec": {
        "=(hostNetwork)": False}}}},
     lambda meta, spec, ns: not spec.get("hostNetwork")),
    # request.namespace, not request.object.metadata.namespace: autogen rewrites request.object.metadata
    # to request.object.spec.template.metadata for a Pod controller, and a Pod template has no namespace
    # (Kyverno reports the rule as an error then)
    ("deny-default-ns", {"validate": {"message": "not in default", "deny": {"conditions": {"any": [
        {"key": "{{request.namespace}}", "operator": "Equals", "value": "default"}]}}}},
     lambda meta, spec, ns: ns != "default"),
    ("image-pull-policy", {"validate": {"message": "pull policy", "foreach": [
        {"list": "request.object.spec.containers", "deny": {"conditions": {"all": [
            {"key": "{{ element.imagePullPolicy || 'IfNotPresent' }}", "operator": "AnyNotIn",
             "value": ["IfNotPresent", "Always"]}]}}}]}},
     lambda meta, spec, ns: all(c.get("imagePullPolicy", "IfNotPresent") in ("IfNotPresent", "Always")
                                for c in _containers(spec))),
]

#: the kinds whose Pod template the autogen rules read (one autogen rule per policy applies to each)
POD_TEMPLATE_KINDS = {"Deployment", "DaemonSet", "StatefulSet", "ReplicaSet", "Job", "ReplicationController"}


def expected_results(docs: list[dict]) -> dict[tuple[str, str], int]:
    """How many resources each policy must pass and fail: {(policy, "pass"|"fail"): count}."""
    out: dict[tuple[str, str], int] = {}
    for doc in docs:
        if doc["kind"] == "Pod":
            meta, spec = doc["metadata"], doc["spec"]
        elif doc["kind"] in POD_TEMPLATE_KINDS:
            meta, spec = doc["spec"]["template"].get("metadata") or {}, doc["spec"]["template"]["spec"]
        else:
            raise ValueError(f"the bench's expectation does not cover {doc['kind']}")
        for name, _, decides in POLICIES:
            key = (name, "pass" if decides(meta, spec, doc["metadata"].get("namespace", "")) else "fail")
            out[key] = out.get(key, 0) + 1
    return out


def expected_counts(docs: list[dict]) -> dict[str, int]:
    """The summary ``verno apply`` must print for ``docs``: every rule is Audit, no --audit-warn."""
    counts = {"pass": 0, "fail": 0, "warn": 0, "error": 0, "skip": 0}
    for (_, status), n in expected_results(docs).items():
        counts[status] += n
    return counts


def policies_yaml() -> str:
    docs = []
    for name, body, _ in POLICIES:
        rule = {"name": name, "match": {"any": [{"resources": {"kinds": ["Pod"]}}]}, **body}
        docs.append({"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy", "metadata": {"name": name},
                     "spec": {"validationFailureAction": "Audit", "rules": [rule]}})
    return yaml.safe_dump_all(docs, sort_keys=False)


def container(i: int, c: int, rng: random.Random) -> dict:
    """A production-looking container: env, probes, mounts, security context; limits and tags vary."""
    tag = rng.choice(["1.25.3", "2.0.1", "latest", "3.1.0", "4.2"])
    spec = {
        "name": f"c{c}",
        "image": f"registry.example.com/team/app{i % 50}:{tag}",
        "imagePullPolicy": rng.choice(["IfNotPresent", "Always"]),
        "args": ["--port", str(8080 + c), "--log-level", "info", "--metrics"],
        "ports": [{"name": "http", "containerPort": 8080 + c, "protocol": "TCP"},
                  {"name": "metrics", "containerPort": 9090 + c, "protocol": "TCP"}],
        "env": [{"name": f"SETTING_{k}", "value": f"value-{i}-{k}"} for k in range(8)]
        + [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
           {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": f"db-{i % 7}", "key": "password"}}}],
        "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080 + c}, "initialDelaySeconds": 5,
                           "periodSeconds": 10, "timeoutSeconds": 2, "failureThreshold": 3},
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080 + c}, "initialDelaySeconds": 15,
                          "periodSeconds": 20},
        "volumeMounts": [{"name": "config", "mountPath": "/etc/app", "readOnly": True},
                         {"name": "cache", "mountPath": "/var/cache/app"}],
        "securityContext": {"runAsNonRoot": True, "allowPrivilegeEscalation": False,
                            "readOnlyRootFilesystem": rng.random() < 0.7,
                            "capabilities": {"drop": ["ALL"]}},
    }
    if rng.random() < 0.8:
        spec["resources"] = {"limits": {"cpu": "500m", "memory": rng.choice(["256Mi", "1Gi", "4Gi"])},
                             "requests": {"cpu": "100m", "memory": "128Mi"}}
    return spec


def deployment(i: int, rng: random.Random) -> dict:
    labels = {"app": f"app-{i}", "tier": "backend", "app.kubernetes.io/name": f"app-{i}",
              "app.kubernetes.io/part-of": f"system-{i % 9}", "app.kubernetes.io/version": "1.0.0"}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": f"app-{i}", "namespace": "default" if i % 20 == 0 else f"team-{i % 20}", "labels": labels,
                     "annotations": {"deployment.kubernetes.io/revision": str(i % 5 + 1),
                                     "owner": f"team-{i % 20}@example.com",
                                     "description": "a generated service used to benchmark policy evaluation"}},
        "spec": {
            "replicas": 2, "revisionHistoryLimit": 5,
            "selector": {"matchLabels": {"app": f"app-{i}"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0}},
            "template": {
                "metadata": {"labels": dict(labels), "annotations": {"prometheus.io/scrape": "true",
                                                               "prometheus.io/port": "9090"}},
                "spec": {
                    "serviceAccountName": f"app-{i % 11}",
                    "securityContext": {"runAsUser": 1000, "runAsGroup": 1000, "fsGroup": 2000,
                                        "seccompProfile": {"type": "RuntimeDefault"}},
                    "containers": [container(i, c, rng) for c in range(rng.randint(1, 3))],
                    "volumes": [{"name": "config", "configMap": {"name": f"app-{i}-config"}},
                                {"name": "cache", "emptyDir": {"sizeLimit": "1Gi"}}],
                    "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "backend",
                                     "effect": "NoSchedule"}],
                    "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                        {"weight": 100, "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname",
                                                            "labelSelector": {"matchLabels": {"app": f"app-{i}"}}}}]}},
                    "terminationGracePeriodSeconds": 30,
                },
            },
        },
    }


def deployments(n: int, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    return [deployment(i, rng) for i in range(n)]


def write_yaml(path: str, docs: list[dict]) -> None:
    with open(path, "w") as fh:
        yaml.safe_dump_all(docs, fh, sort_keys=False)


def write_json(path: str, docs: list[dict]) -> None:
    with open(path, "w") as fh:
        json.dump({"apiVersion": "v1", "kind": "List", "items": docs}, fh)
