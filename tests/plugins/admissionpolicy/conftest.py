"""Helpers: load VAP documents into an engine with the plugin, evaluate one resource through the engine."""
from __future__ import annotations

import textwrap

import pytest

import verno.plugins.admissionpolicy as admissionpolicy
from verno.core.engine import Engine
from verno.core.policykinds import KindInputs
from verno.core.policyset import load_policy_set
from verno.core.request import Request
from verno.core.sources import Sources


class Harness:
    def __init__(self, tmp_path):
        self.tmp_path = tmp_path
        self.engine = Engine([("admissionpolicy", admissionpolicy)], load_entrypoints=False)
        self.count = 0

    def load(self, text: str):
        self.count += 1
        path = self.tmp_path / f"policy{self.count}.yaml"
        path.write_text(textwrap.dedent(text))
        return load_policy_set(self.engine, [str(path)])

    def run(self, policies, resource, *, params=(), namespaces=None, webhook="", operation="CREATE", old=None,
            user=None, namespace_labels=None):
        request = Request(resource, old, operation, user, namespace_labels=dict(namespace_labels or {}))
        inputs = KindInputs(Sources(webhook=webhook), policies.companions, list(params), dict(namespaces or {}))
        return self.engine.evaluate_kinds(policies.kind_policies, request, inputs)

    def rules(self, policies, resource, **kw):
        """``[(status, message, properties)]`` of the one policy's response (None: no response)."""
        responses = self.run(policies, resource, **kw)
        if not responses:
            return None
        assert len(responses) == 1
        return [(str(r.status), r.message, r.properties) for r in responses[0].rules]

    @staticmethod
    def deployment(name="web", replicas=1, namespace="default", labels=None):
        return {"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": name, "namespace": namespace, "labels": dict(labels or {"app": name})},
                "spec": {"replicas": replicas}}

    @staticmethod
    def config_map(name, data, namespace="", labels=None):
        meta = {"name": name, **({"namespace": namespace} if namespace else {}), "labels": dict(labels or {})}
        return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": dict(data)}

    @staticmethod
    def namespace(name, labels=None, annotations=None):
        return {"apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": name, "labels": dict(labels or {}), "annotations": dict(annotations or {})}}


@pytest.fixture
def vap(tmp_path):
    return Harness(tmp_path)
