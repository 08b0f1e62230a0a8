"""The verdicts verifyImages records for the mutating webhook, merged through the ``verno_admitted_object`` hook."""
from __future__ import annotations

import json

from verno.core.engine import Engine
from verno.core.request import Request
from verno.core.results import PolicyResponse, RuleResponse, Status

POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "team"},
       "spec": {"containers": [{"name": "c", "image": "ghcr.io/acme/app:v1"}]}}


def _image_verify(patched: dict, status: Status) -> RuleResponse:
    return RuleResponse("verify", "ImageVerify", status, "", patched_resource=patched)


def _with_verdicts(verdicts: dict[str, str]) -> dict:
    return {**POD, "metadata": {**POD["metadata"],
                                "annotations": {"kyverno.io/verify-images": json.dumps(verdicts)}}}


def test_the_verify_images_plugin_records_every_verdict_failures_first():
    """The built-in verifyImages plugin fills the hook: verdicts of failed rules too, never a fail overwritten."""
    engine = Engine()
    responses = [PolicyResponse(None, POD, rules=[_image_verify(_with_verdicts({"a": "fail", "b": "pass"}),
                                                                  Status.FAIL)]),
                 PolicyResponse(None, POD, rules=[_image_verify(_with_verdicts({"a": "pass", "c": "skip"}),
                                                                  Status.PASS)])]
    out = engine.admitted_object(Request(POD), responses, POD)
    assert json.loads(out["metadata"]["annotations"]["kyverno.io/verify-images"]) == \
        {"a": "fail", "b": "pass", "c": "skip"}
    # already recorded exactly: nothing to change
    assert engine.admitted_object(Request(POD), responses, out) is out
