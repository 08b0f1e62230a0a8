"""core/signatures/cache.py: the verification outcome cache is bounded and entries expire (an injected clock)."""
from __future__ import annotations

from verno.core.signatures.cache import TTLCache


def test_ttl_cache_expires_and_is_bounded():
    now = [0.0]
    cache = TTLCache(maxsize=2, ttl=10, clock=lambda: now[0])
    cache.put("a", 1)
    cache.put("b", 2)
    cache.put("c", 3)  # evicts the oldest
    assert cache.get("a") is None and cache.get("b") == 2 and len(cache) == 2
    now[0] = 11
    assert cache.get("b") is None and cache.get("c") is None
