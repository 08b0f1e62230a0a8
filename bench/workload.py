"""Generated workloads for the benchmarks: Deployments and ten typical validate policies."""
from __future__ import annotations

import json
import random

import yaml

POLICIES = [
    ("require-labels", {"validate": {"message": "label app is required", "pattern": {
        "metadata": {"labels": {"app": "?*"}}}}}),
    ("require-limits", {"validate": {"message": "limits required", "pattern": {"spec": {"containers": [
        {"resources": {"limits": {"memory": "?*", "cpu": "?*"}}}]}}}}),
    ("disallow-latest", {"validate": {"message": "no latest", "pattern": {"spec": {"containers": [
        {"image": "!*:latest"}]}}}}),
    ("require-tag", {"validate": {"message": "tag required", "pattern": {"spec": {"containers": [
        {"image": "*:*"}]}}}}),
    ("restrict-registries", {"validate": {"message": "registry", "pattern": {"spec": {"containers": [
        {"image": "registry.example.com/* | docker.io/*"}]}}}}),
    ("memory-max", {"validate": {"message": "memory <= 2Gi", "pattern": {"spec": {"containers": [
        {"=(resources)": {"=(limits)": {"=(memory)": "<=2Gi"}}}]}}}}),
    ("no-privileged", {"validate": {"message": "no privileged", "pattern": {"spec": {"containers": [
        {"=(securityContext)": {"=(privileged)": "false"}}]}}}}),
    ("no-host-network", {"validate": {"message": "no host network", "pattern": {"spec": {
        "=(hostNetwork)": False}}}}),
    ("deny-default-ns", {"validate": {"message": "not in default", "deny": {"conditions": {"any": [
        {"key": "{{request.object.metadata.namespace}}", "operator": "Equals", "value": "default"}]}}}}),
    ("image-pull-policy", {"validate": {"message": "pull policy", "foreach": [
        {"list": "request.object.spec.containers", "deny": {"conditions": {"all": [
            {"key": "{{ element.imagePullPolicy || 'IfNotPresent' }}", "operator": "AnyNotIn",
             "value": ["IfNotPresent", "Always"]}]}}}]}}),
]


def policies_yaml() -> str:
    docs = []
    for name, body in POLICIES:
        rule = {"name": name, "match": {"any": [{"resources": {"kinds": ["Pod"]}}]}, **body}
        docs.append({"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy", "metadata": {"name": name},
                     "spec": {"validationFailureAction": "Audit", "rules": [rule]}})
    return yaml.safe_dump_all(docs, sort_keys=False)


def deployment(i: int, rng: random.Random) -> dict:
    containers = []
    for c in range(rng.randint(1, 3)):
        tag = rng.choice(["1.25", "2.0.1", "latest", "3.1"])
        container = {"name": f"c{c}", "image": f"registry.example.com/team/app{i % 50}:{tag}",
                     "ports": [{"containerPort": 8080 + c}]}
        if rng.random() < 0.8:
            container["resources"] = {"limits": {"cpu": "500m", "memory": rng.choice(["256Mi", "1Gi", "4Gi"])},
                                      "requests": {"cpu": "100m", "memory": "128Mi"}}
        containers.append(container)
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": f"app-{i}", "namespace": f"team-{i % 20}",
                     "labels": {"app": f"app-{i}", "tier": "backend"}},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": f"app-{i}"}},
                 "template": {"metadata": {"labels": {"app": f"app-{i}"}},
                              "spec": {"containers": containers}}},
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
