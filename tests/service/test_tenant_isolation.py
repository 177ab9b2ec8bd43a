"""One workspace's data never reaches another, through every service entry point the adapters use.

The same user id exists in two workspaces (a Slack team id and a Teams tenant id are both 'workspaces'):
everything the intruder tries on the victim's records is refused or comes back empty, and nothing changes.
The platform adapters' own cross-workspace tests (Slack, Teams, the receipt page) drive these same
services through HTTP.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.checks.models import Actor, CheckNotFound
from bot.clock import ManualClock
from bot.db.models import Check, CheckEvent, FollowUp, OutboxMessage
from bot.followups.models import FollowUpNotFound
from bot.runtime import Runtime
from bot.services.export import ExportFilter, export_records
from bot.services.roles import NotPermitted
from dialogs.messages import Prompt
from dialogs.state import Recipient
from tests.support.conversation import answer_to
from tests.support.followups import complete

VICTIM = Actor("slack", "T-VICTIM", "U0SAME")
INTRUDER = Actor("slack", "T-OTHER", "U0SAME")
TEAMS_TWIN = Actor("teams", "T-VICTIM", "U0SAME")


async def counts(runtime: Runtime) -> tuple[int, ...]:
    async with runtime.sessions() as s:
        return tuple(
            [
                int(await s.scalar(select(func.count()).select_from(model)) or 0)
                for model in (Check, CheckEvent, FollowUp, OutboxMessage)
            ]
        )


@pytest.mark.parametrize("intruder", [INTRUDER, TEAMS_TWIN], ids=["other-workspace", "other-platform"])
async def test_every_entry_point_refuses_another_workspaces_records(
    runtime: Runtime, clock: ManualClock, intruder: Actor
) -> None:
    await runtime.leads.assign("slack", "T-VICTIM", "ULEAD", "workspace", "", clock.now())
    shared = await complete(
        runtime, VICTIM, {"case_reference": "CASE-SECRET", "decision": "share", "recipient": Recipient(user_id="UR")}
    )
    refused = await complete(
        runtime,
        VICTIM,
        {"case_reference": "CASE-NOSHARE", "decision": "not_share", "request_context": "own_initiative"},
    )
    in_progress = await runtime.checks.start(VICTIM)
    async with runtime.sessions() as s:
        follow_up = await s.scalar(select(FollowUp.id).where(FollowUp.check_id == shared))
    assert follow_up is not None
    before = await counts(runtime)

    # checks: every move and read names the check, and finds nothing for the intruder
    assert isinstance(in_progress.message, Prompt)
    answer = answer_to(in_progress.message, fields={"immediate_danger": "no"})  # would move it on, were it theirs
    for attempt in (
        runtime.checks.answer(intruder, in_progress.check_id, answer),
        runtime.checks.back(intruder, in_progress.check_id),
        runtime.checks.cancel(intruder, in_progress.check_id),
        runtime.checks.urgent(intruder, in_progress.check_id),
        runtime.checks.current(intruder, shared),
        runtime.checks.snapshot(intruder, shared),
        runtime.checks.reconsider(intruder, refused),
        runtime.checks.reconsider(intruder, case_reference="CASE-NOSHARE"),
    ):
        with pytest.raises(CheckNotFound):
            await attempt
    assert await runtime.checks.resume(intruder) is None
    assert (await runtime.checks.pending(intruder)).items == ()

    # follow-ups: answering, starting a disagreement
    with pytest.raises(FollowUpNotFound):
        await runtime.followups.answer(intruder, follow_up, "understood")
    with pytest.raises(FollowUpNotFound):
        await runtime.followups.start_disagreement(intruder, shared)

    # digests: a lead of the other workspace, and the victim's lead asked about the other workspace
    clock.advance(timedelta(days=7))
    assert (
        "CASE-SECRET"
        not in (await runtime.digests.build("slack", "T-OTHER", "ULEAD", runtime.packs.pack())).model_dump_json()
    )
    assert not await runtime.digests.is_lead(intruder.platform, intruder.workspace_id, "ULEAD")

    # export limited to the other workspace, or scoped to its lead
    since = clock.now() - timedelta(days=30)
    other = await export_records(runtime.sessions, ExportFilter(since=since, platform="slack", workspace_id="T-OTHER"))
    assert other == []

    async def their_lead_scope(session):  # type: ignore[no-untyped-def]
        return await runtime.digests.scope(session, intruder.platform, intruder.workspace_id, "ULEAD")

    assert await export_records(runtime.sessions, ExportFilter(since=since), scope=their_lead_scope) == []

    # roles: an administrator of one workspace is nobody in another
    assert not await runtime.roles.is_admin(intruder)
    with pytest.raises(NotPermitted):
        await runtime.roles.add_lead(intruder, intruder.user_id, "workspace")

    # receipt links: revoking names a case of one's own only
    from bot.services.receipts import ReceiptNotFound

    with pytest.raises(ReceiptNotFound):
        await runtime.receipts.revoke(intruder, "CASE-SECRET")

    assert await counts(runtime) == before, "nothing the intruder tried changed anything"
    assert (await runtime.checks.current(VICTIM, in_progress.check_id)).message.type == "prompt"
    assert str(uuid.UUID(str(shared)))  # the victim's records are still there and theirs
