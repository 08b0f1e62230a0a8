import gc

import pytest

from verno.cli.gc_policy import BATCH_THRESHOLD, batch_mode


@pytest.fixture
def restore_gc():
    saved = gc.get_threshold()
    yield
    gc.set_threshold(*saved)


def test_batch_mode_collects_less_often_but_still_collects_cycles(restore_gc) -> None:
    batch_mode()
    assert gc.isenabled()
    assert gc.get_threshold()[0] == BATCH_THRESHOLD

    class Node:
        pass

    a, b = Node(), Node()
    a.other, b.other = b, a
    del a, b
    assert gc.collect() >= 2  # cycles are still found


def test_what_is_read_for_the_run_is_frozen_and_the_collector_comes_back() -> None:
    from verno.cli.gc_policy import reading_for_run

    before = gc.get_freeze_count()
    try:
        with reading_for_run():
            assert not gc.isenabled()
            # each holds a list, so the collector tracks it (a dict of only strings and ints is untracked
            # and never counted as frozen)
            held = [{"kind": "Pod", "spec": [i]} for i in range(1000)]
        assert gc.isenabled()
        assert gc.get_freeze_count() >= before + len(held)
    finally:
        gc.unfreeze()
