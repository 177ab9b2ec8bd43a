"""The check service on a real database (SQLite and PostgreSQL): persistence, resume, trail, isolation."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import get_args

import pytest
from sqlalchemy import select, update

from bot.checks.models import Action, Actor, CheckNotFound, Decision, Outcome
from bot.clock import ManualClock
from bot.db.models import Check, CheckEvent
from bot.runtime import Runtime
from dialogs.content import DECISIONS, Choice
from dialogs.messages import Prompt
from dialogs.record import RecordSnapshot
from dialogs.state import Answer, FieldAnswer, Recipient
from tests.support.flows import SHARE_SCREENS
from tests.support.service_checks import ALICE, _row, complete
from tests.support.settings import make_settings
from tests.support.statements import failed_statements

BOB = Actor("slack", "T0001", "U0BOB")
OTHER_TENANT_ALICE = Actor("slack", "T9999", "U0ALICE")
START = Answer(
    step_id="start",
    revision=0,
    fields={"immediate_danger": FieldAnswer(choices=("no",)), "request_context": FieldAnswer(choices=("asked",))},
)
"""The first screen answered: nobody in immediate danger, asked for the information."""


async def _events(runtime: Runtime, check_id: uuid.UUID) -> list[CheckEvent]:
    async with runtime.sessions() as session:
        return list(
            await session.scalars(select(CheckEvent).where(CheckEvent.check_id == check_id).order_by(CheckEvent.seq))
        )


async def test_a_complete_check_is_recorded_with_its_trail(runtime: Runtime, clock: ManualClock) -> None:
    check_id = await complete(runtime, ALICE, {"decision": "share", "recipient": Recipient(user_id="U0BOB")})
    row = await _row(runtime, check_id)
    assert row.status == "completed"
    assert row.decision == "share"
    assert row.case_reference == "CS-2024-0113"
    assert row.finished_at is not None and row.finished_at.tzinfo is not None
    snap = RecordSnapshot.model_validate(row.snapshot)
    assert snap.recipient == Recipient(user_id="U0BOB")
    assert snap.pack_id == "children-england-2024" and snap.pack_version == row.pack_version
    events = await _events(runtime, check_id)
    kinds = [e.kind for e in events]
    assert kinds[0] == "started"
    assert kinds[-2:] == ["completed", "follow_up_scheduled"]  # sharing with a colleague starts the follow-up
    # one 'answered' per screen, the review's Save last; every answer in the record is on the trail
    answered = [e.data for e in events if e.kind == "answered"]
    assert [a["step"] for a in answered] == list(SHARE_SCREENS)
    assert answered[-1]["choices"] == ["save"]
    on_trail = set()
    for a in answered[:-1]:
        on_trail |= {a["step"], *a.get("fields", {}), *(f"{a['step']}.{c}" for c in a["choices"])}
    assert {a.step_id for a in snap.answers} <= on_trail
    assert [e.seq for e in events] == list(range(len(events)))
    assert all(e.actor == str(ALICE) for e in events[:-1])
    assert events[-1].actor == "sharecheck:scheduler"


async def test_restart_resumes_where_the_practitioner_stopped(db_url: str, clock: ManualClock) -> None:
    first = await Runtime.create(make_settings(db_url), clock=clock, migrate=True)
    reply = await first.checks.start(ALICE)
    reply = await first.checks.answer(ALICE, reply.check_id, START)
    await first.close()

    second = await Runtime.create(make_settings(db_url), clock=clock, migrate=True)
    try:
        resumed = await second.checks.resume(ALICE)
        assert resumed is not None and resumed.check_id == reply.check_id
        assert isinstance(resumed.message, Prompt) and resumed.message.step_id == "gates"
        assert resumed.message.notice and "Carrying on" in resumed.message.notice
        # /share-check while one is in progress resumes it rather than starting a second
        again = await second.checks.start(ALICE)
        assert again.outcome is Outcome.RESUMED and again.check_id == reply.check_id
    finally:
        await second.close()


async def test_double_submit_advances_once(runtime: Runtime) -> None:
    reply = await runtime.checks.start(ALICE)
    results = await asyncio.gather(*(runtime.checks.answer(ALICE, reply.check_id, START) for _ in range(5)))
    assert sorted(r.outcome for r in results).count(Outcome.ADVANCED) == 1
    assert all(r.outcome in (Outcome.ADVANCED, Outcome.STALE) for r in results)
    row = await _row(runtime, reply.check_id)
    assert row.revision == 1
    assert [e.kind for e in await _events(runtime, reply.check_id)] == ["started", "answered"]


async def test_refused_answer_changes_nothing(runtime: Runtime) -> None:
    reply = await runtime.checks.start(ALICE)
    reply = await runtime.checks.answer(ALICE, reply.check_id, START)
    before = await _row(runtime, reply.check_id)
    fields = {
        "purpose": FieldAnswer(choices=("yes",)),
        "risk_of_harm": FieldAnswer(choices=("yes",)),
        "case_reference": FieldAnswer(text="Jane Smith"),
    }
    refused = await runtime.checks.answer(
        ALICE, reply.check_id, Answer(step_id="gates", revision=before.revision, fields=fields)
    )
    assert refused.outcome is Outcome.REFUSED
    assert isinstance(refused.message, Prompt) and refused.message.notice and "case reference" in refused.message.notice
    after = await _row(runtime, reply.check_id)
    assert (after.state, after.revision) == (before.state, before.revision)
    assert "purpose" not in after.state["answers"], "nothing of a refused form is kept"
    assert [e.kind for e in await _events(runtime, reply.check_id)] == ["started", "answered"]


async def test_corrupt_stored_state_is_reported_and_left_intact(runtime: Runtime) -> None:
    reply = await runtime.checks.start(ALICE)
    async with runtime.sessions.begin() as session:
        await session.execute(update(Check).where(Check.id == reply.check_id).values(state={"garbage": True}))
    from dialogs.engine import CorruptState

    with pytest.raises(CorruptState):
        await runtime.checks.answer(ALICE, reply.check_id, START)
    row = await _row(runtime, reply.check_id)
    assert row.state == {"garbage": True}
    assert len(await _events(runtime, reply.check_id)) == 1


async def test_back_cancel_and_urgent_are_recorded(runtime: Runtime, clock: ManualClock) -> None:
    reply = await runtime.checks.start(ALICE)
    reply = await runtime.checks.answer(ALICE, reply.check_id, START)
    clock.advance(timedelta(minutes=1))
    reply = await runtime.checks.back(ALICE, reply.check_id)
    assert isinstance(reply.message, Prompt) and reply.message.step_id == "start"
    reply = await runtime.checks.urgent(ALICE, reply.check_id)
    assert isinstance(reply.message, Prompt) and reply.message.step_id == "urgent_action"
    stale = await runtime.checks.cancel(ALICE, reply.check_id, revision=0)
    assert stale.outcome is Outcome.STALE
    done = await runtime.checks.cancel(ALICE, reply.check_id)
    assert done.outcome is Outcome.ADVANCED
    row = await _row(runtime, reply.check_id)
    assert row.status == "cancelled" and row.finished_at == clock.now()
    assert [e.kind for e in await _events(runtime, reply.check_id)] == [
        "started",
        "answered",
        "went_back",
        "urgent_exit",
        "cancelled",
    ]
    # cancelled means the practitioner can start afresh
    fresh = await runtime.checks.start(ALICE)
    assert fresh.outcome is Outcome.STARTED and fresh.check_id != reply.check_id


async def test_nobody_reaches_another_users_check(runtime: Runtime) -> None:
    reply = await runtime.checks.start(ALICE)
    for intruder in (BOB, OTHER_TENANT_ALICE, Actor("teams", "T0001", "U0ALICE")):
        for call in (
            runtime.checks.answer(intruder, reply.check_id, START),
            runtime.checks.back(intruder, reply.check_id),
            runtime.checks.cancel(intruder, reply.check_id),
            runtime.checks.current(intruder, reply.check_id),
            runtime.checks.snapshot(intruder, reply.check_id),
        ):
            with pytest.raises(CheckNotFound):
                await call
        assert await runtime.checks.resume(intruder) is None
    assert (await _row(runtime, reply.check_id)).revision == 0


async def test_each_user_has_their_own_active_check(runtime: Runtime) -> None:
    a = await runtime.checks.start(ALICE)
    b = await runtime.checks.start(BOB)
    c = await runtime.checks.start(OTHER_TENANT_ALICE)
    assert len({a.check_id, b.check_id, c.check_id}) == 3


async def test_concurrent_starts_make_one_check(runtime: Runtime) -> None:
    replies = await asyncio.gather(*(runtime.checks.start(ALICE) for _ in range(4)))
    assert len({r.check_id for r in replies}) == 1
    async with runtime.sessions() as session:
        rows = list(await session.scalars(select(Check).where(Check.user_id == ALICE.user_id)))
    assert len(rows) == 1


async def test_a_second_start_resumes_without_a_refused_statement(runtime: Runtime) -> None:
    """/share-check with a check in progress resumes it: the new row is skipped by the one-active-check index,
    not refused (a refused INSERT is an ERROR line in PostgreSQL's log for every such /share-check)."""
    failed = failed_statements(runtime)
    first = await runtime.checks.start(ALICE)
    assert isinstance(first.message, Prompt)
    assert first.message.step_id == START.step_id
    assert (await runtime.checks.answer(ALICE, first.check_id, START)).outcome is Outcome.ADVANCED
    again = await runtime.checks.start(ALICE)
    assert again.outcome is Outcome.RESUMED and again.check_id == first.check_id
    assert isinstance(again.message, Prompt) and again.message.revision == 1
    assert failed == []
    async with runtime.sessions() as session:
        rows = list(await session.scalars(select(Check).where(Check.user_id == ALICE.user_id)))
    assert len(rows) == 1
    assert [e.kind for e in await _events(runtime, first.check_id)] == ["started", "answered"]


def test_the_check_vocabulary_is_the_packs() -> None:
    """Decisions and actions are the packs' own values (dialogs/content.py), stored as they are."""
    assert tuple(Decision) == DECISIONS
    action_field = Choice.model_fields["action"].annotation
    assert {a.value for a in Action} == set(get_args(get_args(action_field)[0]))
