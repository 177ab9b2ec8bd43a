"""The real Slack stack on a test server (Bolt app, fake Web API, Runtime) and draining its background work."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from adapters.slack import SLACK_ADAPTER
from bot.clock import ManualClock
from bot.runtime import Runtime
from sharecheck.web import build_app
from tests.support.fake_slack import BOT_TOKEN, FakeSlack
from tests.support.settings import make_settings
from tests.support.slack_requests import (
    SECRET,
)


@asynccontextmanager
async def slack_stack(
    db_url: str, clock: ManualClock, **settings: Any
) -> AsyncIterator[tuple[Runtime, FakeSlack, TestClient[Any, Any]]]:
    fake = FakeSlack()
    await fake.start()
    runtime = await Runtime.create(
        make_settings(
            db_url,
            slack_bot_token=BOT_TOKEN,
            slack_signing_secret=SECRET,
            slack_api_url=fake.api_url,
            **settings,
        ),
        clock=clock,
        migrate=True,
    )
    try:
        async with TestClient(TestServer(build_app(runtime))) as client:
            yield runtime, fake, client
    finally:
        await runtime.close()
        await fake.stop()


async def drain(client: TestClient[Any, Any]) -> None:
    async with asyncio.timeout(10):
        await client.app[SLACK_ADAPTER].drain()
