"""Several instances on one PostgreSQL: migrations once, and a conversation that moves between instances."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from dialogs.content import load_pack
from dialogs.engine import Engine
from tests.support.fake_connector import FakeConnector
from tests.support.teams import Session, step_of

pytestmark = pytest.mark.postgres


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def env_for(url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHARECHECK_", "SLACK_", "MICROSOFT_"))}
    return env | {"DATABASE_URL": url, **extra}


def plain_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def test_instances_starting_together_migrate_once(postgres_url: str) -> None:
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "db",
            "upgrade",
            env=env_for(postgres_url),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(3)
    ]
    results = await asyncio.gather(*(p.communicate() for p in procs))
    assert [p.returncode for p in procs] == [0, 0, 0], [r[1].decode()[-500:] for r in results]
    con = await asyncpg.connect(plain_dsn(postgres_url))
    try:
        versions = await con.fetch("SELECT version_num FROM alembic_version")
    finally:
        await con.close()
    from bot.db.migrate import head_revision

    assert [r["version_num"] for r in versions] == [head_revision()]


class Alternating:
    """Looks like aiohttp's TestClient to tests.support.teams.Session, but sends each request to the next instance."""

    def __init__(self, session: aiohttp.ClientSession, bases: list[str]) -> None:
        self.session = session
        self.bases = bases
        self.sent = [0] * len(bases)
        self._next = 0

    async def post(self, path: str, json: Any) -> aiohttp.ClientResponse:
        i = self._next
        self._next = (self._next + 1) % len(self.bases)
        self.sent[i] += 1
        resp = await self.session.post(self.bases[i] + path, json=json)
        await resp.read()
        return resp


@pytest.fixture
async def two_servers(postgres_url: str, tmp_path: Path) -> AsyncIterator[list[str]]:
    ports = [free_port(), free_port()]
    logs = [(tmp_path / f"serve-{port}.log").open("w") for port in ports]
    procs = [
        subprocess.Popen(  # a file, not a pipe, for the logs: a full pipe would stall the server
            [sys.executable, "-m", "sharecheck", "serve", "--no-scheduler"],
            env=env_for(postgres_url, PORT=str(port), SHARECHECK_TEAMS_EMULATOR="true"),  # the check runs over Teams
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        for port, log in zip(ports, logs, strict=True)
    ]
    bases = [f"http://127.0.0.1:{p}" for p in ports]
    try:
        async with aiohttp.ClientSession() as http:
            for base, proc in zip(bases, procs, strict=True):
                for _ in range(300):
                    assert proc.poll() is None, "a server exited at start; see its log in the test's tmp_path"
                    try:
                        async with http.get(base + "/readyz") as r:
                            if r.status == 200:
                                break
                    except aiohttp.ClientError:
                        pass
                    await asyncio.sleep(0.1)
                else:
                    raise AssertionError(f"{base} never became ready")
        yield bases
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            assert proc.wait(timeout=30) == 0, "graceful shutdown"
        for log in logs:
            log.close()


async def test_a_conversation_continues_across_instances(two_servers: list[str], postgres_url: str) -> None:
    connector = FakeConnector()
    await connector.start()
    try:
        async with aiohttp.ClientSession() as http:
            client = Alternating(http, two_servers)
            session = Session(client=client, connector=connector, engine=Engine(load_pack("children-england-2024")))  # type: ignore[arg-type]
            card = await session.say("share-check")
            steps = 0
            while (step := step_of(card)) is not None:
                card = await session.answer_step(card, step)
                steps += 1
                assert steps < 60
        assert min(client.sent) >= 4, f"both instances served several steps of the check: {client.sent}"
    finally:
        await connector.stop()
    con = await asyncpg.connect(plain_dsn(postgres_url))
    try:
        row = await con.fetchrow("SELECT status, decision, revision, events_seq FROM checks")
        answered = await con.fetchval("SELECT COUNT(*) FROM check_events WHERE kind = 'answered'")
    finally:
        await con.close()
    assert row["status"] == "completed" and row["decision"] == "share"
    assert answered == steps == row["revision"], "every step recorded exactly once, wherever it was answered"
