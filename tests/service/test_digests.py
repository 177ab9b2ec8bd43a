"""Lead digests: scope, figures and changes, schedules across time zones and DST, once per period."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.checks.models import Actor
from bot.clock import ManualClock
from bot.db.models import OutboxMessage
from bot.digests.messaging import digest_content
from bot.digests.models import Cadence, Figure, NeedsYou, Schedule
from bot.runtime import Runtime
from bot.scheduler import Scheduler
from dialogs.messages import Digest
from dialogs.state import Recipient
from tests.support.deliverers import RecordingDeliverer
from tests.support.followups import complete
from tests.support.settings import make_settings

MON_0900 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # Monday 09:00 London (GMT)
P1, P2 = Actor("slack", "T1", "UP1"), Actor("slack", "T1", "UP2")


async def digest_for(rt: Runtime, lead: str, workspace: str = "T1") -> Digest:
    return await rt.digests.build("slack", workspace, lead, rt.packs.pack())


async def test_scope_isolation_between_leads_and_workspaces(runtime: Runtime, clock: ManualClock) -> None:
    await runtime.leads.assign("slack", "T1", "ULEADA", "user", P1.user_id, clock.now())
    await runtime.leads.assign("slack", "T1", "ULEADB", "user", P2.user_id, clock.now())
    await runtime.leads.assign("slack", "T2", "ULEADC", "workspace", "", clock.now())
    await complete(runtime, P1, {"case_reference": "CASE-A", "decision": "share", "recipient": Recipient(user_id="UR")})
    await complete(runtime, P2, {"case_reference": "CASE-B", "decision": "share", "recipient": Recipient(user_id="UR")})
    clock.advance(timedelta(days=4))  # past escalation: both follow-ups are overdue
    await runtime.followups.scheduled.advance_due()
    clock.set(MON_0900)
    a = await digest_for(runtime, "ULEADA")
    b = await digest_for(runtime, "ULEADB")
    c = await digest_for(runtime, "ULEADC", "T2")
    assert [i.case_reference for i in a.needs_you] == ["CASE-A"]
    assert [i.case_reference for i in b.needs_you] == ["CASE-B"]
    assert c.empty and c.needs_you == ()
    assert "CASE-B" not in a.model_dump_json() and "CASE-A" not in b.model_dump_json()
    # a lead of another workspace named with the same user id sees nothing of T1
    assert (await digest_for(runtime, "ULEADA", "T2")).empty


async def test_figures_with_change_from_the_previous_period(runtime: Runtime, clock: ManualClock) -> None:
    await runtime.leads.assign("slack", "T1", "ULEAD", "workspace", "", clock.now() - timedelta(days=30))
    clock.set(datetime(2026, 11, 17, 10, 0, tzinfo=UTC))  # previous week: one check
    await complete(runtime, P1, {"decision": "not_share", "request_context": "own_initiative"})
    clock.set(datetime(2026, 11, 24, 10, 0, tzinfo=UTC))  # this week: three, one urgent, one unsure
    await complete(runtime, P1, {"decision": "share"})
    await complete(runtime, P2, {"immediate_danger": "yes"})
    # unsure whether it is special category information, and two statements left unticked before sending
    items = runtime.packs.pack().step("before_send").items
    unticked = {"relevant", "fact_opinion"}
    await complete(
        runtime,
        P1,
        {
            "decision": "share",
            "special_category": "unsure",
            "before_send": tuple(i.id for i in items if i.id not in unticked),
            "hesitation": ("consent", "criticism"),
        },
    )
    await complete(runtime, P2, {"decision": "share", "hesitation": ("consent",)})
    clock.set(MON_0900)
    d = await digest_for(runtime, "ULEAD")
    figures = {f.label: (f.value, f.previous) for f in d.figures}
    assert figures["Checks completed"] == (4, 1)
    assert figures["Decided to share"] == (4, 0)
    assert figures["Decided not to share"] == (0, 1)
    assert figures["Immediate risk of harm"] == (1, 0)
    unconfirmed = {f"Not confirmed before sending: {i.label}" for i in items if i.id in unticked}
    assert {u.label: u.value for u in d.unsure} == dict.fromkeys({"Necessary and proportionate", *unconfirmed}, 1)
    # each myth-buster shown is counted: the worries that held practitioners back, most common first
    titles = {m.id: m.title for m in runtime.packs.pack().myths}
    assert [(w.label, w.value, w.previous) for w in d.worries] == [
        (titles["consent"], 2, 0),
        (titles["criticism"], 1, 0),
    ]
    assert d.trend[-2:] == (1, 4) and len(d.trend) == 8
    assert d.sparkline()[-1] == "█"
    assert "Mon 23 Nov 2026 to Mon 30 Nov 2026" in d.period


async def test_a_quiet_period_still_gets_a_short_digest(runtime: Runtime, clock: ManualClock) -> None:
    await runtime.leads.assign("slack", "T1", "ULEAD", "workspace", "", clock.now())
    d = await digest_for(runtime, "ULEAD")
    assert d.empty and d.empty_text.startswith("Nothing this period")


@pytest.mark.parametrize(
    ("schedule", "now", "start", "end"),
    [
        # weekly Monday 09:00 London across the end of BST (25 Oct 2026): the week is 169 hours long
        (
            Schedule(Cadence.WEEKLY, 0, 9, "Europe/London"),
            datetime(2026, 10, 27, 12, 0, tzinfo=UTC),
            datetime(2026, 10, 19, 8, 0, tzinfo=UTC),
            datetime(2026, 10, 26, 9, 0, tzinfo=UTC),
        ),
        # daily 08:00 in New York: at 12:00 UTC (07:00 there) the latest day ended yesterday at 08:00
        (
            Schedule(Cadence.DAILY, 0, 8, "America/New_York"),
            datetime(2026, 11, 24, 12, 0, tzinfo=UTC),
            datetime(2026, 11, 22, 13, 0, tzinfo=UTC),
            datetime(2026, 11, 23, 13, 0, tzinfo=UTC),
        ),
        # exactly at the hour: that period has just ended
        (Schedule(Cadence.WEEKLY, 0, 9, "Europe/London"), MON_0900, datetime(2026, 11, 23, 9, 0, tzinfo=UTC), MON_0900),
    ],
)
def test_periods_in_the_leads_time_zone(schedule: Schedule, now: datetime, start: datetime, end: datetime) -> None:
    assert schedule.period_ending_by(now) == (start, end)


async def test_the_scheduler_sends_one_digest_per_period_and_catches_up(runtime: Runtime, clock: ManualClock) -> None:
    platform = RecordingDeliverer()
    await runtime.leads.assign("slack", "T1", "ULEAD", "workspace", "", clock.now())  # Tue 24 Nov
    scheduler = Scheduler(runtime, {"slack": platform})
    await scheduler.run_once()
    assert platform.to("ULEAD") == []  # the first period ends next Monday
    clock.set(MON_0900 + timedelta(minutes=1))
    await scheduler.run_once()
    await scheduler.run_once()
    assert len(platform.to("ULEAD")) == 1
    # the instance is down for two weeks: both missed periods go out late, oldest first
    clock.set(MON_0900 + timedelta(days=14, hours=2))
    await scheduler.run_once()
    digests = platform.to("ULEAD")
    assert len(digests) == 3
    assert [d.period[:10] for d in digests if isinstance(d, Digest)] == ["Mon 23 Nov", "Mon 30 Nov", "Mon 07 Dec"]


async def test_lead_chooses_a_daily_schedule(runtime: Runtime, clock: ManualClock) -> None:
    platform = RecordingDeliverer()
    await runtime.leads.assign("slack", "T1", "ULEAD", "workspace", "", clock.now())
    await runtime.digests.set_schedule("slack", "T1", "ULEAD", Schedule(Cadence.DAILY, 0, 17, "Europe/London"))
    clock.set(datetime(2026, 11, 24, 17, 5, tzinfo=UTC))
    await Scheduler(runtime, {"slack": platform}).run_once()
    [d] = platform.to("ULEAD")
    assert isinstance(d, Digest) and "day to Tue 24 Nov 2026" in d.title
    with pytest.raises(ValueError, match="daily or weekly"):
        await runtime.digests.set_schedule("slack", "T1", "ULEAD", Schedule("hourly", 0, 17, "UTC"))


async def test_default_lead_covers_practitioners_without_one(db_url: str, clock: ManualClock) -> None:
    rt = await Runtime.create(make_settings(db_url, sharecheck_default_lead="slack:UDEF"), clock=clock, migrate=True)
    try:
        await rt.leads.assign("slack", "T1", "ULEADA", "user", P1.user_id, clock.now())
        await complete(rt, P1, {"case_reference": "CASE-A", "decision": "share", "recipient": Recipient(user_id="UR")})
        await complete(rt, P2, {"case_reference": "CASE-B", "decision": "share", "recipient": Recipient(user_id="UR")})
        clock.advance(timedelta(days=4))
        await rt.followups.scheduled.advance_due()
        clock.set(MON_0900)
        d = await rt.digests.build("slack", "T1", "UDEF", rt.packs.pack())
        assert [i.case_reference for i in d.needs_you] == ["CASE-B"]
        assert ("slack", "T1", "UDEF") in await rt.digests.leads()
    finally:
        await rt.close()


async def test_no_digest_for_a_period_that_ended_before_the_default_lead_led_anyone(
    db_url: str, clock: ManualClock
) -> None:
    """The default lead's first contact (the first check in their workspace, on a Tuesday) brought last week's
    digest, unasked and empty ('Nothing this period'), in the middle of that check."""
    rt = await Runtime.create(make_settings(db_url, sharecheck_default_lead="slack:UDEF"), clock=clock, migrate=True)
    try:
        platform = RecordingDeliverer()
        scheduler = Scheduler(rt, {"slack": platform})
        assert clock.now().weekday() == 1  # Tuesday: the last complete week ended yesterday, before any check
        await rt.checks.start(Actor("slack", "T1", "UDEF"), rt.packs.pack().id)  # the lead's own first check
        await scheduler.run_once()
        assert ("slack", "T1", "UDEF") in await rt.digests.leads()
        assert platform.to("UDEF") == [], "no digest for a week before the lead used ShareCheck"
        await complete(rt, P1, {"case_reference": "CASE-A", "decision": "share", "recipient": Recipient(user_id="UR")})
        clock.set(MON_0900 + timedelta(minutes=1))  # the first week that ends after the first check
        await scheduler.run_once()
        [digest] = [m for m in platform.to("UDEF") if isinstance(m, Digest)]  # (besides the share's escalation)
        assert digest.period.startswith("Mon 23 Nov") and not digest.empty
    finally:
        await rt.close()


@pytest.mark.postgres
async def test_two_instances_queue_one_digest(postgres_url: str, clock: ManualClock) -> None:
    a = await Runtime.create(make_settings(postgres_url), clock=clock, migrate=True)
    b = await Runtime.create(make_settings(postgres_url), clock=clock, migrate=False)
    try:
        for i in range(5):
            await a.leads.assign("slack", "T1", f"ULEAD{i}", "workspace", "", clock.now())
        clock.set(MON_0900 + timedelta(minutes=1))
        await asyncio.gather(*(rt.digests.scheduled.queue_due(rt.packs.pack()) for rt in (a, b, a, b)))
        async with a.sessions() as s:
            counts = dict(
                (
                    await s.execute(
                        select(OutboxMessage.user_id, func.count())
                        .where(OutboxMessage.purpose == "digest")
                        .group_by(OutboxMessage.user_id)
                    )
                ).all()
            )
        assert counts == {f"ULEAD{i}": 1 for i in range(5)}
    finally:
        await a.close()
        await b.close()


async def test_a_lead_scoped_by_channel_sees_checks_started_there(runtime: Runtime, clock: ManualClock) -> None:
    await runtime.leads.assign("slack", "T1", "ULEADCH", "channel", "C-TEAM", clock.now())
    started = await runtime.checks.start(P1, channel_id="C-TEAM")
    await runtime.checks.cancel(P1, started.check_id)
    await complete(runtime, P2, {"case_reference": "CASE-ELSEWHERE", "decision": "share"})
    reply = await runtime.checks.start(P1, channel_id="C-TEAM")
    from tests.support.flows import answer_at

    engine = runtime.packs.engine()
    from bot.db.models import Check

    while reply.message.type == "prompt":
        async with runtime.sessions() as s:
            state = engine.load((await s.get(Check, reply.check_id)).state)
        answer = answer_at(engine.pack, state, {"immediate_danger": "no", "case_reference": "CASE-CHANNEL"})
        reply = await runtime.checks.answer(P1, reply.check_id, answer)
    clock.set(MON_0900)
    d = await digest_for(runtime, "ULEADCH")
    figures = {f.label: f.value for f in d.figures}
    assert figures["Checks completed"] == 1


async def test_export_by_lead_scope(runtime: Runtime, clock: ManualClock) -> None:
    from bot.services.export import ExportFilter, export_records

    await runtime.leads.assign("slack", "T1", "ULEADA", "user", P1.user_id, clock.now())
    await complete(runtime, P1, {"case_reference": "CASE-A", "decision": "share"})
    await complete(runtime, P2, {"case_reference": "CASE-B", "decision": "share"})

    async def scope(session):  # type: ignore[no-untyped-def]
        return await runtime.digests.scope(session, "slack", "T1", "ULEADA")

    since = clock.now() - timedelta(days=1)
    records = await export_records(runtime.sessions, ExportFilter(since=since), scope=scope)
    assert [r["case_reference"] for r in records] == ["CASE-A"]
    everything = await export_records(runtime.sessions, ExportFilter(since=since))
    assert sorted(r["case_reference"] for r in everything) == ["CASE-A", "CASE-B"]


def test_the_wording_names_every_figure_and_reason() -> None:
    """bot/content/digest.yaml has a label for every Figure and a text for every reason a case needs the lead (an
    unknown key is refused when it loads)."""
    content = digest_content()
    assert set(content.figures) == set(Figure)
    assert set(content.needs_you) == set(NeedsYou)
