"""A structure-aware fuzzer for the webhook: seed AdmissionReviews, mutated, sent to the ASGI app in-process.

A *case* takes a seed review (Pods that pass and fail, a Deployment, a ConfigMap, a Namespace, UPDATE
and DELETE requests) and mutates it as ``tests/fuzz/harness.py`` mutates policy files: a node replaced,
deleted or given a new key, a subtree's type changed, identity fields given other types, collections
nested past the depth bound, or the serialized text edited. The body goes to :class:`verno.server.app.App`
through its ASGI interface, with real evaluation processes behind it.

What every answer must show (:func:`check`): HTTP 200 with a well-formed AdmissionReview (same uid,
``allowed`` a boolean, a denial with a message, never a bare "internal error"), or a 4xx JSON error
only when the body was unreadable (not JSON, not an object, no string uid, nested too deep). Never 500.

Used by ``tests/server/test_admission_fuzz.py`` (a bounded run) and ``bench/webhook.py --fuzz N``.
"""
from __future__ import annotations

import asyncio
import copy
import json
import random
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "fuzz"))

from harness import _value, mutate_text, mutate_tree  # noqa: E402

PATHS = ["/validate", "/mutate", "/validate/fail", "/validate/ignore", "/mutate/fail"]
IDENTITY = [("apiVersion",), ("kind",), ("metadata",), ("metadata", "name"), ("metadata", "namespace"),
            ("metadata", "labels"), ("metadata", "annotations"), ("metadata", "generateName")]
REQUEST_FIELDS = ["uid", "kind", "resource", "requestKind", "namespace", "name", "operation", "userInfo",
                  "object", "oldObject", "dryRun", "subResource", "options"]


def _pod(name: str, *, app: bool = True, privileged: bool = False, tag: str = "1.27") -> dict[str, Any]:
    labels = {"app": name} if app else {}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default", "labels": labels},
            "spec": {"containers": [{"name": "c", "image": f"nginx:{tag}",
                                     "securityContext": {"privileged": privileged}}]}}


def _review(obj: dict[str, Any] | None, operation: str = "CREATE", old: dict[str, Any] | None = None,
            uid: str = "seed") -> dict[str, Any]:
    subject = obj or old or {}
    group, _, version = str(subject.get("apiVersion", "v1")).rpartition("/")
    kind = subject.get("kind", "")
    meta = subject.get("metadata") or {}
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": uid, "kind": {"group": group, "version": version, "kind": kind},
        "resource": {"group": group, "version": version, "resource": kind.lower() + "s"},
        "namespace": meta.get("namespace", ""), "name": meta.get("name", ""), "operation": operation,
        "userInfo": {"username": "alice", "groups": ["system:authenticated"], "extra": {"roles": ["dev"]}},
        "object": obj, "oldObject": old, "dryRun": False}}


def seeds() -> list[dict[str, Any]]:
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment",
                  "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
                  "spec": {"replicas": 9, "selector": {"matchLabels": {"app": "web"}},
                           "template": {"metadata": {"labels": {"app": "web"}},
                                        "spec": {"containers": [{"name": "w", "image": "nginx:latest"}]}}}}
    configmap = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm", "namespace": "default"},
                 "data": {"a": "b"}}
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team", "labels": {"owner": "x"}}}
    return [_review(_pod("ok")), _review(_pod("bad", app=False, privileged=True, tag="latest")),
            _review(deployment), _review(configmap), _review(namespace),
            _review(_pod("ok"), "UPDATE", old=_pod("ok", app=False)), _review(None, "DELETE", old=configmap),
            _review(configmap, "CONNECT")]


DEEP = "__deep__"


def _nest(depth: int) -> str:
    """JSON text of collections nested ``depth`` deep (built as text: the encoder would recurse)."""
    opening = "".join("[" if i % 2 else '{"k":' for i in range(depth))
    closing = "".join("]" if i % 2 else "}" for i in reversed(range(depth)))
    return opening + '"x"' + closing


@dataclass
class Case:
    path: str
    body: bytes
    #: the uid the answer must carry when the body is readable (None: the body is not JSON or has no string uid)
    uid: str | None
    how: str


