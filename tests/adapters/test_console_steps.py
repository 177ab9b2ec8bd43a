"""The console's new step kinds (issue 17), walked as whole checks through ConsoleChat with piped input against
a real database: a form asked one question at a time (a refused field asked again on its own), a confirmation
list with unticked items leading to their follow-ups, the review screen (change an answer, then save), the
immediate-danger path; and the same through the real CLI with `printf ... | sharecheck chat`."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from adapters.console import CONSOLE, ConsoleChat
from bot.checks.models import Actor
from bot.clock import ManualClock
from bot.conversation import Conversation
from bot.db.models import Check
from bot.runtime import Runtime
from tests.support.settings import make_settings

PACKS = Path(__file__).parent.parent / "data" / "packs"
ALICE = Actor("console", "local", "alice")
WHAT = "The weight concerns from the review, so the health visitor can monitor them."
RECIPIENT = "Northshire Community Health, health visitor"

# the demo pack's share path, every list item true: 'before you start', 'should you share?' (lawful basis is
# asked: the practitioner shares on their own initiative), the decision, what, to whom, the list, the reference
START = ["2", "2"]
GATES = ["1", "1", "1"]
TO_REVIEW = [*START, *GATES, "1", WHAT, RECIPIENT, "", "CS-2024-0113"]


@pytest.fixture
def overrides() -> dict[str, object]:
    return {}


@pytest.fixture
async def runtime(sqlite_url: str, clock: ManualClock, overrides: dict[str, object]) -> AsyncIterator[Runtime]:
    settings = make_settings(
        sqlite_url, sharecheck_content_dir=PACKS, sharecheck_content_pack="steps-demo", **overrides
    )
    rt = await Runtime.create(settings, clock, migrate=True)
    try:
        yield rt
    finally:
        await rt.close()


async def chat(runtime: Runtime, lines: list[str], actor: Actor = ALICE) -> str:
    """One `sharecheck chat` session; the transcript with line wrapping undone."""
    stdin, stdout = io.StringIO("\n".join(lines) + "\n"), io.StringIO()
    assert await ConsoleChat(Conversation(runtime, CONSOLE), actor.user_id, stdin, stdout).run() == 0
    return " ".join(stdout.getvalue().split())


async def record(runtime: Runtime) -> Check:
    async with runtime.sessions() as s:
        return (await s.scalars(select(Check))).one()


async def test_a_form_is_asked_one_question_at_a_time_and_a_refused_field_is_asked_again_alone(
    runtime: Runtime,
) -> None:
    out = await chat(runtime, ["7", "2", "2", "quit"])
    assert "--- Step kinds demo · DECIDE › Share › Review ---" in out, "the sections, the current one marked"
    assert "BEFORE YOU START Two quick questions first. 2 questions, one at a time." in out
    assert "(1/2) Is anyone in immediate danger now? 1) Yes 2) No 3) Not sure Type the number." in out
    # '7' is not an option: after the whole form is sent, only that question comes back, with its reason
    assert "! Some answers need another look: only those questions are asked again." in out
    assert "(1/2) Is anyone in immediate danger now? ! Please pick one of the options: 'Yes', 'No', 'Not sure'." in out
    assert out.count("(1/2) Is anyone in immediate danger now?") == 2
    assert out.count("(2/2) Were you asked for this information?") == 1
    assert "Press Enter to keep: 7" not in out, "a refused answer is not offered to keep"
    # the answer that was fine was kept: 'I want to share it' asks the lawful basis in the next form
    assert "SHOULD YOU SHARE? Two questions decide whether sharing is right. 3 questions, one at a time." in out


async def test_share_with_unticked_items_leads_to_their_follow_ups_and_saves_from_the_review(
    runtime: Runtime,
) -> None:
    lines = [*START, *GATES, "1", WHAT, RECIPIENT, "1", "The whole file: the recipient asked for it all.", "1"]
    out = await chat(runtime, [*lines, "CS-2024-0113", "s"])
    assert (
        "BEFORE YOU SEND Before you send, confirm each of these. 1) It is relevant to the concern "
        "2) It is a summary, not the whole file 3) Other people's identities are protected "
        "Press Enter or type 'a' if all are true (All true). Otherwise type the numbers of the true ones"
    ) in out
    # only the first is true: the other two lead to their own follow-ups, in the list's order
    assert out.index("WHY MORE THAN A SUMMARY") < out.index("REMOVE THOSE DETAILS") < out.index("CASE REFERENCE")
    assert "CHECK AND SAVE" in out and "TO BE RECORDED: SHARE" in out
    assert "Type 's' to save the decision, or a number to change that answer." in out
    assert "DECISION RECORDED: SHARE" in out
    check = await record(runtime)
    assert check.status == "completed" and check.decision == "share"
    answers = check.state["answers"]
    assert answers["before_send"]["choices"] == ["relevant"]
    assert answers["whole_file_reason"]["text"].startswith("The whole file")


async def test_the_confirm_list_takes_enter_for_all_true_and_none_for_none(runtime: Runtime) -> None:
    out = await chat(runtime, [*START, *GATES, "1", WHAT, RECIPIENT, "none", "back", "a", "quit"])
    assert "WHY MORE THAN A SUMMARY" in out, "'none': the first item's follow-up"
    assert "(Ticked before: " not in out
    assert "CASE REFERENCE" in out, "'a': all true"
    out = await chat(runtime, ["back", "", "quit"])
    assert "(Ticked before: 1, 2, 3)" in out
    check = await record(runtime)
    assert check.state["step"] == "case_reference", "Enter: all true, no follow-ups"
    assert check.state["answers"]["before_send"]["choices"] == ["relevant", "summary", "identities"]


async def test_the_review_shows_the_record_and_changes_an_answer_before_saving(runtime: Runtime) -> None:
    # 4) Change: What and why; then 1) Change: Before you start, its answers kept with Enter
    changed = "Only the weight summary, so the health visitor can monitor it."
    out = await chat(runtime, [*TO_REVIEW, "4", changed, "1", "", "", "s"])
    review = out[out.index("CHECK AND SAVE") :]
    assert "This is what will be recorded." in review
    assert "Case reference: CS-2024-0113" in review
    assert f"What was shared: {WHAT}" in review or WHAT in review
    assert "4) Change: What and why" in review and "1) Change: Before you start" in review
    # the earlier answer is shown, the new one replaces it, and the answers after it still fit: back to review
    assert f"(Earlier answer: {WHAT})" in out
    assert changed in out[out.rindex("CHECK AND SAVE") :]
    assert "Press Enter to keep: No" in out and "Press Enter to keep: I want to share it" in out
    assert out.count("CHECK AND SAVE") == 3, "each change returns to the review screen"
    assert "DECISION RECORDED: SHARE" in out
    check = await record(runtime)
    assert check.state["answers"]["what"]["text"] == changed
    assert check.state["answers"]["request_context"]["choices"] == ["own_initiative"]


async def test_the_immediate_danger_path_shows_who_to_call_first(runtime: Runtime) -> None:
    out = await chat(runtime, ["1", "1", "1,2", "Called 999 and told my lead.", "1", "s"])
    act_now = out[out.index("ACT NOW") - 200 :]
    assert act_now.index("CALL NOW Police or ambulance, when someone is in immediate danger: 999") < act_now.index(
        "ACT NOW"
    )
    assert "DECISION RECORDED: SHARE" in out and "Immediate risk: act first" in out
    check = await record(runtime)
    assert check.state["answers"]["urgent_action"]["choices"] == ["called_999", "told_lead"]


async def test_commands_keep_working_inside_a_form(runtime: Runtime) -> None:
    # 'back' within the form goes to its previous question; at its first, to the step before the form
    out = await chat(runtime, [*START, "1", "back", "1", "back", "back", "", "", "1", "urgent", "quit"])
    gates = out.index("SHOULD YOU SHARE?")
    # asked, back from the second question, again, back again, and after leaving the form and coming back
    assert out.count("(1/3) Is there a clear safeguarding purpose?") == 4
    assert "BEFORE YOU START" in out[gates:], "'back' at the form's first question leaves the form"
    assert "ACT NOW" in out and "CALL NOW" in out
    assert out.endswith("carry on where you stopped.")
    out = await chat(runtime, ["quit"])
    assert "carrying on where you stopped" in out and "ACT NOW" in out
    out = await chat(runtime, ["cancel"])
    assert "Check cancelled" in out
    # 'quit' and 'cancel' in the middle of a form
    out = await chat(runtime, ["2", "quit"])
    assert "Your check is saved" in out
    out = await chat(runtime, ["2", "cancel"])
    assert "Check cancelled" in out


async def test_help_inside_a_form_shows_its_sources(runtime: Runtime) -> None:
    out = await chat(runtime, [*START, "help", "quit"])
    assert "(1/3) Is there a clear safeguarding purpose?" in out
    assert out.count("(1/3) Is there a clear safeguarding purpose?") == 2, "asked again after the help"


@pytest.mark.parametrize("overrides", [{"sharecheck_organisation_kind": "school"}])
async def test_enter_accepts_the_organisations_lawful_basis(runtime: Runtime) -> None:
    out = await chat(runtime, [*START, "1", "1", "", "quit"])
    assert "Press Enter to keep: Public task (my organisation's)" in out
    check = await record(runtime)
    assert check.state["answers"]["lawful_basis"]["choices"] == ["public_task"]
    assert check.state["answers"]["lawful_basis"]["organisation_default"] is True


@pytest.fixture
def typed_form_pack(tmp_path: Path) -> Path:
    """The demo pack with a typed question in its first form, for the personal-details warning."""
    pack = yaml.safe_load((PACKS / "steps-demo.yaml").read_text())
    start = next(s for s in pack["steps"] if s["id"] == "start")
    concern = {"id": "concern", "kind": "free_text", "title": "Concern", "question": "In a line, the concern?"}
    start["fields"].append(concern | {"field": "purpose_detail", "max_length": 200})
    folder = tmp_path / "packs"
    folder.mkdir()
    (folder / "steps-demo.yaml").write_text(yaml.safe_dump(pack))
    return folder


async def test_personal_details_in_a_form_can_be_kept_or_typed_again(
    sqlite_url: str, clock: ManualClock, typed_form_pack: Path
) -> None:
    settings = make_settings(sqlite_url, sharecheck_content_dir=typed_form_pack, sharecheck_content_pack="steps-demo")
    runtime = await Runtime.create(settings, clock, migrate=True)
    try:
        # the only problem is the email address: the whole form is warned about, 'keep' sends it as it was
        out = await chat(runtime, ["2", "2", "Dad's email is dad@example.org", "keep", "quit"])
        assert "looks like it contains an email address" in out
        assert "Type 'keep' to keep your answers as they are, or press Enter to type them again." in out
        assert "SHOULD YOU SHARE?" in out
        check = await record(runtime)
        assert check.state["answers"]["concern"]["personal_data"] == ["email"]
        # typed again with other details: only that question is asked again, the others keep their answers
        out = await chat(runtime, ["back", "", "", "Mum: 07700 900123", "", "The weight concern only", "quit"])
        assert "looks like it contains a phone number" in out and "(1/3)" in out
        assert out.count("In a line, the concern?") == 2
        check = await record(runtime)
        assert check.state["answers"]["concern"]["text"] == "The weight concern only"
        # with another refusal in the same form each is asked again: 'keep' on the one with personal details
        out = await chat(runtime, ["back", "9", "", "Call 07700 900123", "2", "keep", "quit"])
        assert "Or type 'keep' to keep it as it is." in out
        check = await record(runtime)
        assert check.state["step"] == "gates" and check.state["answers"]["concern"]["text"] == "Call 07700 900123"
    finally:
        await runtime.close()


def test_a_piped_chat_walks_the_demo_pack_through_the_cli(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHARECHECK_", "SLACK_", "MICROSOFT_"))}
    env |= {
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'sc.db'}",
        "SHARECHECK_CONTENT_DIR": str(PACKS),
        "SHARECHECK_CONTENT_PACK": "steps-demo",
    }
    script = ["7", "2", "2", *GATES, "1", WHAT, RECIPIENT, "1,3", "Needed: the recipient asked.", "CS-7", "s"]
    done = subprocess.run(
        [sys.executable, "-m", "sharecheck", "chat", "--user", "p7"],
        input="\n".join(script) + "\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = " ".join(done.stdout.split())
    assert "> 7 (2/2)" in out, "piped answers are echoed, so the output reads as a transcript"
    assert "DECISION RECORDED: SHARE" in out and "Case reference: CS-7" in out


async def test_commands_typed_in_the_chat_are_the_conversations(runtime: Runtime) -> None:
    """Where the answer is a number, a line can be a command too (the same handler as Slack and Teams); the
    question is asked again after its answer."""
    out = await chat(runtime, [*START, *GATES, "pending", "revoke CS-404", "quit"])
    assert "STILL OPEN FOR YOU" in out and "check in progress" in out
    assert "NOTHING REVOKED No live receipt link of yours for case CS-404." in out
    decision = out[out.index("STILL OPEN FOR YOU") :]
    assert decision.count("Type the number.") == 2, "the same question after each command"
    assert (await record(runtime)).status == "active"
