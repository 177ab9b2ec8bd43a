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
from tests.support.flows import AnswerSpec, answer_at

ALICE = Actor("slack", "T1", "UALICE")
LEAD = Actor("slack", "T1", "ULEAD")


async def answer(runtime: Runtime, reply: Reply, script: dict[str, AnswerSpec] | None = None) -> Reply:
    """Answer what is on screen: from ``script`` by step or form field id, else the default."""
    engine = runtime.packs.engine()
    assert isinstance(reply.message, Prompt)
    async with runtime.sessions() as s:
        row = await s.get(Check, reply.check_id)
        assert row is not None
        state = engine.load(row.state)
    return await runtime.checks.answer(ALICE, reply.check_id, answer_at(engine.pack, state, script))


async def to_gates(runtime: Runtime) -> Reply:
    """Started, nobody in immediate danger: at the questions that decide whether sharing is right."""
    reply = await runtime.checks.start(ALICE)
    reply = await answer(runtime, reply, {"immediate_danger": "no", "request_context": "own_initiative"})
    assert isinstance(reply.message, Prompt) and reply.message.step_id == "gates"
    return reply


NOT_SURE_OF_PURPOSE = {"purpose": "unsure", "risk_of_harm": "unsure", "case_reference": "CS-77"}


async def test_ask_my_lead_now_and_the_check_waits_at_the_question(runtime: Runtime, clock: ManualClock) -> None:
    await runtime.leads.assign("slack", "T1", LEAD.user_id, "workspace", "", clock.now())
    reply = await to_gates(runtime)
    reply = await answer(runtime, reply, NOT_SURE_OF_PURPOSE)
    assert isinstance(reply.message, Prompt) and reply.message.step_id == "advice_purpose"
    assert "ask_lead" in {c.id for c in reply.message.input.choices}
    reply = await answer(runtime, reply, {"advice_purpose": "ask_lead"})
    assert isinstance(reply.message, Prompt) and reply.message.step_id == "gates"
    assert reply.message.notice and "asked your safeguarding lead" in reply.message.notice
    assert reply.message.urgent_exit, "an urgent referral never waits for advice"

    platform = RecordingDeliverer()
    await Scheduler(runtime, {"slack": platform}).run_once()
    [ask] = platform.to(LEAD.user_id)
    assert isinstance(ask, FollowUpPrompt) and "CS-77" in ask.title
    assert "clear safeguarding purpose" in ask.lines[1], "the question it waits at"
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
    reply = await answer(runtime, reply, {"purpose": "yes", "risk_of_harm": "yes", "case_reference": "CS-77"})
    assert isinstance(reply.message, Prompt) and reply.message.step_id == "decision"
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
    reply = await to_gates(runtime)
    reply = await answer(runtime, reply, NOT_SURE_OF_PURPOSE)
    reply = await answer(runtime, reply, {"advice_purpose": "ask_lead"})
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
    assert isinstance(again.message, Prompt) and again.message.step_id == "start"
    assert again.message.notice and "linked to the earlier decision" in again.message.notice
    # the case reference is carried over: the check in progress is listed by it, and it is filled in where asked
    assert [i.case_reference for i in (await runtime.checks.pending(ALICE)).items] == ["CS-88"]
    gates = await answer(runtime, again, {"immediate_danger": "no"})
    assert isinstance(gates.message, Prompt) and gates.message.step_id == "gates"
    assert [f.initial_text for f in gates.message.input.fields if f.id == "case_reference"] == ["CS-88"]
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


def test_a_pack_that_asks_the_case_reference_first_has_it_answered_on_reconsidering() -> None:
    """The 1.2.0 flow asked the case reference first: a reconsidered check starts at the question after it."""
    from dialogs.content import load_archived_pack
    from dialogs.engine import Engine
    from tests.support.settings import T0

    pack = load_archived_pack("children-england-2024", "1.2.0")
    assert pack is not None and pack.start == "case_reference"
    engine = Engine(pack)
    turn = engine.with_case_reference(engine.start(T0).state, "CS-88", T0)
    assert turn.state.history == ["case_reference"] and turn.state.step == "immediate_danger"
    assert turn.state.answers["case_reference"].text == "CS-88"
