"""A step written from an instance's cached state is exactly the step a fresh read would make: two instances
(two CheckServices, one database) never advance a check from a stale cache, and never twice."""

from __future__ import annotations

from itertools import pairwise

import pytest
from sqlalchemy import event, func, select

import bot.checks.store as store_module
from bot.checks.models import Actor, CheckNotFound, Outcome, Reply
from bot.clock import ManualClock
from bot.db.models import Check, CheckEvent
from bot.runtime import Runtime
from bot.services.audit import verify
from bot.services.records import append_event
from dialogs.messages import Prompt
from dialogs.state import Answer
from tests.support.conversation import answer_to
from tests.support.settings import make_settings
from tests.support.statements import engines

ALICE = Actor("teams", "T0001", "29:alice")
MALLORY = Actor("teams", "T0001", "29:mallory")
NOT_URGENT = {"immediate_danger": "no", "request_context": "asked"}
"""The first screen's answers: nobody in immediate danger (the form's first choice would be 'yes')."""


async def test_two_instances_never_write_from_a_stale_cache(runtime: Runtime, db_url: str, clock: ManualClock) -> None:
    other = await Runtime.create(make_settings(db_url), clock=clock, migrate=False)
    try:
        started = await runtime.checks.start(ALICE)  # this instance now holds revision 0
        assert isinstance(started.message, Prompt)
        first = answer_to(started.message, fields=NOT_URGENT)
        moved = await other.checks.answer(ALICE, started.check_id, first)  # the other instance moves it on
        assert moved.outcome is Outcome.ADVANCED and isinstance(moved.message, Prompt)

        # the same screen answered again here, from a cache that is one step behind: refused, nothing written
        changed = answer_to(started.message, fields=NOT_URGENT | {"request_context": "own_initiative"})
        again = await runtime.checks.answer(ALICE, started.check_id, changed)
        assert again.outcome is Outcome.STALE
        # and the next answer here works from a fresh read
        step = moved.message
        nxt = _first_choice(step)
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
    assert check.state["answers"]["request_context"]["choices"] == ["asked"]
    assert sorted(seqs) == list(range(len(seqs))) and check.events_seq == len(seqs)


def _first_choice(prompt: Prompt) -> Answer:
    """The answer a practitioner gives by pressing the first button of ``prompt`` (a form: each field's first
    choice, or a neutral typed value)."""
    return answer_to(prompt)


class _Statements:
    """The SQL a runtime's engine sends, first line of each (to see which reads a step makes)."""

    def __init__(self, runtime: Runtime) -> None:
        self.sent: list[str] = []
        for engine in engines(runtime):
            event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn: object, _cursor: object, statement: str, *_args: object) -> None:
        self.sent.append(" ".join(statement.split()))

    def reads_of_checks(self) -> list[str]:
        return [s for s in self.sent if s.startswith("SELECT") and "FROM checks" in s]


async def _start_and_answer_held(runtime: Runtime) -> tuple[Reply, Reply, _Statements]:
    """Alice starts a check and answers its first question on the same instance (so from the held state), with
    the SQL of that answer recorded."""
    started = await runtime.checks.start(ALICE)
    assert isinstance(started.message, Prompt)
    seen = _Statements(runtime)
    moved = await runtime.checks.answer(ALICE, started.check_id, answer_to(started.message, fields=NOT_URGENT))
    assert moved.outcome is Outcome.ADVANCED and isinstance(moved.message, Prompt)
    return started, moved, seen


async def test_a_plain_step_writes_from_the_held_state_without_a_read(runtime: Runtime) -> None:
    """The point of holding the state: the step is one guarded write and the trail, no read of the check. What it
    writes is what a fresh read would have written: the row, the trail, and every later step agree."""
    started, moved, seen = await _start_and_answer_held(runtime)
    assert seen.reads_of_checks() == []
    assert any(s.startswith("UPDATE checks SET state=") for s in seen.sent)

    # a fresh instance (nothing held) carries on from what was written, and so does this one after it
    other = await Runtime.create(make_settings(runtime.settings.database_url), clock=runtime.clock, migrate=False)
    try:
        step = moved.message
        nxt = _first_choice(step)
        there = await other.checks.answer(ALICE, started.check_id, nxt)
        assert there.outcome is Outcome.ADVANCED and isinstance(there.message, Prompt)
    finally:
        await other.close()
    seen.sent.clear()
    step = there.message
    here = _first_choice(step)
    assert (await runtime.checks.answer(ALICE, started.check_id, here)).outcome is Outcome.ADVANCED
    assert seen.reads_of_checks(), "held state was behind: the step must have been decided from a read"
    async with runtime.sessions() as s:
        check = await s.get(Check, started.check_id)
        kinds = list(await s.scalars(select(CheckEvent.kind).where(CheckEvent.check_id == started.check_id)))
    assert check is not None and check.revision == 3 and check.events_seq == 4
    assert kinds == ["started", "answered", "answered", "answered"]


async def test_held_state_is_only_for_its_owner(runtime: Runtime) -> None:
    started = await runtime.checks.start(ALICE)
    assert isinstance(started.message, Prompt)
    answer = answer_to(started.message, fields=NOT_URGENT)
    with pytest.raises(CheckNotFound):
        await runtime.checks.answer(MALLORY, started.check_id, answer)
    assert (await runtime.checks.answer(ALICE, started.check_id, answer)).outcome is Outcome.ADVANCED


async def test_finished_checks_are_not_held_and_the_number_held_is_bounded(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "LIVE_CHECKS", 2)
    replies = [await runtime.checks.start(Actor("teams", "T0001", f"29:user-{i}")) for i in range(3)]
    held = runtime.checks.store._live
    assert list(held) == [r.check_id for r in replies[1:]]
    cancelled = await runtime.checks.cancel(Actor("teams", "T0001", "29:user-2"), replies[2].check_id)
    assert cancelled.outcome is Outcome.ADVANCED
    assert list(held) == [replies[1].check_id]


async def test_steps_from_a_held_trail_end_keep_the_chain_and_notice_events_added_elsewhere(
    runtime: Runtime, clock: ManualClock
) -> None:
    """A held step writes its event with no numbering read (the instance knows where the trail ends). An event
    added by another path meanwhile (here a follow-up's, written with records.append_event) moves the end: the
    held step must then write nothing and be decided from a read, and the whole chain must still verify."""
    started, moved, seen = await _start_and_answer_held(runtime)
    assert not any("events_seq + " in s for s in seen.sent), "the held trail end should have numbered the event"
    async with runtime.sessions.begin() as session:
        await append_event(session, started.check_id, "advice_requested", str(ALICE), clock.now(), {"step": "x"})
    seen.sent.clear()
    step = moved.message
    nxt = _first_choice(step)
    assert (await runtime.checks.answer(ALICE, started.check_id, nxt)).outcome is Outcome.ADVANCED
    assert seen.reads_of_checks(), "the trail had moved on: the step must have been decided from a read"
    async with runtime.sessions() as s:
        check = await s.get(Check, started.check_id)
        events = list(
            await s.scalars(select(CheckEvent).where(CheckEvent.check_id == started.check_id).order_by(CheckEvent.seq))
        )
    assert [e.kind for e in events] == ["started", "answered", "advice_requested", "answered"]
    assert [e.seq for e in events] == [0, 1, 2, 3] and check is not None and check.events_seq == 4
    assert check.events_hash == events[-1].hash
    assert all(later.prev_hash == earlier.hash for earlier, later in pairwise(events))
    report = await verify(runtime.sessions)
    assert report.intact, report.findings
