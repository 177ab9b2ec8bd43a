"""Slack people and follow-up steps through the real Bolt stack: share with a colleague, ask, press, type a note."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import select

from bot.db.models import FollowUp
from bot.runtime import Runtime
from bot.scheduler import Scheduler
from dialogs.state import Recipient
from tests.support.fake_slack import FakeSlack, Message
from tests.support.slack_requests import (
    Practitioner,
    input_values,
    interaction_body,
    view_payload,
)
from tests.support.slack_stack import drain

TEAM = "T0000001"

ALICE = "U0000001"  # the practitioner who shares

BOB = "U0000002"  # a colleague in the workspace she shares with

Stack = tuple[Runtime, FakeSlack, TestClient[Any, Any]]


async def follow_ups(runtime: Runtime) -> list[FollowUp]:
    async with runtime.sessions() as s:
        return list(await s.scalars(select(FollowUp).order_by(FollowUp.created_at)))


def text_of(message: Message) -> str:
    return json.dumps(message.blocks)


async def share(stack: Stack, script: dict[str, Any]) -> Practitioner:
    runtime, fake, client = stack
    alice = Practitioner(client, fake, TEAM, ALICE)
    await alice.start()
    await alice.complete(runtime.packs.pack(), script)
    await drain(client)
    return alice


async def share_with_bob(stack: Stack) -> Practitioner:
    return await share(stack, {"decision": "share", "recipient": Recipient(user_id=BOB)})


async def ask(stack: Stack, scheduler: Scheduler, user: str = BOB, hours: float = 4) -> Message:
    """Move time on past the follow-up delay and let the scheduler deliver; the question in ``user``'s DM."""
    runtime, fake, _ = stack
    before = len(fake.dms_to(user))
    runtime.clock.advance(timedelta(hours=hours))  # type: ignore[attr-defined]
    await scheduler.run_once()
    dms = fake.dms_to(user)
    assert len(dms) == before + 1, [text_of(m)[:200] for m in dms]
    return dms[-1]


async def click(stack: Stack, user: str, message: Message, action_id: str, team: str = TEAM) -> None:
    _, fake, client = stack
    await Practitioner(client, fake, team, user).click(action_id, message)
    await drain(client)


def note_view(fake: FakeSlack) -> dict[str, Any]:
    view: dict[str, Any] = fake.calls_to("views.open")[-1].args["view"]
    assert view["callback_id"] == "sc:fu_note"
    return {"id": "VNOTE", **view}


async def submit_note(stack: Stack, user: str, view: dict[str, Any], note: str | None) -> dict[str, Any] | None:
    _, fake, client = stack
    person = Practitioner(client, fake, TEAM, user)
    payload = view_payload(TEAM, user, view, input_values(view, {"sc_note": note}), "view_submission")
    resp = await person.post(interaction_body(payload))
    assert resp.status == 200
    body = await resp.text()
    await drain(client)
    return json.loads(body) if body.startswith("{") else None


async def responded(fake: FakeSlack, count: int) -> dict[str, Any]:
    calls = await fake.wait_calls("response_url", count)
    return calls[-1].args
