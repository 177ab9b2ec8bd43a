"""The console's half of seeking advice and of professional disagreement: typed through ConsoleChat and
ConsoleInbox with piped input, against a real database, time moved by the injected clock; and the
`sharecheck inbox` / `sharecheck disagree` commands through the real CLI."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from adapters.console import CONSOLE, ConsoleChat, ConsoleInbox
from bot.checks.models import Actor
from bot.clock import ManualClock
from bot.conversation import Conversation
from bot.db.models import CheckEvent, FollowUp
from bot.runtime import Runtime
from tests.support.checks import finish_urgent_check
from tests.support.cli import SHARE_SCRIPT, run
from tests.support.settings import make_settings

ALICE = Actor("console", "local", "alice")
LEAD = Actor("console", "local", "dsl")
CASE = "CS-2024-0113"
# 'before you start', then the gates form with the purpose 'not sure', then 'ask my lead now': the check waits at
# the gates form, and carries on from it with the share script's answers
TO_ASK_LEAD = [*SHARE_SCRIPT[:2], "3", "1", "", CASE, "1"]
AFTER_ADVICE = SHARE_SCRIPT[2:]


@pytest.fixture
async def runtime(sqlite_url: str, clock: ManualClock) -> AsyncIterator[Runtime]:
    rt = await Runtime.create(make_settings(sqlite_url, sharecheck_default_lead="console:dsl"), clock, migrate=True)
    try:
        yield rt
    finally:
        await rt.close()


async def chat(runtime: Runtime, actor: Actor, lines: list[str]) -> str:
    """One `sharecheck chat` session: the inbox first, then the check."""
    stdin, stdout = io.StringIO("\n".join(lines) + "\n"), io.StringIO()
    conversation = Conversation(runtime, CONSOLE)
    inbox = ConsoleInbox(conversation, actor.user_id, stdin, stdout)
    assert await ConsoleChat(conversation, actor.user_id, stdin, stdout, inbox).run() == 0
    return flat(stdout.getvalue())


def flat(text: str) -> str:
    """The text with its line wrapping undone, so sentences can be matched whole."""
    return " ".join(text.split())


async def inbox(runtime: Runtime, actor: Actor, lines: list[str]) -> str:
    """One `sharecheck inbox` session."""
    stdin, stdout = io.StringIO("\n".join(lines) + "\n"), io.StringIO()
    await ConsoleInbox(Conversation(runtime, CONSOLE), actor.user_id, stdin, stdout).run()
    return flat(stdout.getvalue())


async def trail(runtime: Runtime) -> list[CheckEvent]:
    async with runtime.sessions() as s:
        return list(await s.scalars(select(CheckEvent).order_by(CheckEvent.at, CheckEvent.seq)))


async def test_ask_my_lead_now_in_the_terminal(runtime: Runtime, clock: ManualClock) -> None:
    out = await chat(runtime, ALICE, [*TO_ASK_LEAD, "quit"])
    assert "I have asked your safeguarding lead for advice" in out
    assert out.endswith("carry on where you stopped.")

    # the lead opens their inbox: the question, with the case reference and the step's own words
    clock.advance(timedelta(minutes=20))
    out = await inbox(runtime, LEAD, ["1", "Yes: refer to {user:x} MASH today."])
    assert "ADVICE NEEDED NOW: CASE CS-2024-0113" in out
    assert "@alice is doing a ShareCheck and asks for your advice." in out
    assert "The question: Is there a clear safeguarding purpose, and a risk of harm if you do not share?" in out
    assert "Thank you: your answer is recorded" in out
    assert await inbox(runtime, LEAD, []) == "", "answered: nothing waits for the lead any more"

    # the practitioner comes back: the advice first, then the check at the question it waited at
    out = await chat(runtime, ALICE, AFTER_ADVICE)
    advice_at = out.index("ADVICE FROM YOUR SAFEGUARDING LEAD: CASE CS-2024-0113")
    assert "Your safeguarding lead advised on case CS-2024-0113: Sharing is justified." in out
    assert "“Yes: refer to (user:x) MASH today.”" in out, "a typed note cannot forge a mention"
    resumed_at = out.index("carrying on where you stopped")
    assert advice_at < resumed_at < out.index("SHOULD YOU SHARE?")
    assert "Press Enter to keep: Not sure" in out, "the form as it was answered before the advice"
    assert "DECISION RECORDED: SHARE" in out
    # the advice is in the case notes and in the trail
    assert "Advice from the safeguarding lead (24 Nov 2026 10:20 UTC) on “Is there a clear" in out
    kinds = [e.kind for e in await trail(runtime)]
    assert kinds.index("advice_requested") < kinds.index("advice_given") < kinds.index("completed")


async def test_could_not_confirm_leads_to_the_disagreement_route(runtime: Runtime, clock: ManualClock) -> None:
    await chat(runtime, ALICE, SHARE_SCRIPT)
    assert await inbox(runtime, ALICE, []) == "", "nothing is asked before the follow-up is due"
    clock.advance(timedelta(hours=5))
    # 'did it arrive?': left for later first, then answered
    out = await inbox(runtime, ALICE, ["later"])
    assert "DID IT ARRIVE, AND WAS IT UNDERSTOOD?" in out and "Left for later" in out
    out = await inbox(runtime, ALICE, ["9", "3"])
    assert "Type a number from 1 to 3" in out
    lead = await inbox(runtime, LEAD, [])
    assert "SAFEGUARDING FOLLOW-UP NEEDS YOU: CASE CS-2024-0113" in lead
    assert "@alice could not confirm that health visitor, Northshire Community Health received" in lead

    # the route is offered next time; stage 1 starts
    out = await inbox(runtime, ALICE, ["1"])
    assert "START THE PROFESSIONAL DISAGREEMENT ROUTE? CASE CS-2024-0113" in out
    assert "Recorded: Stage 1 started for case CS-2024-0113, due by Thu 26 Nov 2026." in out
    # when stage 1 is due, ShareCheck asks how it went; moving on tells the lead
    clock.advance(timedelta(days=2))
    out = await inbox(runtime, ALICE, ["2", "They still say it never came."])
    assert "PROFESSIONAL DISAGREEMENT, CASE CS-2024-0113: STAGE 1" in out
    assert "Recorded: Stage 2 started" in out
    lead = await inbox(runtime, LEAD, [])
    assert "@alice has moved a professional disagreement about case CS-2024-0113 to Stage 2" in lead
    events = await trail(runtime)
    stages = [e.data["stage"] for e in events if e.kind == "disagreement_stage"]
    assert stages == [1, 2]
    assert any(e.kind == "follow_up_answered" and e.data.get("note") for e in events)


async def test_disagreeing_with_a_response_from_the_terminal(runtime: Runtime, clock: ManualClock) -> None:
    await chat(runtime, ALICE, SHARE_SCRIPT)
    clock.advance(timedelta(hours=5))
    out = await inbox(runtime, ALICE, ["1", "Phone call with the duty health visitor"])
    # confirmed, and told how to disagree with what the recipient said they will do
    assert "receipt and understanding confirmed" in out
    assert "`sharecheck disagree CS-2024-0113` starts the local professional disagreement route" in out
    async with runtime.sessions() as s:
        fu = await s.scalar(select(FollowUp).where(FollowUp.kind == "sender_confirm"))
    assert fu is not None and fu.state == "confirmed"
    result = await runtime.followups.start_disagreement(ALICE, case_reference=CASE)
    assert result.changed and "Stage 1 started for case CS-2024-0113" in result.reply.lines[0]
    again = await runtime.followups.start_disagreement(ALICE, case_reference=CASE)
    assert not again.changed and "already at Stage 1" in again.reply.lines[0]


def test_inbox_and_disagree_commands(tmp_path: Path) -> None:
    import os

    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SHARECHECK_", "SLACK_", "MICROSOFT_"))}
    env = clean | {
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'sc.db'}",
        "SHARECHECK_DEFAULT_LEAD": "console:dsl",
    }
    asked = run(["chat", "--user", "alice"], env, "\n".join([*TO_ASK_LEAD, "quit"]) + "\n")
    assert asked.returncode == 0, asked.stderr
    assert "I have asked your safeguarding lead" in flat(asked.stdout)
    nothing = run(["inbox", "--user", "someone-else"], env)
    assert nothing.returncode == 0 and nothing.stdout.strip() == "Nothing is waiting for you."
    answered = run(["inbox", "--user", "dsl"], env, "2\n\n")
    assert answered.returncode == 0, answered.stderr
    assert "ADVICE NEEDED NOW" in flat(answered.stdout) and "Thank you" in flat(answered.stdout)
    back = run(["chat", "--user", "alice"], env, "\n".join(AFTER_ADVICE) + "\n")
    assert "advised on case CS-2024-0113: Do not share." in flat(back.stdout)
    assert "DECISION RECORDED: SHARE" in flat(back.stdout)  # advice informs; the practitioner decides and says why

    started = run(["disagree", "--user", "alice", CASE], env)
    assert started.returncode == 0, started.stderr
    assert "Recorded: Stage 1 started for case CS-2024-0113" in flat(started.stdout)
    unknown = run(["disagree", "--user", "alice", "CS-NOPE"], env)
    assert unknown.returncode == 2 and "no share with a follow-up for that case" in unknown.stderr


async def test_the_urgent_reminder_to_confirm_in_writing_in_the_terminal(runtime: Runtime, clock: ManualClock) -> None:
    check_id, _ = await finish_urgent_check(runtime, ALICE)
    async with runtime.sessions() as s:
        share = await s.scalar(select(FollowUp).where(FollowUp.kind == "sender_confirm"))
    assert share is not None  # answered first, so the inbox holds only the reminder
    await runtime.followups.answer(ALICE, share.id, "confirmed")
    clock.advance(timedelta(hours=5))
    out = await inbox(runtime, ALICE, ["1", "Emailed the referral form to the MASH"])
    assert "CONFIRM THE URGENT REFERRAL IN WRITING: CASE CS-2024-0113" in out
    assert "1) Done: confirmed in writing" in out and "3) Not yet: remind me" in out
    assert "Recorded: the urgent referral about case CS-2024-0113 is confirmed in writing." in out
    assert await inbox(runtime, ALICE, []) == "", "answered: nothing waits any more"
    events = [e for e in await trail(runtime) if e.check_id == check_id and e.kind == "follow_up_answered"]
    assert [e.data["answer"] for e in events] == ["confirmed", "in_writing"]
    assert events[-1].data["note"] == "Emailed the referral form to the MASH"
