"""The web server's health, readiness and metrics; settings parsing; refusing unsafe start-up."""

from __future__ import annotations

from datetime import timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import text

from bot.runtime import Runtime
from bot.settings import Settings
from sharecheck.server import StartupRefused, check_safe_to_serve
from sharecheck.web import build_app
from tests.support.settings import T0, make_settings


@pytest.fixture
async def client(runtime: Runtime):
    async with TestClient(TestServer(build_app(runtime))) as c:
        yield c


async def test_healthz(client: TestClient) -> None:
    resp = await client.get("/healthz")
    assert resp.status == 200
    assert await resp.json() == {"status": "ok"}


async def test_readyz_says_ready_or_not_and_nothing_more(client: TestClient, runtime: Runtime) -> None:
    resp = await client.get("/readyz")
    assert resp.status == 200
    assert await resp.json() == {"status": "ready"}  # no schema revision for a stranger to read
    async with runtime.engine.begin() as conn:
        await conn.execute(text("UPDATE alembic_version SET version_num = 'old'"))
    resp = await client.get("/readyz")
    assert resp.status == 503
    assert await resp.json() == {"status": "unavailable"}  # the reason is in the log, not the answer


async def test_readyz_when_the_database_is_gone(tmp_path) -> None:
    rt = await Runtime.create(make_settings("postgresql+asyncpg://nobody@127.0.0.1:1/none"), migrate=False)
    try:
        async with TestClient(TestServer(build_app(rt))) as c:
            resp = await c.get("/readyz")
            assert resp.status == 503
            assert await resp.json() == {"status": "unavailable"}
    finally:
        await rt.close()


async def test_metrics_in_prometheus_format(client: TestClient) -> None:
    await client.get("/healthz")
    resp = await client.get("/metrics")
    assert resp.status == 200
    assert resp.content_type == "text/plain"
    body = await resp.text()
    assert 'sharecheck_http_requests_total{route="/healthz",status="200"}' in body
    assert "sharecheck_checks_started_total" in body or "# HELP sharecheck_checks_started_total" in body


async def test_unknown_route_is_404(client: TestClient) -> None:
    resp = await client.get("/nope")
    assert resp.status == 404


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("PT4H", timedelta(hours=4)),
        ("P1DT2H", timedelta(days=1, hours=2)),
        ("90", timedelta(seconds=90)),
        ("1.5", timedelta(seconds=1.5)),
    ],
)
def test_durations_are_iso8601_or_seconds(value: str, expected: timedelta, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHARECHECK_CONFIRM_AFTER", value)
    assert Settings(_env_file=None).sharecheck_confirm_after == expected  # type: ignore[call-arg]


def test_defaults_match_the_design() -> None:
    s = Settings(_env_file=None)  # type: ignore[call-arg]
    assert s.database_url == "sqlite+aiosqlite:///./var/sharecheck.db"
    assert (s.host, s.port) == ("127.0.0.1", 3978)
    assert s.sharecheck_confirm_after == timedelta(hours=4)
    assert s.sharecheck_nudge_every == timedelta(hours=24)
    assert s.sharecheck_escalate_after == timedelta(hours=72)
    assert s.sharecheck_urgent_written_confirmation_hours == 48
    assert s.sharecheck_scheduler_interval == timedelta(seconds=15)
    assert s.sharecheck_content_pack == "children-england-2024"
    assert s.sharecheck_working_hours == "Mon-Fri 08:00-18:00"
    assert s.slack_api_url == "https://slack.com/api/"
    assert not s.slack_enabled and not s.teams_enabled and not s.teams_emulator_mode


def test_local_links_come_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "SHARECHECK_LOCAL_LINKS", '[{"title": "West Midlands procedures", "url": "https://example.org/wm"}]'
    )
    s = Settings(_env_file=None)  # type: ignore[call-arg]
    assert s.sharecheck_local_links[0].title == "West Midlands procedures"


async def test_local_links_appear_at_the_start_and_on_the_summary(db_url: str) -> None:
    settings = make_settings(
        db_url, sharecheck_local_links=[{"title": "Local procedures", "url": "https://example.org/p"}]
    )
    rt = await Runtime.create(settings, migrate=True)
    try:
        engine = rt.packs.engine()
        first = engine.start(T0).message
        assert [link.title for link in first.links] == ["Local procedures"]
    finally:
        await rt.close()


def test_bad_settings_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    monkeypatch.setenv("PORT", "70000")
    with pytest.raises(ValidationError):
        Settings(_env_file=None)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"slack_bot_token": "xoxb-1"}, "SLACK_SIGNING_SECRET"),
        ({"host": "0.0.0.0", "sharecheck_teams_emulator": True}, "emulator mode"),
        ({"host": "10.1.2.3", "sharecheck_teams_emulator": True}, "emulator mode"),
    ],
)
def test_serve_refuses_unsafe_configurations(overrides: dict, problem: str) -> None:
    with pytest.raises(StartupRefused, match=problem):
        check_safe_to_serve(Settings(_env_file=None, **overrides))  # type: ignore[call-arg]


def test_serve_accepts_safe_configurations() -> None:
    check_safe_to_serve(Settings(_env_file=None))  # type: ignore[call-arg]
    check_safe_to_serve(Settings(_env_file=None, host="0.0.0.0", microsoft_app_id="app"))  # type: ignore[call-arg]
    # Slack alone (no Teams, so no emulator) may listen on the network
    check_safe_to_serve(Settings(_env_file=None, host="0.0.0.0", slack_bot_token="xoxb-1", slack_signing_secret="s"))  # type: ignore[call-arg]
    check_safe_to_serve(Settings(_env_file=None, slack_bot_token="xoxb-1", slack_signing_secret="s"))  # type: ignore[call-arg]


def test_sharecheck_serve_starts_answers_and_stops_cleanly(tmp_path) -> None:
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHARECHECK_", "SLACK_", "MICROSOFT_"))}
    env |= {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'serve.db'}", "PORT": str(port)}
    proc = subprocess.Popen([sys.executable, "-m", "sharecheck", "serve"], env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as resp:
                    assert resp.status == 200
                    break
            except OSError:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                assert time.monotonic() < deadline, "serve did not come up"
                time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
