"""Fixtures of the adapter tests: the web app under a test client, the fake Bot Framework connector, a Teams tenant."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.runtime import Runtime
from sharecheck.web import build_app
from tests.support.fake_connector import FakeConnector
from tests.support.teams_followups import Teams


@pytest.fixture
async def connector() -> AsyncIterator[FakeConnector]:
    fake = FakeConnector()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(build_app(runtime))) as c:
        yield c


@pytest.fixture
def teams(runtime: Runtime, client: TestClient, connector: FakeConnector) -> Teams:
    return Teams(runtime, client, connector)
