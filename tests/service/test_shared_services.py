"""Small services every adapter uses: pending list, help text, user memory, delivery dedupe."""

from __future__ import annotations

from datetime import timedelta

from bot.checks.models import Actor
from bot.clock import ManualClock
from bot.runtime import Runtime
from bot.services.dedupe import first_time, forget_before
from bot.services.users import get_user, remember_user
from dialogs.engine import REVIEW
from dialogs.messages import Prompt
from tests.support.checks import answer_until
from tests.support.conversation import answer_to
from tests.support.statements import failed_statements

ALICE = Actor("slack", "T1", "U1")
NOT_URGENT = {"immediate_danger": "no"}


async def test_pending_lists_the_check_in_progress(runtime: Runtime) -> None:
    assert (await runtime.checks.pending(ALICE)).items == ()
    reply = await runtime.checks.start(ALICE)
    assert isinstance(reply.message, Prompt)
    reply = await runtime.checks.answer(ALICE, reply.check_id, answer_to(reply.message, fields=NOT_URGENT))
    assert isinstance(reply.message, Prompt)
    reply = await runtime.checks.answer(
        ALICE, reply.check_id, answer_to(reply.message, fields={"case_reference": "CS-42"})
    )
    assert isinstance(reply.message, Prompt)
    [item] = (await runtime.checks.pending(ALICE)).items
    assert item.kind == "check_in_progress" and item.case_reference == "CS-42"
    assert item.status == "check in progress: Decide"  # the section it is in
    await runtime.checks.answer(ALICE, reply.check_id, answer_to(reply.message, "share"))
    [item] = (await runtime.checks.pending(ALICE)).items
    assert item.status == "check in progress: Share"
    assert (await runtime.checks.pending(Actor("slack", "T2", "U1"))).items == ()


async def test_pending_lists_an_unfinished_urgent_check_by_its_case_reference(runtime: Runtime) -> None:
    """The urgent path asks the case reference on a question of its own: the check in progress is known by it
    all the same."""
    started = await runtime.checks.start(ALICE)
    state = await answer_until(
        runtime, ALICE, started.check_id, REVIEW, {"immediate_danger": "yes", "urgent_reference": "CS-URG-7"}
    )
    assert state.urgent and "urgent_reference" in state.answers and "case_reference" not in state.answers
    [item] = (await runtime.checks.pending(ALICE)).items
    assert item.kind == "check_in_progress" and item.case_reference == "CS-URG-7"


async def test_users_are_remembered_and_updated(runtime: Runtime, clock: ManualClock) -> None:
    await remember_user(runtime.transactions, "teams", "tenant", "29:abc", clock.now(), tz="Europe/London")
    await remember_user(runtime.transactions, "teams", "tenant", "29:abc", clock.now(), conversation_ref={"x": 1})
    user = await get_user(runtime.sessions, "teams", "tenant", "29:abc")
    assert user is not None and user.tz == "Europe/London" and user.conversation_ref == {"x": 1}
    assert await get_user(runtime.sessions, "teams", "other-tenant", "29:abc") is None
    # a later update changes only what it names, and when it was seen
    later = clock.now() + timedelta(days=3)
    await remember_user(runtime.transactions, "teams", "tenant", "29:abc", later, tz="Europe/Paris")
    user = await get_user(runtime.sessions, "teams", "tenant", "29:abc")
    assert user is not None and user.tz == "Europe/Paris" and user.conversation_ref == {"x": 1}
    assert user.updated_at == later


async def test_a_delivery_is_handled_once(runtime: Runtime, clock: ManualClock) -> None:
    failed = failed_statements(runtime)  # a repeat is skipped, not refused (a PostgreSQL ERROR line)
    assert await first_time(runtime.transactions, "slack:retry:1", clock.now()) is True
    assert await first_time(runtime.transactions, "slack:retry:1", clock.now()) is False
    assert await forget_before(runtime.sessions, clock.now() + timedelta(seconds=1)) == 1
    assert await first_time(runtime.transactions, "slack:retry:1", clock.now()) is True
    assert failed == []
