"""An in-process token bucket per key (the receipt page limits each link and each client address).

In-process on purpose: it needs no shared store. With several instances behind a load balancer each
keeps its own buckets, so the effective limit is the per-instance limit times the number of instances;
put a shared limiter (the proxy's, or Redis) in front if that matters.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    at: float


class TokenBucket:
    def __init__(
        self,
        capacity: int,
        per_second: float,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.capacity = capacity
        self.per_second = per_second
        self._max_keys = max_keys
        self._clock = clock
        # oldest-used first, so a flood of new keys evicts idle buckets rather than growing memory
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def take(self, key: str) -> float:
        """Spend one token for ``key``: 0 if allowed, else the seconds until one is available."""
        now = self._clock()
        bucket = self._buckets.pop(key, None)
        if bucket is None:
            bucket = _Bucket(float(self.capacity), now)
        else:
            bucket.tokens = min(float(self.capacity), bucket.tokens + (now - bucket.at) * self.per_second)
            bucket.at = now
        self._buckets[key] = bucket
        while len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self.per_second