def mutate_review(review: dict[str, Any], rng: random.Random) -> tuple[Any, str]:
    doc = copy.deepcopy(review)
    req = doc["request"]
    roll = rng.random()
    if roll < 0.35:
        return mutate_tree(doc, rng), "tree"
    if roll < 0.55:
        target = rng.choice(["object", "oldObject"])
        if not isinstance(req.get(target), dict):
            req[target] = {"apiVersion": "v1", "kind": "Pod", "metadata": {}}
        field = rng.choice(IDENTITY)
        node = req[target]
        for part in field[:-1]:
            if not isinstance(node.get(part), dict):
                node[part] = {}
            node = node[part]
        node[field[-1]] = _value(rng)
        return doc, f"identity {target}.{'.'.join(field)}"
    if roll < 0.75:
        req[rng.choice(REQUEST_FIELDS)] = _value(rng)
        return doc, "request field"
    if roll < 0.82:
        node = req.get("object") if isinstance(req.get("object"), dict) else req
        node["deep"] = DEEP
        return doc, f"deep {rng.choice([200, 254, 257, 300, 1200, 5000])}"
    if roll < 0.87:
        return rng.choice([[], "x", 1, None, {"request": req}, {"apiVersion": "admission.k8s.io/v1beta1",
                                                                 "kind": "AdmissionReview", "request": req}]), "shape"
    return doc, "text"


def make_case(rng: random.Random, index: int) -> Case:
    review = rng.choice(seeds())
    review["request"]["uid"] = f"fuzz-{index}"
    doc, how = mutate_review(review, rng)
    text = json.dumps(doc)
    if how.startswith("deep"):
        text = text.replace(json.dumps(DEEP), _nest(int(how.split()[1])), 1)
    if how == "text":
        text = mutate_text(text, rng)
    body = text.encode("utf-8", "surrogatepass")
    return Case(rng.choice(PATHS), body, readable_uid(body), how)


def readable_uid(body: bytes) -> str | None:
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("request"), dict):
        return None
    uid = doc["request"].get("uid")
    return uid if isinstance(uid, str) and uid else None


async def call(app: Any, path: str, body: bytes) -> tuple[int, bytes]:
    """POST ``body`` to ``path`` through the app's ASGI interface: (status, response body)."""
    sent = False
    out: dict[str, Any] = {"status": 0, "body": b""}

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            out["status"] = message["status"]
        elif message["type"] == "http.response.body":
            out["body"] += message.get("body", b"")

    scope = {"type": "http", "method": "POST", "path": path, "headers": [(b"content-type", b"application/json")],
             "client": ("127.0.0.1", 40000)}
    await app(scope, receive, send)
    return out["status"], out["body"]


def check(case: Case, status: int, body: bytes) -> str | None:
    """What is wrong with the answer to ``case``, or None."""
    if status >= 500:
        return f"HTTP {status}: {body[:200]!r}"
    try:
        doc = json.loads(body)
    except ValueError:
        return f"HTTP {status} with a body that is not JSON: {body[:200]!r}"
    if 400 <= status < 500:
        if case.uid is not None and "nested more than" not in str(doc.get("error")):
            return f"HTTP {status} for a readable review (uid {case.uid!r}): {doc}"
        return None if isinstance(doc.get("error"), str) and doc["error"] else f"4xx without an error: {doc}"
    if status != 200:
        return f"HTTP {status}"
    if doc.get("kind") != "AdmissionReview" or doc.get("apiVersion") not in ("admission.k8s.io/v1",
                                                                              "admission.k8s.io/v1beta1"):
        return f"not an AdmissionReview: {str(doc)[:200]}"
    response = doc.get("response")
    if not isinstance(response, dict) or response.get("uid") != case.uid:
        return f"answer uid {response.get('uid') if isinstance(response, dict) else None!r} for {case.uid!r}"
    if not isinstance(response.get("allowed"), bool):
        return "allowed is not a boolean"
    if not response["allowed"]:
        message = (response.get("status") or {}).get("message")
        if not isinstance(message, str) or not message.strip():
            return "a denial without a message"
    text = json.dumps(response)
    if "internal error" in text:
        return f"internal error answer: {text[:300]}"
    return None


def signature(problem: str) -> str:
    return problem.split(":")[0][:80]
