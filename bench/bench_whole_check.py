"""Complete checks per second through each adapter over HTTP, against the engine alone in the same run.

Slack: signed slash command, button clicks and modal submissions to /slack/events, with the fake Web API.
Teams: Activity JSON with Action.Execute submissions to /api/messages, with the fake connector.
Both on SQLite, each practitioner doing one whole check, 4 practitioners at a time. The baseline is the
engine alone (no HTTP, no database), so the ratio is what the whole stack costs per check.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer

from bench.bench_engine import run_engine, script
from bot.clock import ManualClock
from bot.runtime import Runtime
from bot.settings import Settings
from dialogs.content import load_pack
from dialogs.engine import Engine
from sharecheck.web import build_app
from tests.support.fake_connector import FakeConnector
from tests.support.fake_slack import BOT_TOKEN, FakeSlack
from tests.support.slack_requests import SECRET, Practitioner, opened_for, step_of
from tests.support.teams import Session, activity
from tests.support.teams import step_of as card_step

CHECKS = 24
CONCURRENCY = 4
NOW = datetime(2026, 11, 24, 10, tzinfo=UTC)


@dataclass
class BenchPractitioner(Practitioner):
    """A practitioner who finds their own modal when others are at the same step.

    The test helper picks the latest views.open for the current step and revision, whoever it was opened
    for: with several practitioners at the same step it submitted someone else's modal, and then waited
    out its 5 s for an update of its own message that never came. Slack opens a modal for the trigger id
    of the click that asked for it, so this one remembers the trigger ids it sent and only takes a modal
    opened with one of them.
    """

    triggers: set[str] = field(default_factory=set)

    async def post(self, body: str, headers: Mapping[str, str] | None = None) -> ClientResponse:
        form = parse_qs(body)
        if "payload" in form:
            trigger = json.loads(form["payload"][0]).get("trigger_id")
        else:
            trigger = form.get("trigger_id", [None])[0]
        if trigger:
            self.triggers.add(trigger)
        return await super().post(body, headers)

    async def form(self) -> dict[str, Any]:
        message = self.check_message()
        step, revision = step_of(message)
        if self.pushed is not None and opened_for(self.pushed) == (step, revision):
            return {"id": "V" + str(revision), **self.pushed}

        def opened() -> dict[str, Any] | None:
            for call in reversed(self.fake.calls):
                if call.method == "views.open" and call.status == 200 and call.args.get("trigger_id") in self.triggers:
                    view: dict[str, Any] = call.args["view"]
                    if opened_for(view) == (step, revision):
                        return {"id": "V" + str(revision), **view}
            return None

        if opened() is None:
            await self.click("sc:form", message)
        view: dict[str, Any] = await self.fake.wait_for(opened)
        return view


async def slack_rate(db: Path) -> tuple[float, int]:
    fake = FakeSlack()
    await fake.start()
    settings = Settings(
        _env_file=None,
        database_url=f"sqlite+aiosqlite:///{db}",
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SECRET,
        slack_api_url=fake.api_url,
    )
    runtime = await Runtime.create(settings, clock=ManualClock(NOW), migrate=True)
    pack = runtime.packs.pack()
    requests = 0
    try:
        async with TestClient(TestServer(build_app(runtime))) as client:
            sem = asyncio.Semaphore(CONCURRENCY)

            async def one(i: int) -> int:
                async with sem:
                    who = BenchPractitioner(client, fake, "T0000001", f"U{i:07d}")
                    await who.start()
                    await who.complete(pack)
                    return who.requests

            started = time.perf_counter()
            counts = await asyncio.gather(*(one(i) for i in range(CHECKS)))
            elapsed = time.perf_counter() - started
            requests = sum(counts) // CHECKS
    finally:
        await runtime.close()
        await fake.stop()
    return CHECKS / elapsed, requests


async def teams_rate(db: Path) -> tuple[float, int]:
    connector = FakeConnector(record=True)
    await connector.start()
    settings = Settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{db}", sharecheck_teams_emulator=True)
    runtime = await Runtime.create(settings, clock=ManualClock(NOW), migrate=True)
    engine = Engine(load_pack("children-england-2024"))
    steps_per_check = 0
    try:
        async with TestClient(TestServer(build_app(runtime))) as client:
            sem = asyncio.Semaphore(CONCURRENCY)

            async def one(i: int) -> int:
                async with sem:
                    session = Session(client=client, connector=connector, engine=engine)
                    user = f"29:bench-{i}"
                    resp = await client.post(
                        "/api/messages",
                        json=activity(connector.url, text="share-check", user=user, conversation=f"a:{i}"),
                    )
                    assert resp.status == 202
                    card = next(c.cards()[-1] for c in reversed(connector.calls) if c.cards() and f"a:{i}" in c.path)
                    steps = 0
                    original = session.post

                    async def post_as(act: dict[str, Any], status: int | None = None) -> Any:
                        act["from"]["id"] = user
                        act["conversation"]["id"] = f"a:{i}"
                        return await original(act, status)

                    session.post = post_as  # type: ignore[method-assign]
                    while (step := card_step(card)) is not None:
                        card = await session.answer_step(card, step)
                        steps += 1
                    return steps

            started = time.perf_counter()
            counts = await asyncio.gather(*(one(i) for i in range(CHECKS)))
            elapsed = time.perf_counter() - started
            steps_per_check = sum(counts) // CHECKS
    finally:
        await runtime.close()
        await connector.stop()
    return CHECKS / elapsed, steps_per_check + 1


async def main() -> None:
    engine = Engine(load_pack("children-england-2024"))
    answers = script(engine)
    run_engine(engine, answers, 50)
    engine_rate = statistics.median(run_engine(engine, answers, 400) for _ in range(3))
    with tempfile.TemporaryDirectory() as tmp:
        slack, slack_requests = await slack_rate(Path(tmp) / "slack.db")
        teams, teams_requests = await teams_rate(Path(tmp) / "teams.db")
    print(f"engine alone: {engine_rate:,.0f} checks/s")
    print(
        f"Slack over HTTP: {slack:.1f} checks/s ({slack_requests} requests per check; engine/slack = "
        f"{engine_rate / slack:.0f}x)"
    )
    print(
        f"Teams over HTTP: {teams:.1f} checks/s ({teams_requests} requests per check; engine/teams = "
        f"{engine_rate / teams:.0f}x)"
    )
    print(
        json.dumps(
            {
                "bench": "whole_check",
                "engine_checks_per_s": round(engine_rate),
                "slack_checks_per_s": round(slack, 2),
                "slack_requests_per_check": slack_requests,
                "teams_checks_per_s": round(teams, 2),
                "teams_requests_per_check": teams_requests,
                "slack_ratio_to_engine": round(slack / engine_rate, 5),
                "teams_ratio_to_engine": round(teams / engine_rate, 5),
                "concurrency": CONCURRENCY,
                "checks": CHECKS,
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
