"""/share-check ack time under 50 concurrent requests: ShareCheck's whole Slack stack against a bare slack-bolt app.

Ours: signature check, payload validation, our listener's ack, and after the ack the dedupe row, the new check's
row, users.info, conversations.open, chat.postMessage and views.open, all competing for the same loop (SQLite).
Baseline: a bare AsyncApp, configured as ours is, whose listener only acks the same signed request. Both are
mounted on aiohttp the same way and served on loopback with the listen backlog `sharecheck serve` uses, both
talk to the same fake Web API, and the load comes from this process.
Also counts the HTTP requests one whole check takes. Prints figures, then one line of JSON.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import SLACK_ADAPTER
from bot.runtime import Runtime
from bot.settings import Settings
from sharecheck.server import LISTEN_BACKLOG
from sharecheck.web import build_app
from tests.support.fake_slack import BOT_TOKEN, FakeSlack
from tests.support.slack_requests import EVENTS, SECRET, Practitioner, command_body, signature

LOADS = ((50, 10), (200, 3))
"""(concurrent clients, rounds): the issue's two loads."""


def settings(db: Path, fake: FakeSlack) -> Settings:
    return Settings(
        _env_file=None,
        database_url=f"sqlite+aiosqlite:///{db}",
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SECRET,
        slack_api_url=fake.api_url,
    )


def bare_app(fake: FakeSlack) -> web.Application:
    bolt = AsyncApp(
        client=AsyncWebClient(token=BOT_TOKEN, base_url=fake.api_url),
        signing_secret=SECRET,
        process_before_response=True,  # as ShareCheck's AsyncApp is: the listener's ack is the response
    )

    @bolt.command("/share-check")
    async def ack_only(ack: Any) -> None:
        await ack()

    async def events(request: web.Request) -> web.StreamResponse:
        return await to_aiohttp_response(await bolt.async_dispatch(await to_bolt_request(request)))

    app = web.Application()
    app.router.add_post(EVENTS, events)
    return app


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=LISTEN_BACKLOG)  # as `sharecheck serve` listens
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}{EVENTS}"


async def one(session: aiohttp.ClientSession, url: str, fake: FakeSlack, team: str, user: str) -> float:
    body = command_body(team, user, "", fake.response_url(user))
    headers = {"Content-Type": "application/x-www-form-urlencoded", **signature(body)}
    started = time.perf_counter()
    async with session.post(url, data=body.encode(), headers=headers) as resp:
        await resp.read()
        assert resp.status == 200, resp.status
    return time.perf_counter() - started


async def load(
    url: str, fake: FakeSlack, tag: str, app: web.Application | None, concurrency: int, rounds: int
) -> tuple[list[float], float]:
    latencies: list[float] = []
    busy = 0.0
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        await one(session, url, fake, "T0000001", f"W{tag}warm")  # Bolt's lazy auth.test, connections
        for r in range(rounds):
            started = time.perf_counter()
            batch = [one(session, url, fake, "T0000001", f"U{tag}{r:02d}{i:03d}") for i in range(concurrency)]
            latencies.extend(await asyncio.gather(*batch))
            busy += time.perf_counter() - started
            if app is not None:
                await app[SLACK_ADAPTER].drain()  # finish this round's post-ack work before the next round
    return latencies, rounds * concurrency / busy


def summary(latencies: list[float]) -> tuple[float, float]:
    ms = sorted(x * 1000 for x in latencies)
    return statistics.median(ms), statistics.quantiles(ms, n=100)[98]


async def whole_check(db: Path, fake: FakeSlack) -> tuple[int, int, Counter[str]]:
    """Inbound requests and outbound Web API calls for one complete check, as the tests drive it."""
    runtime = await Runtime.create(settings(db, fake), migrate=True)
    try:
        async with TestClient(TestServer(build_app(runtime))) as client:
            before = len(fake.calls)
            alice = Practitioner(client, fake, "T0000009", "U0000009")
            await alice.start()
            steps = await alice.complete(runtime.packs.pack())
            await client.app[SLACK_ADAPTER].drain()
            methods = Counter(c.method for c in fake.calls[before:])
            print(f"whole check: {steps} steps")
            return alice.requests, len(fake.calls) - before, methods
    finally:
        await runtime.close()


async def main() -> None:
    fake = FakeSlack()
    await fake.start()
    results: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for concurrency, rounds in LOADS:
            runtime = await Runtime.create(settings(Path(tmp) / f"bench{concurrency}.db", fake), migrate=True)
            ours_app = build_app(runtime)
            ours_runner, ours_url = await serve(ours_app)
            bare_runner, bare_url = await serve(bare_app(fake))
            try:
                tag = str(concurrency)
                bare, bare_rps = await load(bare_url, fake, "b" + tag, None, concurrency, rounds)
                ours, ours_rps = await load(ours_url, fake, "o" + tag, ours_app, concurrency, rounds)
                bare2, bare_rps2 = await load(bare_url, fake, "c" + tag, None, concurrency, rounds)  # drift
            finally:
                await ours_runner.cleanup()
                await bare_runner.cleanup()
                await runtime.close()
            o_med, o_p99 = summary(ours)
            b_med, b_p99 = summary(bare + bare2)
            b_rps = (bare_rps + bare_rps2) / 2
            print(f"{rounds * concurrency} signed /share-check requests, {concurrency} concurrent, loopback, SQLite")
            print(f"  ours (full stack): median {o_med:.1f} ms, p99 {o_p99:.1f} ms, {ours_rps:,.0f} acks/s")
            print(f"  bare slack-bolt ack: median {b_med:.1f} ms, p99 {b_p99:.1f} ms, {b_rps:,.0f} acks/s")
            print(
                f"  ours/bare: throughput {ours_rps / b_rps:.2f}, median {o_med / b_med:.2f}x, p99 {o_p99 / b_p99:.2f}x"
            )
            results.append(
                {
                    "concurrency": concurrency,
                    "ours_median_ms": round(o_med, 2),
                    "ours_p99_ms": round(o_p99, 2),
                    "ours_rps": round(ours_rps),
                    "bare_median_ms": round(b_med, 2),
                    "bare_p99_ms": round(b_p99, 2),
                    "bare_rps": round(b_rps),
                    "throughput_ratio": round(ours_rps / b_rps, 3),
                    "p99_ratio": round(o_p99 / b_p99, 3),
                }
            )
        inbound, outbound, methods = await whole_check(Path(tmp) / "check.db", fake)
    await fake.stop()
    at50, at200 = results
    print(
        "targets: at 50, median < 50 ms and p99 < 200 ms -> "
        + ("met" if at50["ours_median_ms"] < 50 and at50["ours_p99_ms"] < 200 else "MISSED")
        + "; at 200, throughput >= 0.5 of bare and p99 <= 2x -> "
        + ("met" if at200["throughput_ratio"] >= 0.5 and at200["p99_ratio"] <= 2 else "MISSED")
    )
    print(f"one whole check: {inbound} requests from Slack + {outbound} Web API calls = {inbound + outbound}")
    print("  Web API calls: " + ", ".join(f"{m} {k}" for m, k in sorted(methods.items())))
    print(
        json.dumps(
            {
                "bench": "slack_ack",
                "loads": results,
                "check_inbound_requests": inbound,
                "check_web_api_calls": outbound,
                "check_http_requests": inbound + outbound,
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
