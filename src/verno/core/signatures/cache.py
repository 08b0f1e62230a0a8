"""A bounded TTL cache of verification outcomes (``useCache``), keyed by policy, rule and image digest.

Failures are cached as well as passes; errors (an unreachable registry) are not. The least recently
inserted entry is evicted first when the cache is full.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Any, Callable, Hashable

DEFAULT_TTL = 3600.0  # Kyverno's default image verification cache TTL (60m)
DEFAULT_SIZE = 1000


class TTLCache:
    def __init__(self, maxsize: int = DEFAULT_SIZE, ttl: float = DEFAULT_TTL,
                 clock: Callable[[], float] = time.monotonic):
        self.maxsize, self.ttl, self.clock = maxsize, ttl, clock
        self._data: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Any:
        hit = self._data.get(key)
        if hit is None:
            return None
        if hit[0] <= self.clock():
            with self._lock:
                self._data.pop(key, None)
            return None
        return hit[1]

    def put(self, key: Hashable, value: Any) -> None:
        with self._lock:
            self._data.pop(key, None)
            while len(self._data) >= self.maxsize:
                self._data.popitem(last=False)
            self._data[key] = (self.clock() + self.ttl, value)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        return len(self._data)
