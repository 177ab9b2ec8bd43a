"""No anonymous Teams door: /api/messages exists only with Bot Framework credentials or with emulator mode asked
for, and emulator mode (no token checks) keeps to this machine: one fixed tenant, replies only to a loopback
serviceUrl, no proxied requests. (With an app id, tests/adapters/test_teams_auth.py.)"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer
from pydantic import ValidationError
from sqlalchemy import func, select

from bot.db.models import Check, PlatformUser, ProcessedRequest
from bot.runtime import Runtime
from bot.settings import Settings
from sharecheck.platforms import build_deliverers
from sharecheck.web import build_app
from tests.support.fake_connector import FakeConnector
from tests.support.settings import make_settings
from tests.support.teams import EMULATOR, TENANT, USER, WORKSPACE, activity, step_of

OTHER_TENANT = "0d1e2f3a-0000-4000-8000-00000000cafe"


@pytest.fixture
async def emulator(sqlite_url: str) -> AsyncIterator[tuple[Runtime, TestClient]]:
    runtime = await Runtime.create(make_settings(sqlite_url, **EMULATOR), migrate=True)
    try:
        async with TestClient(TestServer(build_app(runtime))) as client:
            yield runtime, client
    finally:
        await runtime.close()


async def nothing_recorded(runtime: Runtime) -> bool:
    async with runtime.sessions() as s:
        counts = [await s.scalar(select(func.count()).select_from(m)) for m in (Check, PlatformUser, ProcessedRequest)]
    return counts == [0, 0, 0]


async def test_without_teams_settings_there_is_no_teams_door(runtime: Runtime, connector: FakeConnector) -> None:
    # a Slack-only (or console-only) deployment: no app id, no emulator mode
    assert not runtime.settings.teams_enabled
    async with TestClient(TestServer(build_app(runtime))) as client:
        for act in (activity(connector.url, text="share-check"), activity(connector.url, text="pending")):
            resp = await client.post("/api/messages", json=act)
            assert resp.status == 404
    assert connector.calls == []
    assert await nothing_recorded(runtime)
    assert "teams" not in build_deliverers(runtime)  # nor does the scheduler try to reach anyone there


async def test_emulator_mode_is_asked_for_and_keeps_one_tenant_whatever_the_body_says(
    emulator: tuple[Runtime, TestClient], connector: FakeConnector
) -> None:
    runtime, client = emulator
    assert runtime.settings.teams_emulator_mode and "teams" in build_deliverers(runtime)
    assert (await client.post("/api/messages", json=activity(connector.url, text="share-check"))).status == 202
    # the same user id naming another tenant is the same person in the same (only) workspace
    resumed = activity(connector.url, text="resume", tenant=OTHER_TENANT)
    assert (await client.post("/api/messages", json=resumed)).status == 202
    async with runtime.sessions() as s:
        checks = list(await s.scalars(select(Check)))
        users = list(await s.scalars(select(PlatformUser)))
    assert [(c.workspace_id, c.user_id) for c in checks] == [(WORKSPACE, USER)]
    assert {u.workspace_id for u in users} == {WORKSPACE} and TENANT != WORKSPACE
    first = runtime.packs.pack().start
    assert step_of(connector.cards()[-1]) == first, "the second message resumed the first message's check"


@pytest.mark.parametrize(
    "service_url",
    [
        "https://smba.trafficmanager.net/emea/",
        "http://10.0.0.5:8080/",
        "http://169.254.169.254/latest/",
        "http://[fd00::1]/",
        "http://127.0.0.1@internal.example/",  # the host is internal.example, not the user info
        "http://localhost.internal.example/",
        "http://2130706433/",  # 127.0.0.1 as a number: not an address we take at face value
        "http://[::ffff:10.0.0.5]/",
        "file:///etc/passwd",
        "ftp://127.0.0.1/",
    ],
)
async def test_emulator_mode_refuses_a_service_url_off_this_machine(
    emulator: tuple[Runtime, TestClient], service_url: str
) -> None:
    runtime, client = emulator
    resp = await client.post("/api/messages", json=activity(service_url, text="share-check"))
    assert resp.status == 403 and "loopback serviceUrl" in (await resp.json())["error"]
    assert await nothing_recorded(runtime)  # refused before the turn: no dedupe key, no user, no check


async def test_emulator_mode_takes_every_loopback_service_url(
    emulator: tuple[Runtime, TestClient], connector: FakeConnector
) -> None:
    _, client = emulator
    port = connector.url.rsplit(":", 1)[1]
    for url in (connector.url, f"http://localhost:{port}", f"http://LOCALHOST:{port}"):
        before = len(connector.calls)
        assert (await client.post("/api/messages", json=activity(url, text="help"))).status == 202
        assert len(connector.calls) == before + 1


@pytest.mark.parametrize(
    "header",
    [
        {"X-Forwarded-For": "203.0.113.7"},
        {"Forwarded": "for=203.0.113.7;proto=https"},
        {"X-Forwarded-For": "127.0.0.1"},  # even a proxy that says the client is local
        {"X-Real-IP": "203.0.113.7"},
    ],
)
async def test_emulator_mode_refuses_proxied_requests(
    emulator: tuple[Runtime, TestClient], connector: FakeConnector, header: dict[str, str]
) -> None:
    runtime, client = emulator
    resp = await client.post("/api/messages", json=activity(connector.url, text="share-check"), headers=header)
    assert resp.status == 403 and "proxied" in (await resp.json())["error"]
    assert connector.calls == []
    assert await nothing_recorded(runtime)


def test_emulator_mode_and_an_app_id_do_not_mix() -> None:
    with pytest.raises(ValidationError, match="SHARECHECK_TEAMS_EMULATOR=true and MICROSOFT_APP_ID"):
        Settings(_env_file=None, sharecheck_teams_emulator=True, microsoft_app_id="app")  # type: ignore[call-arg]
    with_app_id = Settings(_env_file=None, microsoft_app_id="app")  # type: ignore[call-arg]
    assert with_app_id.teams_enabled and not with_app_id.teams_emulator_mode
