"""Forms, confirmation lists and the review screen as stored: the trail holds each field, the purge finds them all."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.checks.models import Actor, Outcome
from bot.clock import ManualClock
from bot.db.models import Check, CheckEvent
from bot.runtime import Runtime
from bot.services.audit import seal_pending, verify
from bot.services.retention import REMOVED, purge
from dialogs.messages import ALL_TRUE, SAVE, Completion, Prompt
from dialogs.record import RecordSnapshot
from dialogs.state import Answer, FieldAnswer, Recipient

DEMO_PACKS = Path(__file__).parent.parent / "data" / "packs"
ALICE = Actor("slack", "T0001", "U0ALICE")
WHAT = "Jane Doe's bruising, so the MASH can assess the risk tonight."
SIX_YEARS = timedelta(days=6 * 365)


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"sharecheck_content_dir": DEMO_PACKS, "sharecheck_content_pack": "steps-demo"}


async def _walk(runtime: Runtime, ticks: tuple[str, ...] = (ALL_TRUE,)) -> Prompt:
    reply = await runtime.checks.start(ALICE)
    steps: list[Answer] = [
        Answer(
            step_id="start",
            fields={
                "immediate_danger": FieldAnswer(choices=("no",)),
                "request_context": FieldAnswer(choices=("asked",)),
            },
        ),
        Answer(
            step_id="gates",
            fields={"purpose": FieldAnswer(choices=("yes",)), "risk_of_harm": FieldAnswer(choices=("yes",))},
        ),
        Answer(step_id="decision", choices=("share",)),
        Answer(step_id="what", text=WHAT, confirm_personal_data=True),
        Answer(step_id="recipient", recipient=Recipient(organisation="Northshire Police", role="MASH sergeant")),
        Answer(step_id="before_send", choices=ticks),
    ]
    for answer in steps:
        assert isinstance(reply.message, Prompt) and reply.message.step_id == answer.step_id
        reply = await runtime.checks.answer(ALICE, reply.check_id, answer)
        assert reply.outcome is Outcome.ADVANCED, reply.error
    while isinstance(reply.message, Prompt) and reply.message.step_id != "case_reference":
        # the follow-ups of statements left unticked
        prompt = reply.message
        answer = (
            Answer(step_id=prompt.step_id, text="The whole chronology shows the pattern.")
            if prompt.input.kind == "free_text"
            else Answer(step_id=prompt.step_id, choices=(prompt.input.choices[0].id,))
        )
        reply = await runtime.checks.answer(ALICE, reply.check_id, answer)
    reply = await runtime.checks.answer(ALICE, reply.check_id, Answer(step_id="case_reference", text="CS-77"))
    assert isinstance(reply.message, Prompt) and reply.message.step_id == "review"
    return reply.message.model_copy(update={"check_id": str(reply.check_id)})


async def test_nothing_is_a_decision_until_save_and_the_trail_holds_each_field(runtime: Runtime) -> None:
    review = await _walk(runtime, ticks=("relevant",))
    assert review.review is not None and review.check_id is not None
    async with runtime.sessions() as session:
        check = await session.get(Check, uuid.UUID(review.check_id))
        assert check is not None and check.status == "active" and check.decision is None
    reply = await runtime.checks.answer(ALICE, check.id, Answer(step_id="review", choices=(SAVE,)))
    assert isinstance(reply.message, Completion) and reply.message.decision == "share"
    async with runtime.sessions() as session:
        events = list(await session.scalars(select(CheckEvent).where(CheckEvent.check_id == check.id)))
        stored = await session.get(Check, check.id, populate_existing=True)
    assert stored is not None and stored.decision == "share"
    form_events = [e.data for e in events if e.data.get("step") == "gates"]
    assert form_events and form_events[0]["fields"]["purpose"]["choices"] == ["yes"]
    assert [e.data for e in events if e.data.get("step") == "review"][-1]["choices"] == [SAVE]
    snap = RecordSnapshot.model_validate(stored.snapshot)
    assert snap.fields["consent"] == "Not needed: a child is at risk of harm"
    assert set(snap.unconfirmed) == {"It is a summary, not the whole file", "Other people's identities are protected"}


async def test_the_purge_removes_typed_text_from_every_field_it_filled(runtime: Runtime, clock: ManualClock) -> None:
    review = await _walk(runtime)
    check_id = uuid.UUID(review.check_id or "")
    await runtime.checks.answer(ALICE, check_id, Answer(step_id="review", choices=(SAVE,)))
    await seal_pending(runtime.sessions, clock.now())
    clock.advance(SIX_YEARS + timedelta(days=1))
    await purge(runtime.sessions, runtime.packs, clock.now(), SIX_YEARS, apply=True)
    async with runtime.sessions() as session:
        check = await session.get(Check, check_id)
        assert check is not None
        events = [e.data for e in await session.scalars(select(CheckEvent).where(CheckEvent.check_id == check_id))]
        stored = json.dumps([check.state, check.snapshot, events], ensure_ascii=False)
    assert "Jane" not in stored and "bruising" not in stored
    snap = RecordSnapshot.model_validate(check.snapshot)
    # typed once, it filled the purpose in brief and the reasons too: removed from all three
    assert snap.fields["what_shared"] == snap.fields["purpose_detail"] == snap.fields["reasons"] == REMOVED
    assert (await verify(runtime.sessions)).intact
