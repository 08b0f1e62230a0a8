"""A set that remembers only its last ``limit`` members: what the controller itself wrote or deleted (their
watch events are its own), bounded however long it runs."""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Hashable


class RecentSet:
    def __init__(self, limit: int = 10000):
        self.limit = limit
        self._items: OrderedDict[Hashable, None] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, item: Hashable) -> None:
        with self._lock:
            self._items[item] = None
            self._items.move_to_end(item)
            while len(self._items) > self.limit:
                self._items.popitem(last=False)

    def __contains__(self, item: object) -> bool:
        with self._lock:
            return item in self._items

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)
