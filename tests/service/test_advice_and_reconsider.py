"""Seeking advice without losing the thread: 'ask my lead now', and the lead's one-click answer."""

from __future__ import annotations

from sqlalchemy import select

from bot.checks.models import Actor, Reply
from bot.clock import ManualClock
from bot.db.models import Check, CheckEvent, FollowUp
from bot.runtime import Runtime
from bot.scheduler import Scheduler
from dialogs.messages import FollowUpPrompt, Info, Prompt
from tests.support.deliverers import RecordingDeliverer
from tests.support.flows import answer_for, default_answer

ALICE = Actor("slack", "T1", "UALICE")
LEAD = Actor("slack", "T1", "ULEAD")


async def answer(runtime: Runtime, reply: Reply, spec: object | None = None) -> Reply:
    engine = runtime.packs.engine()
    assert isinstance(reply.message, Prompt)
    step = engine.pack.step(reply.message.step_id)
    async with runtime.sessions() as s:
        row = await s.get(Check, reply.check_id)
        assert row is not None
        state = engine.load(row.state)
    a = answer_for(step, state, spec) if spec is not None else default_answer(step, state)  # type: ignore[arg-type]
    return await runtime.checks.answer(ALICE, reply.check_id, a)


async def to_purpose(runtime: Runtime) -> Reply:
    reply = await runtime.checks.start(ALICE)
    for spec in ("CS-77", "no", "own_initiative"):
        reply = await answer(runtime, reply, spec)
    assert isinstance(reply.message, Prompt) and reply.message.step_id == "purpose"
    return reply


async def test_ask_my_lead_now_and_the_check_waits_at_the_question(runtime: Runtime, clock: ManualClock) -> None:
    await runtime.leads.assign("slack", "T1", LEAD.user_id, "workspace", "", clock.now())
    reply = await to_purpose(runtime)
    reply = await answer(runtime, reply, "unsure")
    assert isinstance(reply.message, Prompt) and reply.message.step_id == "advice_purpose"
    assert "ask_lead" in {c.id for c in reply.message.input.choices}
    reply = await answer(runtime, reply, "ask_lead")
    assert isinstance(reply.message, Prompt) and reply.message.step_id == "purpose"
    assert reply.message.notice and "asked your safeguarding lead" in reply.message.notice
    assert reply.message.urgent_exit, "an urgent referral never waits for advice"

    platform = RecordingDeliverer()
    await Scheduler(runtime, {"slack": platform}).run_once()
    [ask] = platform.to(LEAD.user_id)
    assert isinstance(ask, FollowUpPrompt) and "CS-77" in ask.title
    assert "clear and legitimate purpose" in ask.lines[1]
    assert [c.id for c in ask.choices] == ["share_ok", "dont_share", "talk"]

    pending = await runtime.checks.pending(LEAD)
    assert any("you are asked to advise" in i.status for i in pending.items)

    result = await runtime.followups.answer(
        LEAD, __import__("uuid").UUID(ask.follow_up_id), "share_ok", "Yes: MASH referral"
    )
    assert result.changed
    await Scheduler(runtime, {"slack": platform}).run_once()
    [advice] = platform.to(ALICE.user_id)
    assert isinstance(advice, Info) and "Sharing is justified" in advice.lines[0] and "MASH referral" in advice.lines[0]

    # the check carries on from the question it waited at, and the trail shows the advice
    reply = await answer(runtime, reply, "yes")
    assert isinstance(reply.message, Prompt) and reply.message.step_id == "purpose_detail"
    async with runtime.sessions() as s:
        kinds = list(
            await s.scalars(
                select(CheckEvent.kind).where(CheckEvent.check_id == reply.check_id).order_by(CheckEvent.seq)
            )
        )
        fu = await s.scalar(select(FollowUp).where(FollowUp.kind == "advice"))
    assert "advice_requested" in kinds and "advice_given" in kinds
    assert fu is not None and fu.state == "advised"


async def test_without_a_lead_the_practitioner_is_told_to_ask_directly(runtime: Runtime) -> None:
    reply = await to_purpose(runtime)
    reply = await answer(runtime, reply, "unsure")
    reply = await answer(runtime, reply, "ask_lead")
    assert isinstance(reply.message, Prompt) and reply.message.notice
    assert "No safeguarding lead is set up for you" in reply.message.notice


# --- not sharing is a full outcome: reconsider with new information ---------------------------


async def test_reconsider_reopens_a_not_share_decision_linked_to_the_first(runtime: Runtime) -> None:
    from bot.checks.models import CheckNotFound, Outcome
    from dialogs.messages import Completion
    from tests.support.followups import complete

    first = await complete(
        runtime, ALICE, {"case_reference": "CS-88", "decision": "not_share", "request_context": "own_initiative"}
    )
    reply = await runtime.checks.current(ALICE, first)
    assert isinstance(reply.message, Completion) and reply.message.can_reconsider
    again = await runtime.checks.reconsider(ALICE, first)
    assert again.outcome is Outcome.STARTED and again.check_id != first
    assert isinstance(again.message, Prompt) and again.message.step_id == "immediate_danger", (
        "case reference carried over"
    )
    assert again.message.notice and "linked to the earlier decision" in again.message.notice
    async with runtime.sessions() as s:
        started = await s.scalar(
            select(CheckEvent).where(CheckEvent.check_id == again.check_id, CheckEvent.kind == "started")
        )
        back = await s.scalar(select(CheckEvent).where(CheckEvent.check_id == first, CheckEvent.kind == "reconsidered"))
    assert started is not None and started.data["reconsiders"] == str(first)
    assert back is not None and back.data["by"] == str(again.check_id)
    # one check at a time; and only your own not-share decisions
    busy = await runtime.checks.reconsider(ALICE, first)
    assert busy.outcome is Outcome.REFUSED
    import pytest

    with pytest.raises(CheckNotFound):
        await runtime.checks.reconsider(Actor("slack", "T1", "UBOB"), first)
    shared = await complete(runtime, Actor("slack", "T1", "UCAROL"), {"decision": "share"})
    with pytest.raises(CheckNotFound):
        await runtime.checks.reconsider(Actor("slack", "T1", "UCAROL"), shared)
