"""A first run that talks to people: readable logs on a terminal, JSON lines otherwise (or as set), a start-up
summary of the surfaces that are on and how to try a check, and no Agents SDK connection dump."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import IO

import pytest
from aiohttp import web

from bot.logging_setup import configure_logging, wants_json
from bot.runtime import Runtime
from bot.startup import Serving, database, startup_summary, teams
from sharecheck.web import build_app
from tests.support.settings import make_settings

SECRETS = ("xoxb-secret-token", "signing-secret-value", "xapp-secret-token", "app-password-value", "hunter2")


@asynccontextmanager
async def summary_of(url: str, scheduler: bool = True, **overrides: object) -> AsyncIterator[str]:
    settings = make_settings(url, **overrides)
    runtime = await Runtime.create(settings, migrate=True)
    try:
        yield startup_summary(settings, build_app(runtime), scheduler_on=scheduler)
    finally:
        await runtime.close()


def database_file(url: str) -> Path:
    return Path(url.split("///", 1)[1]).resolve()


async def test_a_fresh_machine_is_told_what_is_on_what_is_off_and_how_to_try_a_check(sqlite_url: str) -> None:
    async with summary_of(sqlite_url, port=3978) as summary:
        lines = summary.splitlines()
    assert lines[0] == "ShareCheck listening on http://127.0.0.1:3978"
    # (later settings that turn Slack on are named beside SLACK_BOT_TOKEN)
    assert re.search(r"^  Slack           off: SLACK_BOT_TOKEN( or \w+)* not set$", summary, re.MULTILINE)
    assert (
        "  Teams           off: MICROSOFT_APP_ID not set (or SHARECHECK_TEAMS_EMULATOR=true to try it on this machine)"
        in lines
    ), "no anonymous Teams door unless asked for"
    assert "  Receipt links   off: SHARECHECK_PUBLIC_URL not set" in lines
    assert f"  Database        SQLite, {database_file(sqlite_url)} (one instance)" in lines
    assert "  Scheduler       on: in this process, every 15 s (follow-ups, nudges, digests)" in lines
    assert "  Health          http://127.0.0.1:3978/healthz, /readyz, /metrics" in lines
    assert lines[lines.index("Try a check:") + 1].startswith("  make chat")
    assert "Teams on this machine: SHARECHECK_TEAMS_EMULATOR=true make run" in summary


async def test_every_surface_on_is_named_with_where_it_listens_and_no_secret(sqlite_url: str) -> None:
    async with summary_of(
        sqlite_url,
        scheduler=False,
        host="0.0.0.0",
        port=8080,
        slack_bot_token="xoxb-secret-token",
        slack_signing_secret="signing-secret-value",
        slack_app_token="xapp-secret-token",
        microsoft_app_id="11111111-2222-3333-4444-555555555555",
        microsoft_app_password="app-password-value",
        microsoft_app_tenant_id="tenant",
        microsoft_app_type="SingleTenant",
        sharecheck_public_url="https://sharecheck.example.org",
        sharecheck_secret_key="k" * 32,
    ) as summary:
        lines = summary.splitlines()
    assert lines[0] == "ShareCheck listening on every interface, port 8080 (here: http://127.0.0.1:8080)"
    slack = next(line for line in lines if line.startswith("  Slack"))
    assert "on: requests at https://sharecheck.example.org/slack/events, signatures checked" in slack
    assert "Socket Mode (SLACK_APP_TOKEN)" in slack
    assert (
        "  Teams           on: app id 11111111-2222-3333-4444-555555555555, tokens checked: "
        "http://127.0.0.1:8080/api/messages (Azure Bot messaging endpoint https://sharecheck.example.org/api/messages)"
    ) in lines
    assert "  Receipt links   on: https://sharecheck.example.org/r/... on shares with another agency" in summary
    assert "  Scheduler       off: --no-scheduler: run `sharecheck scheduler` beside it" in lines
    assert "in Slack: /share-check" in summary and "in Teams: message the bot share-check" in summary
    assert not [secret for secret in SECRETS if secret in summary]


def test_the_database_is_named_without_credentials() -> None:
    settings = make_settings("postgres://sharecheck:hunter2@db-host:5432/sharecheck?password=hunter2")
    line = database(Serving(settings, web.Application(), True)).line()
    assert line == "  Database        PostgreSQL, postgresql+asyncpg://db-host:5432/sharecheck"


def test_teams_off_names_the_setting_that_turns_it_on(sqlite_url: str) -> None:
    # an app without the Teams route (as when Teams is switched off)
    line = teams(Serving(make_settings(sqlite_url), web.Application(), True)).line()
    assert line.startswith("  Teams           off: MICROSOFT_APP_ID not set")
    assert line.endswith("(or SHARECHECK_TEAMS_EMULATOR=true to try it on this machine)")


# --- log formats ---------------------------------------------------------------------------------------


@contextmanager
def terminal() -> Iterator[tuple[IO[str], int]]:
    """A real pseudo-terminal: what a person running `make run` has on stderr."""
    master, slave = os.openpty()
    stream = os.fdopen(slave, "w")
    try:
        yield stream, master
    finally:
        stream.close()
        os.close(master)


def read_terminal(master: int) -> str:
    """What an exited process wrote to the terminal (it is all buffered by now)."""
    chunks = []
    while select.select([master], [], [], 0.5)[0]:
        chunks.append(os.read(master, 65536))
    return b"".join(chunks).decode().replace("\r\n", "\n")


def test_auto_is_text_on_a_terminal_and_json_otherwise_unless_forced() -> None:
    with terminal() as (tty, _master):
        assert wants_json("auto", tty) is False
        assert wants_json("json", tty) is True
    assert wants_json("auto", io.StringIO()) is True
    assert wants_json("text", io.StringIO()) is False
    with pytest.raises(ValueError):
        wants_json("xml", io.StringIO())


def test_text_lines_carry_the_request_fields_and_never_an_exception_message() -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        configure_logging(logging.INFO, log_format="text", stream=stream)
        log = logging.getLogger("bot.test")
        log.info("request", extra={"request_id": "r-1", "route": "/healthz", "status": 200})
        try:
            raise ValueError("Jayden Okonkwo-Whitfield")
        except ValueError:
            log.exception("failed")
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)
    first, second = stream.getvalue().splitlines()[:2]
    assert first.endswith("INFO    bot.test: request  [request_id=r-1 route=/healthz status=200]")
    assert second.endswith("ERROR   bot.test: failed")
    assert "builtins.ValueError" in stream.getvalue() and "Okonkwo" not in stream.getvalue()
    assert not first.startswith("{")


async def test_the_agents_sdk_connection_dump_stays_out_of_the_default_log(sqlite_url: str) -> None:
    stream = io.StringIO()
    root, sdk = logging.getLogger(), logging.getLogger("microsoft_agents")
    saved = (list(root.handlers), root.level, sdk.level)
    try:
        configure_logging(logging.INFO, log_format="json", stream=stream)
        runtime = await Runtime.create(make_settings(sqlite_url), migrate=True)
        try:
            build_app(runtime)  # mounting Teams is when the SDK logs its connections
        finally:
            await runtime.close()
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])
        sdk.setLevel(saved[2])
    assert "Connections" not in stream.getvalue()
    assert "microsoft_agents" not in stream.getvalue()


# --- sharecheck serve, as a person and as a log collector see it ----------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve_env(tmp_path: Path, port: int | None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHARECHECK_", "SLACK_", "MICROSOFT_"))}
    env |= {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'serve.db'}"} | extra
    return env | ({"PORT": str(port)} if port else {})


def run_serve(env: dict[str, str], port: int, on_terminal: bool) -> str:
    """Start `sharecheck serve`, wait until it is ready, stop it with SIGTERM; what it wrote to stderr."""
    chunks: list[bytes] = []
    if on_terminal:
        master, slave = os.openpty()
        proc = subprocess.Popen([sys.executable, "-m", "sharecheck", "serve"], env=env, stdout=slave, stderr=slave)
        os.close(slave)

        def drain() -> None:
            while True:
                try:
                    data = os.read(master, 4096)
                except OSError:  # the terminal closed with the process
                    return
                if not data:
                    return
                chunks.append(data)

        reader = threading.Thread(target=drain, daemon=True)
        reader.start()
    else:
        proc = subprocess.Popen([sys.executable, "-m", "sharecheck", "serve"], env=env, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as resp:
                    assert resp.status == 200
                    break
            except OSError:
                assert proc.poll() is None, "serve stopped"
                assert time.monotonic() < deadline, "serve did not come up"
                time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        if on_terminal:
            reader.join(timeout=10)
            os.close(master)
        else:
            assert proc.stderr is not None
            chunks.append(proc.stderr.read())
    finally:
        if proc.poll() is None:
            proc.kill()
    return b"".join(chunks).decode().replace("\r\n", "\n")


def test_serve_on_a_terminal_writes_readable_lines_and_the_summary(tmp_path: Path) -> None:
    port = free_port()
    out = run_serve(serve_env(tmp_path, port), port, on_terminal=True)
    assert "sharecheck.server: ShareCheck listening on http://127.0.0.1:" in out
    assert "\n  Slack           off: SLACK_BOT_TOKEN" in out
    assert "\nTry a check:\n  make chat" in out
    assert not [line for line in out.splitlines() if line.startswith("{")]
    assert "Connections" not in out and "microsoft_agents" not in out


def test_serve_to_a_log_collector_writes_json_lines_with_the_summary_as_one(tmp_path: Path) -> None:
    port = free_port()
    out = run_serve(serve_env(tmp_path, port), port, on_terminal=False)
    records = [json.loads(line) for line in out.splitlines() if line.strip()]
    summaries = [r for r in records if r["message"].startswith("ShareCheck listening on")]
    assert len(summaries) == 1 and "Slack           off: SLACK_BOT_TOKEN" in summaries[0]["message"]
    assert not [r for r in records if r["logger"].startswith("microsoft_agents") or "Connections" in r["message"]]


@pytest.mark.parametrize(("log_format", "on_terminal", "json_lines"), [("text", False, False), ("json", True, True)])
def test_the_log_format_setting_wins_over_the_terminal(
    tmp_path: Path, log_format: str, on_terminal: bool, json_lines: bool
) -> None:
    env = serve_env(tmp_path, None, SHARECHECK_LOG_FORMAT=log_format)
    cmd = [sys.executable, "-m", "sharecheck", "scheduler", "--once"]
    if on_terminal:
        with terminal() as (tty, master):
            result = subprocess.run(cmd, env=env, stderr=tty, timeout=60, check=False)
            out = read_terminal(master)
    else:
        done = subprocess.run(cmd, env=env, stderr=subprocess.PIPE, text=True, timeout=60, check=False)
        result, out = done, done.stderr
    assert result.returncode == 0, out
    passes = [line for line in out.splitlines() if "scheduler pass:" in line]
    assert len(passes) == 1
    assert passes[0].startswith("{") is json_lines


def test_an_unknown_log_format_is_refused(tmp_path: Path) -> None:
    env = serve_env(tmp_path, None, SHARECHECK_LOG_FORMAT="xml")
    result = subprocess.run(
        [sys.executable, "-m", "sharecheck", "packs"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2 and "SHARECHECK_LOG_FORMAT" in result.stderr.upper()
