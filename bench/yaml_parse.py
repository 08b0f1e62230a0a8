"""Time PyYAML's C loader against verno's iter_documents on generated Deployments.

Usage: python bench/yaml_parse.py [count]   (default 10,000 Deployments in one multi-document text)
"""
from __future__ import annotations

import sys
import time
from collections.abc import Callable

import yaml

from verno.core.yamlio import iter_documents

DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: web-{i}
  namespace: team-{ns}
  labels:
    app: web-{i}
    tier: frontend
    version: "v{i}"
  annotations:
    description: "Deployment number {i}, generated for the benchmark"
spec:
  replicas: {replicas}
  revisionHistoryLimit: 10
  selector:
    matchLabels:
      app: web-{i}
  strategy:
    type: RollingUpdate
    rollingUpdate: {{maxSurge: 25%, maxUnavailable: 0}}
  template:
    metadata:
      labels:
        app: web-{i}
        tier: frontend
    spec:
      serviceAccountName: web
      securityContext:
        runAsNonRoot: true
        runAsUser: 1000
      containers:
      - name: web
        image: registry.example.com/team/web:1.{minor}.2
        imagePullPolicy: IfNotPresent
        args: ["--port", "8080", "--verbose"]
        ports:
        - containerPort: 8080
          protocol: TCP
        env:
        - name: MODE
          value: production
        - name: RATIO
          value: "0.{i}"
        resources:
          limits:
            cpu: 500m
            memory: 128Mi
          requests:
            cpu: 250m
            memory: 64Mi
        readinessProbe:
          httpGet:
            path: /healthz
            port: 8080
          initialDelaySeconds: 5
          periodSeconds: 10
        securityContext:
          allowPrivilegeEscalation: false
          readOnlyRootFilesystem: true
          capabilities:
            drop: [ALL]
"""


def generate(count: int) -> str:
    return "---\n".join(DEPLOYMENT.format(i=i, ns=i % 7, replicas=1 + i % 5, minor=i % 30) for i in range(count))


def best_of(fn: Callable[[], object], runs: int = 3) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main(argv: list[str]) -> int:
    count = int(argv[1]) if len(argv) > 1 else 10_000
    text = generate(count)
    pyyaml = best_of(lambda: list(yaml.load_all(text, Loader=yaml.CSafeLoader)))
    verno = best_of(lambda: list(iter_documents(text, "bench")))
    print(f"{count} Deployments, {len(text) / 1e6:.1f} MB")
    print(f"PyYAML CSafeLoader:  {pyyaml:.3f} s")
    print(f"verno iter_documents: {verno:.3f} s")
    print(f"ratio (PyYAML / verno): {pyyaml / verno:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
