"""The receipt page's per-client rate limit behind a reverse proxy: the forwarding header believed only from
SHARECHECK_TRUSTED_PROXIES, read from the right; IPv6 clients keyed per /64. Through the real server."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from adapters.receipt.page import PER_TOKEN, RECEIPT_LIMITS, ReceiptLimits
from bot.clock import ManualClock
from bot.ratelimit import TokenBucket, client_key, parse_address
from bot.services.receipts import new_token
from sharecheck.web import build_app
from tests.support.receipts import receipt_runtime
from tests.support.settings import make_settings

BURST = 3


@asynccontextmanager
async def page(sqlite_url: str, clock: ManualClock, **settings: Any) -> AsyncIterator[TestClient]:
    """The server with a small per-client burst (the clock never moves, so nothing refills)."""
    async with receipt_runtime(sqlite_url, clock, **settings) as runtime:
        app = build_app(runtime)
        app[RECEIPT_LIMITS] = ReceiptLimits(TokenBucket(BURST, 1.0, clock=lambda: 0.0), TokenBucket(*PER_TOKEN))
        async with TestClient(TestServer(app)) as client:  # the test client connects from 127.0.0.1
            yield client


async def statuses(client: TestClient, headers: dict[str, str], n: int = BURST + 1) -> list[int]:
    # a new link each time: the per-link bucket never fills, only the per-client one can
    return [(await client.get(f"/r/{new_token()}", headers=headers)).status for _ in range(n)]


LOCKED_OUT = [404] * BURST + [429]


@pytest.mark.parametrize(
    ("header", "abuser", "other"),
    [
        ("x-forwarded-for", {"X-Forwarded-For": "203.0.113.7"}, {"X-Forwarded-For": "198.51.100.20"}),
        # what the client wrote itself is left of what the proxy appended, and is never read
        (
            "x-forwarded-for",
            {"X-Forwarded-For": "198.51.100.20, 203.0.113.7"},
            {"X-Forwarded-For": "203.0.113.7, 198.51.100.20"},
        ),
        ("forwarded", {"Forwarded": "for=203.0.113.7;proto=https"}, {"Forwarded": 'for="[2001:db8:1:2::5]:4711"'}),
    ],
)
async def test_behind_a_trusted_proxy_one_abusive_client_does_not_lock_out_the_others(
    sqlite_url: str, clock: ManualClock, header: str, abuser: dict[str, str], other: dict[str, str]
) -> None:
    async with page(
        sqlite_url, clock, sharecheck_trusted_proxies="10.0.0.0/8, 127.0.0.1", sharecheck_forwarded_header=header
    ) as client:
        assert await statuses(client, abuser) == LOCKED_OUT
        assert await statuses(client, other) == LOCKED_OUT  # its own bucket, full until it abuses it too


async def test_a_chain_of_trusted_proxies_is_walked_to_the_first_untrusted_address(
    sqlite_url: str, clock: ManualClock
) -> None:
    async with page(sqlite_url, clock, sharecheck_trusted_proxies="127.0.0.1,10.0.0.0/8") as client:
        # client -> CDN edge (10.1.1.1) -> proxy (10.2.2.2) -> us; the client forged a first entry
        assert await statuses(client, {"X-Forwarded-For": "192.0.2.99, 203.0.113.7, 10.1.1.1"}) == LOCKED_OUT
        assert await statuses(client, {"X-Forwarded-For": "192.0.2.99, 203.0.113.8, 10.1.1.1"}, 1) == [404]
        assert await statuses(client, {"X-Forwarded-For": "203.0.113.7"}, 1) == [429]  # the same client


@pytest.mark.parametrize(
    "settings",
    [
        {},  # no trusted proxies: the default
        {"sharecheck_trusted_proxies": "10.0.0.0/8"},  # a proxy list that does not hold this peer
        {"sharecheck_trusted_proxies": "127.0.0.1"},  # the trusted proxy sets X-Forwarded-For, not Forwarded
    ],
)
async def test_an_untrusted_peers_forwarding_header_is_ignored(
    sqlite_url: str, clock: ManualClock, settings: dict[str, str]
) -> None:
    async with page(sqlite_url, clock, **settings) as client:
        # a client inventing a new address each time still spends its own (the peer's) bucket
        seen = [
            (await client.get(f"/r/{new_token()}", headers={"Forwarded": f"for=192.0.2.{n}"})).status
            for n in range(BURST + 1)
        ]
        assert seen == LOCKED_OUT
        if not settings:
            assert await statuses(client, {"X-Forwarded-For": "198.51.100.1"}, 1) == [429]


async def test_ipv6_clients_share_a_bucket_per_64(sqlite_url: str, clock: ManualClock) -> None:
    async with page(sqlite_url, clock, sharecheck_trusted_proxies="127.0.0.1") as client:
        rotating = [{"X-Forwarded-For": f"2001:db8:1:2:{n:x}::1"} for n in range(BURST + 1)]
        assert [(await client.get(f"/r/{new_token()}", headers=h)).status for h in rotating] == LOCKED_OUT
        assert await statuses(client, {"X-Forwarded-For": "2001:db8:1:3::1"}, 1) == [404]  # the next /64


TRUSTED = (ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("fd00::/8"))


@pytest.mark.parametrize(
    ("peer", "hops", "key"),
    [
        ("198.51.100.4", ["203.0.113.7"], "198.51.100.4"),  # untrusted peer: its header is not read
        ("127.0.0.1", [], "127.0.0.1"),  # a trusted proxy that named nobody
        ("127.0.0.1", ["203.0.113.7"], "203.0.113.7"),
        ("127.0.0.1", [" 203.0.113.7:5123 "], "203.0.113.7"),
        ("127.0.0.1", ["[2001:db8::1]:4711"], "2001:db8::/64"),
        ("::ffff:127.0.0.1", ["::ffff:203.0.113.7"], "203.0.113.7"),  # IPv4 on a dual-stack socket
        ("fd00::1", ["2001:db8:aa:bb:cc::1"], "2001:db8:aa:bb::/64"),
        ("127.0.0.1", ["unknown"], "unknown"),  # RFC 7239 lets a proxy withhold the client
        ("127.0.0.1", ["_hidden"], "unknown"),
        ("127.0.0.1", ["not an address"], "unknown"),
        (None, ["203.0.113.7"], "unknown"),
    ],
)
def test_client_key(peer: str | None, hops: list[str], key: str) -> None:
    assert client_key(peer, hops, TRUSTED) == key


def test_trusted_proxies_setting_parses_and_refuses_garbage() -> None:
    settings = make_settings("sqlite+aiosqlite://", sharecheck_trusted_proxies=" 10.0.0.0/8 , ::1,192.0.2.7")
    assert [str(n) for n in settings.trusted_proxies] == ["10.0.0.0/8", "::1/128", "192.0.2.7/32"]
    assert make_settings("sqlite+aiosqlite://").trusted_proxies == ()
    forwarded = make_settings("sqlite+aiosqlite://", sharecheck_forwarded_header=" Forwarded ")
    assert forwarded.sharecheck_forwarded_header == "forwarded"
    with pytest.raises(ValueError, match="not an IP address or network"):
        make_settings("sqlite+aiosqlite://", sharecheck_trusted_proxies="10.0.0.0/8, proxy.internal")
    with pytest.raises(ValueError):
        make_settings("sqlite+aiosqlite://", sharecheck_forwarded_header="x-real-ip")


def test_parse_address_takes_only_addresses() -> None:
    assert parse_address("192.0.2.1") == ipaddress.ip_address("192.0.2.1")
    assert parse_address('"[2001:db8::1]:80"') == ipaddress.ip_address("2001:db8::1")
    assert parse_address("") is None and parse_address("example.org") is None and parse_address("[::1") is None
