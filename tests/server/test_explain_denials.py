"""``verno serve --explain-denials``: Kyverno's denial text unchanged, then the blocking rules' traces."""
from __future__ import annotations

import copy
import shutil
from pathlib import Path

import pytest

from serverproc import VernoServer, admission_request

DATA = Path(__file__).parent / "data"
POD = {
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
    "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
}
KYVERNO_TEXT = (
    "\n\nresource Pod/default/web was blocked due to the following policies \n\n"
    "require-app-label:\n"
    "  check-app: 'validation error: label ''app'' is required. rule check-app failed at path /metadata/labels/'\n"
)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    work = tmp_path_factory.mktemp("explain")
    policies = work / "policies"
    shutil.copytree(DATA / "policies", policies)
    srv = VernoServer(work, ["--policies", str(policies), "--timeout", "5", "--explain-denials"])
    try:
        srv.wait_ready()
        yield srv
    finally:
        srv.stop()


def test_denial_keeps_kyverno_text_then_explains(server):
    pod = copy.deepcopy(POD)
    del pod["metadata"]["labels"]
    response = server.review("/validate", admission_request(pod))
    assert response["allowed"] is False and response["status"]["code"] == 400
    message = response["status"]["message"]
    assert message.startswith(KYVERNO_TEXT)
    explained = message[len(KYVERNO_TEXT):]
    assert explained.startswith("\n\nverno explain:\n  require-app-label/check-app: ")
    assert 'pattern /metadata/labels/: expected {"app":"?*"}, found missing -> fail' in explained
    assert len(explained) <= 2400 + 32


def test_allowed_requests_and_warnings_are_unchanged(server):
    response = server.review("/validate", admission_request(POD))
    assert response == {"uid": response["uid"], "allowed": True}
    pod = copy.deepcopy(POD)
    pod["spec"]["containers"][0]["image"] = "nginx:latest"
    response = server.review("/validate", admission_request(pod))
    assert response["allowed"] is True
    assert response["warnings"] == [
        "policy disallow-latest.no-latest: validation error: use a pinned image tag. "
        "rule no-latest failed at path /spec/containers/0/image/"
    ]


def test_explanation_is_bounded_whatever_the_traces():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from verno.server.messages import EXPLAIN_CHARS, EXPLAIN_RULES, explanation

    @settings(max_examples=50, deadline=None)
    @given(st.lists(st.tuples(st.text(max_size=300), st.text(max_size=300),
                              st.lists(st.fixed_dictionaries({"step": st.text(max_size=50),
                                                              "note": st.text(max_size=500)}), max_size=80)),
                    min_size=1, max_size=40))
    def check(traces):
        text = explanation(traces)
        assert text.startswith("\n\nverno explain:\n")
        assert len(text) <= len("\n\nverno explain:\n") + EXPLAIN_CHARS
        assert text.count("\n  ") <= EXPLAIN_RULES + 1

    check()
