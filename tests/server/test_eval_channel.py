"""The channel between the server and its evaluation processes: what is sent arrives as it was."""
from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from verno.server.evalworker import (ANSWER_HEAD, REQUEST_HEAD, decode_answer, decode_request_head, encode_answer,
                                     encode_request)

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
                    max_leaves=20)


def _payload(frame: bytes) -> bytes:
    (size,) = ANSWER_HEAD.unpack(frame[:ANSWER_HEAD.size])
    assert len(frame) == ANSWER_HEAD.size + size
    return frame[ANSWER_HEAD.size:]


@settings(max_examples=60, deadline=None)
@given(patch=JSON, message=st.text())
def test_a_decision_crosses_the_channel_unchanged(patch, message):
    doc = {"decision": {"allowed": False, "message": message, "code": 400, "warnings": ["w"],
                        "patch": [{"op": "add", "path": "/x", "value": patch}],
                        "results": [("policy", "rule", "fail")]}, "generation": 3}
    assert decode_answer(_payload(encode_answer(doc))) == doc


def test_a_value_the_fast_form_cannot_carry_is_sent_as_text():
    class Odd:
        def __str__(self) -> str:
            return "odd value"

    doc = {"decision": {"allowed": True, "message": "", "warnings": [], "patch": [{"value": Odd()}]}}
    assert decode_answer(_payload(encode_answer(doc)))["decision"]["patch"] == [{"value": "odd value"}]


@pytest.mark.parametrize("payload", [b"", b"m", b"m\x00\x01", b"x{}", b"j[1]", b"j{", b"m" + bytes([0xe9]) * 3])
def test_an_unreadable_answer_is_a_value_error(payload):
    with pytest.raises(ValueError):
        decode_answer(payload)


def test_the_request_frame_carries_route_digest_and_body_as_sent():
    body = b'{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}'
    frame = encode_request("validate", "validate/finegrained/ns/p", body, "abc123")
    head_len, body_len = REQUEST_HEAD.unpack(frame[:REQUEST_HEAD.size])
    rest = frame[REQUEST_HEAD.size:]
    assert decode_request_head(rest[:head_len]) == ("validate", "validate/finegrained/ns/p", "abc123")
    assert rest[head_len:] == body and body_len == len(body)
