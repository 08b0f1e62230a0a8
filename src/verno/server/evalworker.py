"""An evaluation process of ``verno serve``: ``python -m verno.server.evalworker``.

It loads the policies (and watches them) as the server does, then answers evaluation requests from its
standard input, one at a time, on its standard output (which nothing else writes to: fd 1 is pointed at
standard error once the channel is set up). The server stops the process when an evaluation passes its
deadline, so no evaluation outlives ``--timeout``, whatever the engine is doing (C code holding the GIL
included); the server keeps its own event loop free of evaluation work.

Frames: a request is ``>II`` (header length, body length), the header ``(endpoint, key, digest)`` in
``marshal`` form and the AdmissionReview body as received (the process reads it with the server's own
check, :func:`verno.server.admission.parse_review`); an answer is ``>I`` (length) and an object:
``{"decision": ...}``, ``{"stale": digest}``, ``{"error": "what failed"}``, or (once, at start)
``{"ready": n}`` / ``{"error": ...}``, in ``marshal`` form (a tag byte ``m``; about a third of JSON's cost
each way, and the two ends are the same Python), or JSON (tag ``j``) when the answer holds a value
``marshal`` cannot carry. Both ends are this package; the channel is a pipe between a process and its
child, never a network peer.

``digest`` names the policy set the server holds (``Snapshot.digest``). A process whose own set differs
(it watches the files itself, and a reload may reach it earlier or later, or fail where the server's
succeeded) looks at the files again; if the sets still differ it answers ``stale`` instead of deciding
with another set than the server's.
"""
from __future__ import annotations

import dataclasses
import gc
import json
import marshal
import os
import signal
import struct
import sys
from typing import Any

REQUEST_HEAD = struct.Struct(">II")
ANSWER_HEAD = struct.Struct(">I")


def encode_request(endpoint: str, key: str, body: bytes, digest: str = "") -> bytes:
    head = marshal.dumps((endpoint, key, digest))
    return REQUEST_HEAD.pack(len(head), len(body)) + head + body


def decode_request_head(head: bytes) -> tuple[str, str, str]:
    endpoint, key, digest = marshal.loads(head)
    return str(endpoint), str(key), str(digest or "")


def encode_answer(doc: dict[str, Any]) -> bytes:
    try:
        payload = b"m" + marshal.dumps(doc)
    except ValueError:  # a value marshal cannot carry: JSON, with anything else as its text
        payload = b"j" + json.dumps(doc, separators=(",", ":"), default=str).encode()
    return ANSWER_HEAD.pack(len(payload)) + payload


def decode_answer(payload: bytes) -> dict[str, Any]:
    """The answer of :func:`encode_answer`; ValueError when ``payload`` is not one."""
    tag, data = payload[:1], payload[1:]
    try:
        doc = marshal.loads(data) if tag == b"m" else json.loads(data) if tag == b"j" else None
    except (EOFError, TypeError) as exc:
        raise ValueError(f"unreadable answer: {exc}") from None
    if not isinstance(doc, dict):
        raise ValueError("the answer is not an object")
    return doc


def _read_exactly(fd: int, n: int) -> bytes | None:
    chunks, size = [], 0
    while size < n:
        chunk = os.read(fd, min(n - size, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _answer(evaluator: Any, endpoint: str, key: str, body: bytes, digest: str = "") -> dict[str, Any]:
    from verno.server.admission import build_request, parse_review

    store = evaluator.store
    snapshot = store.snapshot
    if digest and snapshot.digest != digest:
        check = getattr(store, "check", None)
        if check is not None:
            check()
        snapshot = store.snapshot
        if snapshot.digest != digest:
            return {"stale": snapshot.digest}
    review = parse_review(body)
    policies = snapshot.for_endpoint(key)
    request = build_request(review, store.namespace_labels(review.namespace))
    decision = evaluator.evaluate(endpoint, snapshot, policies, request, snapshot.kinds_for(key))
    # the fields as they are (dataclasses.asdict would deep-copy every patch and result)
    doc = {f.name: getattr(decision, f.name) for f in dataclasses.fields(decision)}
    return {"decision": doc, "generation": snapshot.generation}


def _die_with_parent() -> None:
    """SIGKILL this process when the server process ends, however it ends (Linux)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def main() -> int:
    _die_with_parent()
    channel_in = os.dup(0)
    channel_out = os.dup(1)
    os.dup2(2, 1)  # anything printed goes to the log, never into the channel
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)

    from verno.server import logging as jsonlog
    from verno.server.evaluate import build_evaluator
    from verno.server.metrics import Metrics
    from verno.server.settings import Settings

    settings = Settings.from_env()
    jsonlog.setup(settings.log_level)
    try:
        evaluator = build_evaluator(settings, Metrics())
        if settings.cluster_mode and not evaluator.store.wait_ready(max(30.0, settings.timeout)):
            raise RuntimeError("the cluster's policies were not listed in time")
    except Exception as exc:
        _write_all(channel_out, encode_answer({"error": f"{type(exc).__name__}: {exc}"}))
        return 3
    reload = getattr(evaluator.store, "reload", None)
    if reload is not None:
        signal.signal(signal.SIGHUP, lambda *_: reload())
    else:
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
    # the server stops this process (closing its input, or SIGKILL): a SIGINT or SIGTERM sent to the
    # whole process group must not cut an evaluation that the server is draining
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    gc.freeze()
    _write_all(channel_out, encode_answer({"ready": evaluator.store.snapshot.policy_count}))
    while True:
        head = _read_exactly(channel_in, REQUEST_HEAD.size)
        if head is None:
            return 0
        head_len, body_len = REQUEST_HEAD.unpack(head)
        raw = _read_exactly(channel_in, head_len + body_len)
        if raw is None:
            return 0
        try:
            endpoint, key, digest = decode_request_head(raw[:head_len])
            answer = _answer(evaluator, endpoint, key, raw[head_len:], digest)
        except Exception as exc:  # the server answers by failurePolicy with this text
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        _write_all(channel_out, encode_answer(answer))


if __name__ == "__main__":
    sys.exit(main())
