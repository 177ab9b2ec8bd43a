"""Smaller doors: console receipt links can be withdrawn, bearer links need https off loopback, /metrics can have a
listener of its own, /readyz says only ready or not, and no response names the server's versions."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import ValidationError

from bot.checks.models import Actor
from bot.clock import ManualClock
from bot.runtime import Runtime
from bot.settings import Settings
from bot.web import SERVER_NAME, build_metrics_app
from sharecheck.server import StartupRefused, check_safe_to_serve
from sharecheck.web import build_app
from tests.support.cli import run
from tests.support.receipts import finish, receipt_runtime, token_of
from tests.support.settings import make_settings
from tests.support.teams import EMULATOR

CONSOLE_USER = Actor("console", "local", "sam")


def clean_env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHARECHECK_", "SLACK_", "MICROSOFT_"))}
    return env | values


# --- console users: revoke and show-as -------------------------------------------------------------


async def test_console_users_can_revoke_and_name_themselves_from_the_command_line(
    tmp_path: Path, clock: ManualClock
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'sc.db'}"
    env = clean_env(DATABASE_URL=url)
    who = ["--platform", "console", "--user", CONSOLE_USER.user_id]
    shown = await asyncio.to_thread(run, ["show-as", *who, "Sam Patel"], env)
    assert shown.returncode == 0, shown.stderr
    # the CLI runs on the real clock: a long-lived link keeps the test independent of today's date
    async with receipt_runtime(url, clock, sharecheck_receipt_ttl=timedelta(days=36500)) as rt:
        _, done = await finish(rt, CONSOLE_USER, {"case_reference": "CS-2024-0420"})
        token = token_of(done)
        view = await rt.receipts.view(token)
        assert view is not None and view.shared_by.startswith("Sam Patel")
        revoked = await asyncio.to_thread(run, ["revoke", *who, "--workspace", "local", "CS-2024-0420"], env)
        assert revoked.returncode == 0 and "revoked 1 receipt link(s)" in revoked.stderr, revoked.stderr
        assert await rt.receipts.view(token) is None
        # another console user cannot withdraw it; a console 'workspace' other than local is a mistake
        other = await asyncio.to_thread(run, ["revoke", "--platform", "console", "--user", "kim", "CS-2024-0420"], env)
        assert other.returncode == 1 and "No live receipt link of yours" in other.stderr
    wrong = await asyncio.to_thread(run, ["revoke", *who, "--workspace", "T1", "CS-2024-0420"], env)
    assert wrong.returncode == 2 and "workspace 'local'" in wrong.stderr
    # chat platforms still name both
    vague = await asyncio.to_thread(run, ["revoke", "--platform", "slack", "--user", "U1", "CS-2024-0420"], env)
    assert vague.returncode == 2 and "--workspace and --user are required" in vague.stderr


# --- the public URL ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["http://sharecheck.example.org", "http://10.0.0.5:3978", "http://[fd00::1]/", "http://127.0.0.1.nip.io/"]
)
def test_a_public_url_without_https_is_refused_off_loopback(url: str) -> None:
    with pytest.raises(ValidationError, match="SHARECHECK_PUBLIC_URL must start with https://"):
        make_settings("sqlite+aiosqlite://", sharecheck_public_url=url)


@pytest.mark.parametrize(
    "url", ["https://sharecheck.example.org", "http://127.0.0.1:3978", "http://localhost:8080/", "http://[::1]:3978"]
)
def test_https_or_a_loopback_public_url_is_accepted(url: str) -> None:
    assert make_settings("sqlite+aiosqlite://", sharecheck_public_url=url).sharecheck_public_url is not None


# --- /metrics on its own listener, /readyz, the Server header --------------------------------------------


@pytest.fixture
async def split(sqlite_url: str) -> AsyncIterator[tuple[TestClient, TestClient]]:
    runtime = await Runtime.create(make_settings(sqlite_url, sharecheck_metrics_port=9464), migrate=True)
    try:
        async with (
            TestClient(TestServer(build_app(runtime))) as public,
            TestClient(TestServer(build_metrics_app(runtime))) as private,
        ):
            yield public, private
    finally:
        await runtime.close()


async def test_a_metrics_port_takes_metrics_off_the_public_listener(split: tuple[TestClient, TestClient]) -> None:
    public, private = split
    await public.get("/healthz")
    assert (await public.get("/metrics")).status == 404
    scraped = await private.get("/metrics")
    assert scraped.status == 200 and 'route="/healthz"' in await scraped.text()
    for path in ("/healthz", "/readyz", "/api/messages", "/r/x"):
        assert (await private.get(path)).status == 404  # the metrics listener serves nothing else


def test_the_metrics_port_must_differ_from_the_public_one() -> None:
    with pytest.raises(ValidationError, match="must differ from PORT"):
        Settings(_env_file=None, port=3978, sharecheck_metrics_port=3978)  # type: ignore[call-arg]
    settings = Settings(_env_file=None, sharecheck_metrics_port=9464)  # type: ignore[call-arg]
    settings.port = 9464  # as `sharecheck serve --port` sets it, after validation
    with pytest.raises(StartupRefused, match="SHARECHECK_METRICS_PORT"):
        check_safe_to_serve(settings)


async def test_no_response_names_the_server_software(sqlite_url: str) -> None:
    runtime = await Runtime.create(make_settings(sqlite_url, **EMULATOR), migrate=True)
    app = build_app(runtime, max_body=1024)

    async def boom(_request: web.Request) -> web.Response:
        raise RuntimeError("a bug")

    app.router.add_get("/boom", boom)
    try:
        async with TestClient(TestServer(app)) as client:
            responses = [
                await client.get("/healthz"),
                await client.get("/readyz"),
                await client.get("/metrics"),
                await client.get("/nope"),  # 404
                await client.post("/healthz"),  # 405
                await client.get("/boom"),  # 500
                await client.post("/api/messages", data=b"x" * 2048, headers={"Content-Type": "application/json"}),
                await client.post("/api/messages", data=b"{}", headers={"Content-Type": "text/plain"}),  # 415
                await client.post("/api/messages", json={"type": "message"}),  # 400
                await client.post("/api/messages", json={}, headers={"X-Forwarded-For": "203.0.113.7"}),  # 403
            ]
            statuses = [r.status for r in responses]
            assert statuses == [200, 200, 200, 404, 405, 500, 413, 415, 400, 403]
            assert {r.headers.get("Server") for r in responses} == {SERVER_NAME}
    finally:
        await runtime.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 (our own loopback URLs)
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[int, int]]:
    """`sharecheck serve` with a metrics port, no chat platform configured (the newcomer's first run)."""
    port, metrics_port = _free_port(), _free_port()
    env = clean_env(
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'serve.db'}",
        PORT=str(port),
        SHARECHECK_METRICS_PORT=str(metrics_port),
    )
    proc = subprocess.Popen([sys.executable, "-m", "sharecheck", "serve"], env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2):
                    break
            except OSError:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                assert time.monotonic() < deadline, "serve did not come up"
                time.sleep(0.2)
        yield port, metrics_port
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_serve_splits_metrics_off_and_names_no_versions_even_to_malformed_requests(served: tuple[int, int]) -> None:
    port, metrics_port = served
    public, private = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{metrics_port}"
    seen = {
        "/metrics public": _get(f"{public}/metrics"),
        "/metrics private": _get(f"{private}/metrics"),
        "/readyz": _get(f"{public}/readyz"),
        "/api/messages": _get(f"{public}/api/messages"),
        "/healthz private": _get(f"{private}/healthz"),
    }
    assert {name: status for name, (status, _, _) in seen.items()} == {
        "/metrics public": 404,
        "/metrics private": 200,
        "/readyz": 200,
        "/api/messages": 404,  # no Teams settings: no Teams door
        "/healthz private": 404,
    }
    assert seen["/readyz"][2] == b'{"status": "ready"}'
    assert b"sharecheck_http_requests_total" in seen["/metrics private"][2]
    # a request aiohttp refuses before any app sees it (a malformed header line) gets a 400 of aiohttp's own
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        raw.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nNot a header\r\n\r\n")
        head = raw.recv(4096).decode("latin-1")
    assert head.split(" ", 2)[1] == "400", head
    servers = [headers.get("Server") for _, headers, _ in seen.values()]
    servers += [line.split(":", 1)[1].strip() for line in head.splitlines() if line.lower().startswith("server:")]
    assert servers == [SERVER_NAME] * 6
