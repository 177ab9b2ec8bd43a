"""An in-process token bucket per key (the receipt page limits each link and each client address), and the
client address those buckets key on.

In-process on purpose: it needs no shared store. With several instances behind a load balancer each
keeps its own buckets, so the effective limit is the per-instance limit times the number of instances;
put a shared limiter (the proxy's, or Redis) in front if that matters.

Behind a reverse proxy the TCP peer is the proxy, so every client would share one bucket and one abusive
client would lock everyone out. With SHARECHECK_TRUSTED_PROXIES set, the forwarding header is believed only
from those proxies, read from the right (the hop the nearest proxy saw) leftwards past trusted proxies: the
first untrusted address is the client. Whatever a client writes into the header itself sits further left and
is never reached. IPv6 clients are keyed per /64, the block one household or device usually holds, so
rotating through its addresses does not earn fresh buckets.

Parsing: aiohttp's ``request.forwarded`` parses RFC 7239 ``Forwarded`` (quoting, several headers, elements);
``X-Forwarded-For`` is a plain comma-separated list with no grammar beyond that. Every hop is then read by
the standard library's ``ipaddress`` (and ``urllib.parse`` for the ``[v6]:port`` and ``v4:port`` forms), so
anything that is not an address is never taken for one. Both are maintained with the runtime we already
run; a middleware package such as aiohttp-remotes would rewrite ``request.remote`` for every route, which
the other routes do not want.
"""

from __future__ import annotations

import ipaddress
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from aiohttp import web

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
IPV6_PREFIX = 64
UNKNOWN = "unknown"
"""The key for a client a trusted proxy could not name (RFC 7239 ``for=unknown`` or an obfuscated id)."""


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


def parse_address(value: str) -> IPAddress | None:
    """An address from a peer or a forwarding hop: ``192.0.2.1``, ``2001:db8::1``, ``[2001:db8::1]:4711``,
    ``192.0.2.1:80``; None for anything else (``unknown``, ``_hidden``, a name, garbage)."""
    value = value.strip().strip('"')
    try:
        found: IPAddress = ipaddress.ip_address(value)
    except ValueError:
        try:
            host = urlsplit("//" + value).hostname
            found = ipaddress.ip_address(host or "")
        except ValueError:
            return None
    if isinstance(found, ipaddress.IPv6Address) and found.ipv4_mapped is not None:
        return found.ipv4_mapped  # a dual-stack socket's ::ffff:192.0.2.1 is the IPv4 client
    return found


def bucket_key(address: IPAddress) -> str:
    """IPv4 per address; IPv6 per /64."""
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((address, IPV6_PREFIX), strict=False))
    return str(address)


def client_key(peer: str | None, hops: Sequence[str], trusted: Sequence[Network]) -> str:
    """The rate-limit key of the client behind ``peer``: ``hops`` are the forwarding header's addresses,
    left (farthest) to right (nearest); they are read only while the address that sent them is trusted."""
    current = parse_address(peer) if peer else None
    if current is None:
        return UNKNOWN
    for hop in reversed(hops):
        if not any(current in network for network in trusted):
            break
        found = parse_address(hop)
        if found is None:
            return UNKNOWN
        current = found
    return bucket_key(current)


def forwarded_hops(request: web.Request, header: Literal["x-forwarded-for", "forwarded"]) -> list[str]:
    """The addresses in the one forwarding header the proxies are said to set, in order, every header line."""
    if header == "forwarded":
        return [element.get("for", "") for element in request.forwarded]
    return [hop for line in request.headers.getall("X-Forwarded-For", ()) for hop in line.split(",")]


def request_client_key(
    request: web.Request, trusted: Sequence[Network], header: Literal["x-forwarded-for", "forwarded"]
) -> str:
    hops = forwarded_hops(request, header) if trusted else []
    return client_key(request.remote, hops, trusted)
