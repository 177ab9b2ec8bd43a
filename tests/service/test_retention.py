"""Retention: `purge` removes free text from old records, keeps the decision skeleton, and the trail still verifies."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select

from bot.checks.models import Actor
from bot.clock import ManualClock
from bot.db.models import Check, CheckEvent, FollowUp, OutboxMessage
from bot.runtime import Runtime
from bot.services.audit import seal_pending, verify
from bot.services.retention import REMOVED, purge
from dialogs.record import RecordSnapshot
from dialogs.state import Recipient
from tests.support.service_checks import ALICE, complete

REASON = "Jane Doe at 12 Acacia Road said her stepfather hits her."
DETAIL = "So the school nurse can check on Jane Doe's bruising."
ORG, ROLE = "Northshire Community Health", "health visitor Sam Smith"
SIX_YEARS = timedelta(days=6 * 365)
BOB = Actor("slack", "T0001", "U0BOB")


async def _record(runtime: Runtime) -> Check:
    check_id = await complete(
        runtime,
        ALICE,
        {
            "decision": "share",
            "recipient": Recipient(organisation=ORG, role=ROLE),
            "what": REASON,  # typed once: also the reasons and the purpose
            "informed": "no_not_practicable",  # so the details form asks why, typed into a form's field
            "informed_reason": DETAIL,
        },
    )
    async with runtime.sessions() as session:
        check = await session.get(Check, check_id)
        assert check is not None
        return check


async def _dump(runtime: Runtime, check_id: object) -> str:
    """Everything stored about one record, as text, to search for what should be gone."""
    async with runtime.sessions() as session:
        check = await session.get(Check, check_id, populate_existing=True)
        assert check is not None
        events = list(await session.scalars(select(CheckEvent).where(CheckEvent.check_id == check_id)))
        follow_ups = list(await session.scalars(select(FollowUp).where(FollowUp.check_id == check_id)))
        outbox = list(await session.scalars(select(OutboxMessage)))
    return json.dumps(
        [
            check.state,
            check.snapshot,
            [e.data for e in events],
            [f.details for f in follow_ups],
            [o.message for o in outbox],
        ],
        ensure_ascii=False,
    )


async def test_purge_removes_free_text_and_keeps_the_skeleton(runtime: Runtime, clock: ManualClock) -> None:
    old = await _record(runtime)
    await runtime.followups.scheduled.advance_due()  # nothing due yet, the follow-up waits
    clock.advance(timedelta(hours=5))
    await runtime.followups.scheduled.advance_due()  # the sender is asked: a message naming the recipient
    async with runtime.sessions.begin() as session:
        await session.execute(OutboxMessage.__table__.update().values(status="sent"))  # as the scheduler would
    clock.advance(timedelta(days=1))
    recent = await complete(runtime, BOB, {"what": REASON})
    await seal_pending(runtime.sessions, clock.now())
    for text in (REASON, DETAIL, ORG, ROLE):
        assert text in await _dump(runtime, old.id)

    clock.advance(SIX_YEARS)
    dry = await purge(runtime.sessions, runtime.packs, clock.now(), SIX_YEARS, apply=False)
    assert dry.records == 1 and not dry.applied
    assert dry.removed["answers.what_shared"] == 1 and dry.removed["snapshot.reasons"] == 1
    assert dry.removed["answers.informed_reason"] == 1, "a form field's typed answer"
    assert dry.removed["answers.recipient"] == 1 and dry.removed["events.organisation"] == 1
    assert REASON in await _dump(runtime, old.id), "a dry run changes nothing"

    done = await purge(runtime.sessions, runtime.packs, clock.now(), SIX_YEARS, apply=True)
    assert done.removed == dry.removed and done.records == 1
    stored = await _dump(runtime, old.id)
    for text in (REASON, DETAIL, ORG, ROLE, "Jane", "Acacia"):
        assert text not in stored
    async with runtime.sessions() as session:
        check = await session.get(Check, old.id)
        assert check is not None and check.purged_at == clock.now()
        # the skeleton stays
        assert (check.case_reference, check.decision, check.platform, check.workspace_id) == (
            old.case_reference,
            "share",
            "slack",
            "T0001",
        )
        assert (check.started_at, check.finished_at, check.pack_id, check.pack_version) == (
            old.started_at,
            old.finished_at,
            old.pack_id,
            old.pack_version,
        )
        snap = RecordSnapshot.model_validate(check.snapshot)
        assert snap.reasons == REMOVED and snap.fields["reasons"] == REMOVED
        assert snap.fields["decision"] and snap.fields["lawful_basis"]  # choices picked are kept
        assert [list(a.choices) for a in snap.answers] == [a["choices"] for a in (old.snapshot or {})["answers"]]
        kinds = [
            e.kind
            for e in await session.scalars(
                select(CheckEvent).where(CheckEvent.check_id == old.id).order_by(CheckEvent.seq)
            )
        ]
        assert kinds[-1] == "purged"
        runtime.packs.engine(check.pack_id).load(check.state)  # the state still reads
    assert REASON in await _dump(runtime, recent), "a record inside the retention period is untouched"

    report = await verify(runtime.sessions)
    assert report.intact, report.findings
    await seal_pending(runtime.sessions, clock.now())
    assert (await verify(runtime.sessions)).intact
    again = await purge(runtime.sessions, runtime.packs, clock.now(), SIX_YEARS, apply=True)
    assert again.records == 0 and not again.removed


async def test_redacting_without_the_purge_is_caught(runtime: Runtime, clock: ManualClock) -> None:
    old = await _record(runtime)
    clock.advance(SIX_YEARS + timedelta(days=1))
    await purge(runtime.sessions, runtime.packs, clock.now(), SIX_YEARS, apply=True)
    async with runtime.sessions.begin() as session:
        purged = await session.scalar(
            select(CheckEvent).where(CheckEvent.check_id == old.id, CheckEvent.kind == "purged")
        )
        assert purged is not None
        await session.delete(purged)
        await session.execute(
            Check.__table__.update()
            .where(Check.id == old.id)
            .values(events_seq=purged.seq, events_hash=purged.prev_hash)
        )
    problems = {(f.problem, f.check_id) for f in (await verify(runtime.sessions)).findings}
    assert ("redacted_without_purge", str(old.id)) in problems
