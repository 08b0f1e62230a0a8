"""ImageValidatingPolicy documents, Pods and an evaluation helper for the signature tests."""
from __future__ import annotations

from typing import Any

import yaml

from verno.core.engine import Engine
from verno.core.loading import Document
from verno.core.policykinds import KindInputs
from verno.core.request import Request
from verno.core.sources import Sources

import verno.plugins.imagevalidatingpolicy as ivpol

IGNORE_LOGS = {"insecureIgnoreTlog": True, "insecureIgnoreSCT": True}


def key_attestor(name: str, pem: str, **cosign: Any) -> dict[str, Any]:
    return {"name": name, "cosign": {"key": {"data": pem}, "ctlog": IGNORE_LOGS, **cosign}}


def policy_doc(validations: list[str], attestors: list[dict[str, Any]], attestations: list[dict[str, Any]] = (),
               **spec: Any) -> dict[str, Any]:
    body = {"matchConstraints": {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"],
                                                    "resources": ["pods"], "operations": ["CREATE"]}]},
            "matchImageReferences": [{"glob": "127.0.0.1*"}],
            "attestors": attestors, "attestations": list(attestations),
            "validations": [{"expression": e, "message": f"check {i}"} for i, e in enumerate(validations)], **spec}
    return {"apiVersion": "policies.kyverno.io/v1", "kind": "ImageValidatingPolicy", "metadata": {"name": "signed"},
            "spec": body}


def load(engine: Engine, doc: dict[str, Any]):
    return ivpol.load(Document("policy.yaml", 0, doc), engine)


def pod(*images: str, name: str = "web") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
            "spec": {"containers": [{"name": f"c{i}", "image": im} for i, im in enumerate(images)]}}


def evaluate(engine: Engine, sources: Sources, policy: Any, obj: dict[str, Any]):
    out = engine.evaluate_kinds([policy], Request(obj, None, "CREATE"), KindInputs(sources, {}, engine=engine))
    return out[0] if out else None


def run(engine: Engine, sources: Sources, doc: dict[str, Any], obj: dict[str, Any]):
    response = evaluate(engine, sources, load(engine, doc), obj)
    [rule] = response.rules
    return rule.status, rule.message


def dump(doc: Any) -> str:
    return yaml.safe_dump(doc, sort_keys=False)
