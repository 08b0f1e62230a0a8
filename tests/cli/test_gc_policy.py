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
