"""Small parts of the controller: the bounded memory of its own writes, the work queue."""
from __future__ import annotations

import threading

from verno.controller.recent import RecentSet
from verno.controller.workqueue import WorkQueue


def test_recent_set_keeps_only_the_last_members():
    recent = RecentSet(limit=3)
    for n in range(5):
        recent.add(n)
    assert len(recent) == 3 and 0 not in recent and 1 not in recent and {2, 3, 4} <= {n for n in range(5) if n in recent}
    recent.add(2)  # touched again: now the newest
    recent.add(5)
    assert 2 in recent and 3 not in recent


def test_work_queue_dedups_and_never_hands_a_key_to_two_workers():
    queue = WorkQueue(base_delay=0.01)
    queue.add("a")
    queue.add("a")
    assert queue.depth() == 1
    assert queue.get(0.1) == "a"
    queue.add("a")  # while a worker holds it: queued again after done()
    assert queue.get(0.05) is None
    queue.done("a")
    assert queue.get(0.1) == "a"
    queue.done("a")


def test_work_queue_backoff_doubles_per_failure_and_forget_resets():
    queue = WorkQueue(base_delay=0.01, max_delay=0.04)
    assert [queue.retry("k") for _ in range(4)] == [0.01, 0.02, 0.04, 0.04]
    queue.forget("k")
    assert queue.retry("k") == 0.01
    got = queue.get(0.5)
    assert got == "k"


def test_close_releases_waiting_workers():
    queue = WorkQueue()
    out: list = []
    t = threading.Thread(target=lambda: out.append(queue.get(5)))
    t.start()
    queue.close()
    t.join(2)
    assert out == [None]
