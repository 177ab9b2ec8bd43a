"""Issue 17's step kinds through the real Bolt stack and the fake Slack Web API, on the demo pack:
a form as one modal, a confirmation list in the message, the review screen before Save, progress in sections."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from adapters.slack import SLACK_ADAPTER
from adapters.slack import app as slack_app
from bot.clock import ManualClock
from bot.db.models import Check
from bot.runtime import Runtime
from dialogs.record import RecordSnapshot
from tests.support.fake_slack import Message
from tests.support.slack_requests import (
    Practitioner,
    checkbox_state,
    field_inputs,
    find,
    opened_for,
    step_of,
)
from tests.support.slack_stack import slack_stack

TEAM = "T0000001"
USER = "U0000001"
DEMO = {
    "sharecheck_content_dir": Path(__file__).parent.parent / "data" / "packs",
    "sharecheck_content_pack": "steps-demo",
}


async def the_check(runtime: Runtime) -> Check:
    async with runtime.sessions() as session:
        [check] = (await session.scalars(select(Check))).all()
        return check


def progress(message: Message) -> str:
    text: str = message.blocks[1]["elements"][0]["text"]
    return text


def texts(message: Message) -> str:
    return json.dumps(message.blocks, ensure_ascii=False)


async def drain(client: TestClient[Any, Any]) -> None:
    await client.app[SLACK_ADAPTER].drain()


async def test_a_whole_check_with_forms_a_confirmation_list_and_the_review(db_url: str, clock: ManualClock) -> None:
    async with slack_stack(db_url, clock, **DEMO) as (runtime, fake, client):
        alice = Practitioner(client, fake, TEAM, USER)
        first = await alice.start()

        # a form: its questions listed in the DM with one button, and its modal opened at once from the command
        assert step_of(first)[0] == "start" and progress(first).endswith("*Decide* › Share › Review")
        assert find(first, "sc:form")["text"]["text"] == "Answer these 2 questions"
        [opened] = await fake.wait_calls("views.open")  # the fake refuses a view slack_sdk's View model refuses
        assert opened.args["view"]["callback_id"] == "sc:fields"
        assert list(field_inputs(opened.args["view"])) == ["immediate_danger", "request_context"]
        await alice.answer_fields({"immediate_danger": "no", "request_context": "own_initiative"})
        # the next step is a form too: it takes the first one's place in the same modal
        assert alice.pushed is not None and opened_for(alice.pushed)[0] == "gates"

        # one field refused: its own message under its own input; Slack keeps the others as they were
        gates = await alice.form()
        assert list(field_inputs(gates)) == ["purpose", "risk_of_harm", "lawful_basis"]
        revision = (await the_check(runtime)).revision
        updates = alice.check_message().updates
        resp = await alice.submit(
            gates, {"sc_f:purpose": "yes", "sc_f:risk_of_harm": "maybe", "sc_f:lawful_basis": "public_task"}
        )
        body = await resp.json()
        assert body["response_action"] == "errors" and list(body["errors"]) == ["sc_f:risk_of_harm"]
        assert "not one of the options" in body["errors"]["sc_f:risk_of_harm"]
        await drain(client)
        assert (await the_check(runtime)).revision == revision and alice.check_message().updates == updates
        await alice.answer_fields({"purpose": "yes", "risk_of_harm": "yes", "lawful_basis": "public_task"})

        await alice.click_and_wait("sc:choice:share")
        await alice.answer_form({"sc_text": "A summary of the concern, roles only."})
        message = await alice.answer_form({"sc_org": "Northshire Police", "sc_role": "MASH detective sergeant"})

        # the confirmation list: ticks in the message, 'Confirm ticked', and 'All true' as the primary button
        assert step_of(message)[0] == "before_send" and progress(message).endswith("Decide › *Share* › Review")
        assert find(message, "sc:choice:all_true")["style"] == "primary"
        assert find(message, "sc:multi_submit")["text"]["text"] == "Confirm ticked"
        await alice.click_and_wait("sc:multi_submit", checkbox_state(message, ("relevant",)))
        # each statement left unticked leads to its own follow-up, in the list's order
        assert step_of(message)[0] == "whole_file_reason"
        await alice.answer_form({"sc_text": "The recipient needs the chronology to act."})
        assert step_of(message)[0] == "remove_details"
        await alice.click_and_wait("sc:choice:continue")
        await alice.answer_form({"sc_text": "CS-2024-0113"})

        # the review: the record as it will be saved, Save, and a menu to change an answer
        assert step_of(message)[0] == "review" and progress(message).endswith("*Review*")
        shown = texts(message)
        assert "More than a summary" in shown and "Northshire Police" in shown
        assert find(message, "sc:choice:save")["style"] == "primary"
        changes = [json.loads(o["value"])["v"] for o in find(message, "sc:change")["options"]]
        assert changes[0] == "change:start" and "change:before_send" in changes

        # changing the list: the statements ticked before are ticked again; now all true, the follow-ups
        # no longer apply and the case reference, still fitting, is carried forward: straight back to the review
        await alice.pick_change("before_send")
        assert step_of(message)[0] == "before_send"
        boxes = next(
            e for b in message.blocks if b["type"] == "actions" for e in b["elements"] if e["type"] == "checkboxes"
        )
        assert [o["value"] for o in boxes["initial_options"]] == ["relevant"]
        await alice.click_and_wait("sc:choice:all_true")
        assert step_of(message)[0] == "review" and "More than a summary" not in texts(message)

        posted = len(alice.dm_messages())
        await alice.click_and_wait("sc:choice:save")
        await alice.wait_for_new_message(posted)
        check = await the_check(runtime)
        assert check.status == "completed" and check.decision == "share" and check.case_reference == "CS-2024-0113"
        snapshot = RecordSnapshot.model_validate(check.snapshot)
        assert snapshot.fields["how_much"] == "A summary" and "minimum_necessary" not in snapshot.fields
        assert snapshot.fields["lawful_basis"] == "Public task"
        assert "Decision recorded" in json.dumps(alice.dm_messages()[-2].blocks)


async def test_changing_an_answer_on_the_review_re_asks_what_depends_on_it(db_url: str, clock: ManualClock) -> None:
    async with slack_stack(db_url, clock, **DEMO) as (runtime, fake, client):
        alice = Practitioner(client, fake, TEAM, USER)
        await alice.start()
        await alice.complete(runtime.packs.pack(), {"request_context": "own_initiative"}, until="review")
        message = alice.check_message()
        assert "Share" in texts(message)

        # 'Change: Should you share?' reopens that form in a modal, its earlier answers selected
        opened = len(fake.calls_to("views.open"))
        await alice.pick_change("gates")
        assert step_of(message)[0] == "gates"
        [call] = (await fake.wait_calls("views.open", opened + 1))[opened:]
        picked = {k: b["element"]["initial_option"]["value"] for k, b in field_inputs(call.args["view"]).items()}
        assert picked == {"purpose": "yes", "risk_of_harm": "yes", "lawful_basis": "public_task"}
        # no purpose now: the question that follows from it is asked, then its own way to the review
        await alice.answer_fields({"purpose": "no"})
        assert step_of(message)[0] == "no_purpose"
        await alice.click_and_wait("sc:choice:not_share")
        assert progress(message).endswith("› *Record* › Review")
        await alice.answer_form({"sc_text": "No safeguarding purpose on reflection."})
        assert step_of(message)[0] == "review" and "Do not share" in texts(message)

        posted = len(alice.dm_messages())
        await alice.click_and_wait("sc:choice:save")
        await alice.wait_for_new_message(posted)
        check = await the_check(runtime)
        assert check.status == "completed" and check.decision == "not_share"


async def test_a_stale_form_or_a_second_submission_changes_nothing_and_says_so(db_url: str, clock: ManualClock) -> None:
    async with slack_stack(db_url, clock, **DEMO) as (runtime, fake, client):
        alice = Practitioner(client, fake, TEAM, USER)
        await alice.start()
        start = await alice.form()
        await alice.answer_fields({"immediate_danger": "no", "request_context": "asked"})
        check = await the_check(runtime)
        updates = alice.check_message().updates

        # Slack delivering the same submission again (a retry): nothing done twice, and the modal says so
        resp = await alice.replay()
        body = await resp.json()
        assert body["response_action"] == "update" and "Nothing was changed" in json.dumps(body["view"])
        # the first form submitted a second time (another copy of the modal): the same
        resp = await alice.submit(start, {"sc_f:immediate_danger": "yes", "sc_f:request_context": "asked"})
        body = await resp.json()
        assert body["response_action"] == "update"
        assert "Nothing was changed" in json.dumps(body["view"]) and "submit" not in body["view"]
        await drain(client)
        after = await the_check(runtime)
        assert (after.revision, after.state) == (check.revision, check.state)
        assert alice.check_message().updates == updates and step_of(alice.check_message())[0] == "gates"

        # a form for a check that was cancelled meanwhile: nothing recorded, and the modal says why
        gates = await alice.form()
        await alice.click_and_wait("sc:cancel")
        resp = await alice.submit(gates, {})
        body = await resp.json()
        assert body["response_action"] == "update" and "That check has already finished" in json.dumps(body["view"])
        await drain(client)
        assert (await the_check(runtime)).status == "cancelled"


async def test_a_refusal_found_after_the_modal_closed_is_shown_in_the_message(
    db_url: str, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with slack_stack(db_url, clock, **DEMO) as (runtime, fake, client):
        alice = Practitioner(client, fake, TEAM, USER)
        message = await alice.start()
        # the answer takes longer than Slack can wait for the ack (a busy database): the modal closes at once
        monkeypatch.setattr(slack_app, "SUBMIT_WAIT", 0)
        view = await alice.form()
        updates = message.updates
        resp = await alice.submit(view, {"sc_f:immediate_danger": "no", "sc_f:request_context": "perhaps"})
        assert resp.status == 200 and await resp.text() == ""
        await fake.wait_for(lambda: message.updates > updates)
        assert step_of(message)[0] == "start"
        assert ":warning:" in texts(message) and "not one of the options" in texts(message)
        assert (await the_check(runtime)).revision == 0
        # the questions open again from the message's button, in the form's modal
        opened = len(fake.calls_to("views.open"))
        await alice.click("sc:form", message)
        [call] = (await fake.wait_calls("views.open", opened + 1))[opened:]
        assert call.args["view"]["callback_id"] == "sc:fields" and opened_for(call.args["view"]) == ("start", 0)
