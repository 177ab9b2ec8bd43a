"""A step written from an instance's cached state is exactly the step a fresh read would make: two instances
(two CheckServices, one database) never advance a check from a stale cache, and never twice."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.clock import ManualClock
from bot.db.models import Check, CheckEvent
from bot.runtime import Runtime
from bot.services.checks import Actor, Outcome
from dialogs.messages import Prompt
from dialogs.state import Answer
from tests.conftest import make_settings

ALICE = Actor("teams", "T0001", "29:alice")


async def test_two_instances_never_write_from_a_stale_cache(runtime: Runtime, db_url: str, clock: ManualClock) -> None:
    other = await Runtime.create(make_settings(db_url), clock=clock, migrate=False)
    try:
        started = await runtime.checks.start(ALICE)  # this instance now holds revision 0
        assert isinstance(started.message, Prompt)
        first = Answer(step_id=started.message.step_id, revision=0, text="CS-2024-0113")
        moved = await other.checks.answer(ALICE, started.check_id, first)  # the other instance moves it on
        assert moved.outcome is Outcome.ADVANCED and isinstance(moved.message, Prompt)

        # the same answer again here, from a cache that is one step behind: refused, nothing written
        again = await runtime.checks.answer(ALICE, started.check_id, first.model_copy(update={"text": "CS-9"}))
        assert again.outcome is Outcome.STALE
        # and the next answer here works from a fresh read
        step = moved.message
        nxt = Answer(step_id=step.step_id, revision=step.revision, choices=(step.input.choices[0].id,))
        assert (await runtime.checks.answer(ALICE, started.check_id, nxt)).outcome is Outcome.ADVANCED
        # the other instance's cache is now behind: its stale double click is refused too
        assert (await other.checks.answer(ALICE, started.check_id, nxt)).outcome is Outcome.STALE
    finally:
        await other.close()
    async with runtime.sessions() as s:
        check = await s.get(Check, started.check_id)
        answered = await s.scalar(select(func.count()).select_from(CheckEvent).where(CheckEvent.kind == "answered"))
        seqs = list(await s.scalars(select(CheckEvent.seq).where(CheckEvent.check_id == started.check_id)))
    assert check is not None and check.revision == 2 and answered == 2
    assert check.state["answers"]["case_reference"]["text"] == "CS-2024-0113"
    assert sorted(seqs) == list(range(len(seqs))) and check.events_seq == len(seqs)
