"""The Slack adapter end to end: signed requests to our aiohttp server, the real slack-bolt stack, a fake Web API."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from adapters.slack import SLACK_ADAPTER
from adapters.slack import app as slack_app
from bot.clock import ManualClock
from bot.db.models import Check, CheckEvent, PlatformUser, ProcessedRequest
from bot.runtime import Runtime
from dialogs.engine import REVIEW
from dialogs.record import RecordSnapshot
from dialogs.state import Recipient
from sharecheck.web import build_app
from tests.support.fake_slack import BOT_TOKEN, FakeSlack, Message
from tests.support.flows import NOT_SHARE_SCREENS, SHARE_SCREENS
from tests.support.settings import make_settings
from tests.support.slack_blocks import round_trip_sent
from tests.support.slack_requests import (
    EVENTS,
    Practitioner,
    all_text,
    block_actions,
    checkbox_state,
    choice_buttons,
    command_body,
    elements,
    field_inputs,
    find,
    interaction_body,
    opened_for,
    signature,
    step_of,
    view_payload,
)
from tests.support.slack_stack import drain, slack_stack

TEAM = "T0000001"
OTHER_TEAM = "T0000002"
USER = "U0000001"
STALE = "That was already done, so nothing changed"


@pytest.fixture
async def stack(sqlite_url: str, clock: ManualClock) -> AsyncIterator[tuple[Runtime, FakeSlack, TestClient[Any, Any]]]:
    async with slack_stack(sqlite_url, clock) as parts:
        yield parts


@pytest.fixture
def runtime_(stack: tuple[Runtime, FakeSlack, TestClient[Any, Any]]) -> Runtime:
    return stack[0]


@pytest.fixture
def fake(stack: tuple[Runtime, FakeSlack, TestClient[Any, Any]]) -> FakeSlack:
    return stack[1]


@pytest.fixture
def client(stack: tuple[Runtime, FakeSlack, TestClient[Any, Any]]) -> TestClient[Any, Any]:
    return stack[2]


@pytest.fixture
def alice(client: TestClient[Any, Any], fake: FakeSlack) -> Practitioner:
    return Practitioner(client, fake, TEAM, USER)


async def checks_of(runtime: Runtime, **where: Any) -> list[Check]:
    async with runtime.sessions() as session:
        query = select(Check)
        for key, value in where.items():
            query = query.where(getattr(Check, key) == value)
        return list((await session.scalars(query)).all())


async def count(runtime: Runtime, model: Any) -> int:
    async with runtime.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


# --- the whole check ------------------------------------------------------------------------


async def test_the_command_is_acknowledged_before_the_work_that_follows(
    client: TestClient[Any, Any], fake: FakeSlack, alice: Practitioner
) -> None:
    """Bolt answers as soon as our listener returns: the listener acks and hands the check's opening to a task,
    so a slow Slack delays the DM, never the ack (Slack gives an ack 3 seconds). Typed in a channel, the ack itself
    tells the person, there only, that the check is in the DM."""
    await Practitioner(client, fake, TEAM, "U0WARMUP1").start()  # Bolt checks its token once (auth.test)
    await drain(client)
    fake.delay = 0.5  # every Web API call: users.info, conversations.open, chat.postMessage, views.open
    fake.calls.clear()
    started = time.perf_counter()
    resp = await alice.command()
    acked = time.perf_counter() - started
    notice = await resp.text()
    assert acked < 0.5 and not fake.calls_to("chat.postMessage")
    await fake.wait_for(lambda: fake.calls_to("chat.postMessage"), within=10)
    assert time.perf_counter() - started > 1.0  # the DM came after at least users.info and the post
    # typed in a channel: the check is in the DM, and the ack (seen by this person only) says so; no second reply
    assert "I have sent you a private message" in notice and "response_type" not in notice
    await drain(client)
    assert fake.calls_to("response_url") == []


@pytest.fixture
def patient_acks(monkeypatch: pytest.MonkeyPatch) -> None:
    """A modal's ack waits for the answer up to 2 s, then closes the modal (the next form then needs a click); on a
    loaded test machine an answer can take longer, so the walks that count the modals opening by themselves wait
    for it (the fake Slack does not time acks out)."""
    monkeypatch.setattr(slack_app, "SUBMIT_WAIT", 30.0)


def screens(fake: FakeSlack, channel: str) -> list[str]:
    """The step each version of the check's message showed in ``channel``, in order (a step shown again in a row
    counted once); every message posted or updated there, summary and notes too, checked against slack_sdk's
    models as the Web API received it."""
    shown: list[str] = []
    for call in fake.calls:
        if call.method not in ("chat.postMessage", "chat.update") or call.args.get("channel") != channel:
            continue
        raw = call.args["blocks"]
        blocks: list[dict[str, Any]] = json.loads(raw) if isinstance(raw, str) else raw
        round_trip_sent(blocks)
        message = Message(channel, "", blocks, "")
        if not any("value" in e and '"s"' in e["value"] for e in elements(message)):
            continue  # the summary, the notes, a finished check: no step on it
        step = step_of(message)[0]
        if not shown or shown[-1] != step:
            shown.append(step)
    return shown


def record_of(check: Check) -> RecordSnapshot:
    return RecordSnapshot.model_validate(check.snapshot)


SHARE = {
    "request_context": "asked",
    "purpose": "yes",
    "risk_of_harm": "yes",
    "hesitation": ("none",),
    "decision": "share",
    "what": "The bruising the teacher saw on Monday, so the social worker can assess today.",
    "method": "secure_email",
    "timely": "now",
    "lawful_basis": "public_task",
    "special_category": "no",
    "informed": "will_tell",
}


async def test_a_whole_share_through_slack_is_recorded(db_url: str, clock: ManualClock, patient_acks: None) -> None:
    """The default pack's share path: the 'before you start' form, 'should you share?', the decision, what, to
    whom, how, the list before sending, the review and Save, in one DM message updated in place."""
    async with slack_stack(db_url, clock) as (runtime, fake, client):
        alice = Practitioner(client, fake, TEAM, USER)
        first = await alice.start()
        # opened in the DM (conversations.open + chat.postMessage), with progress, the form's questions and navigation
        assert fake.calls_to("conversations.open")[0].args["users"] == USER
        assert first.channel == alice.dm
        text = json.dumps(first.blocks)
        assert "Someone is in immediate danger" in text and "sc:cancel" in text
        assert find(first, "sc:form")["text"]["text"] == "Answer these 2 questions"
        progress = first.blocks[1]["elements"][0]["text"]  # where the check is, by its sections, never a count
        assert progress.endswith("*Decide* › Share › Review") and "Step" not in progress
        # the first step is a form: its modal opened straight from the command's trigger, an input per question
        [opened] = await fake.wait_calls("views.open")  # the fake refuses what slack_sdk's View model refuses
        assert opened.args["view"]["callback_id"] == "sc:fields"
        assert list(field_inputs(opened.args["view"])) == ["immediate_danger", "request_context"]
        pack = runtime.packs.pack()
        steps = await alice.complete(pack, SHARE)
        # every typed step's modal opened by itself (from the command, a click or the previous form's ack)
        assert alice.requests == 1 + steps
        assert [(opened_for(v)[0], list(field_inputs(v))) for v in alice.modals] == [
            ("start", ["immediate_danger", "request_context"]),
            ("gates", ["purpose", "risk_of_harm", "hesitation", "case_reference"]),
            ("what", []),
            ("recipient", []),
            ("how", ["method", "timely", "lawful_basis", "special_category", "informed", "asked_at"]),
        ]
        # the path in the pack's order on the one message, each version of it as slack_sdk's models write it
        assert screens(fake, alice.dm) == list(SHARE_SCREENS)

        done = await checks_of(runtime)
        assert len(done) == 1
        check = done[0]
        assert (check.platform, check.workspace_id, check.user_id) == ("slack", TEAM, USER)
        assert check.status == "completed" and check.decision == "share"
        assert check.case_reference == "CS-2024-0113"
        snapshot = record_of(check)
        assert snapshot.recipient == Recipient(organisation="Northshire Police", role="MASH detective sergeant")
        # each question of a form is an answer of its own on the record
        answered = {a.step_id for a in snapshot.answers}
        assert {"immediate_danger", "request_context", "purpose", "case_reference", "method", "asked_at"} <= answered
        assert snapshot.fields["lawful_basis"] == "Public task" and snapshot.fields["relevant"] == "Yes"
        assert snapshot.fields["what_shared"] == SHARE["what"]

        # one message updated in place throughout, then the summary posted below it and the notes to copy after
        dm = alice.dm_messages()
        assert len(dm) == 3
        assert dm[0].updates == steps
        summary, notes = json.dumps(dm[1].blocks), json.dumps(dm[2].blocks)
        assert "Decision recorded" in summary and "```" not in summary and "CS-2024-0113" in summary
        assert "Copy this into the case notes" in notes and "```" in notes and "CS-2024-0113" in notes
        assert "Covering note" in notes
        # the user's time zone was remembered, auth.test called once, every call with the bot token
        async with runtime.sessions() as session:
            user = await session.get(PlatformUser, ("slack", TEAM, USER))
        assert user is not None and user.tz == "Europe/London"
        assert len(fake.calls_to("auth.test")) == 1
        assert {c.token for c in fake.calls if c.method != "response_url"} == {BOT_TOKEN}


async def test_not_sharing_after_a_request_through_slack_is_recorded(
    alice: Practitioner, fake: FakeSlack, client: TestClient[Any, Any], runtime_: Runtime, patient_acks: None
) -> None:
    """Asked for the information and not sharing: the decision, why not, who asked, the review and Save."""
    await alice.start()
    script = {
        "request_context": "asked",
        "decision": "not_share",
        "not_share_reason": "not_enough",
        "why_not": "Second-hand and years old: not enough to go on yet.",
        "requester_who": "Housing officer, Northshire Homes",
        "requested_at": "now",
        "requester_told": "will_tell",
    }
    steps = await alice.complete(runtime_.packs.pack(), script)
    await drain(client)
    assert screens(fake, alice.dm) == list(NOT_SHARE_SCREENS)
    assert alice.requests == 1 + steps
    assert [(opened_for(v)[0], list(field_inputs(v))) for v in alice.modals][-2:] == [
        ("not_sharing", ["not_share_reason", "why_not"]),
        ("requester", ["requester_who", "requested_at", "requester_told"]),
    ]
    [check] = await checks_of(runtime_)
    assert check.status == "completed" and check.decision == "not_share"
    snapshot = record_of(check)
    assert snapshot.recipient is None and snapshot.reasons == script["why_not"]
    assert snapshot.fields["not_share_reason"] == "Not enough to go on yet"
    assert snapshot.fields["requester"] == script["requester_who"] and "requested_at" in snapshot.fields
    summary, notes = alice.dm_messages()[-2:]
    assert "Do not share" in json.dumps(summary.blocks)
    assert [e["action_id"] for e in elements(summary)] == ["sc:reconsider"]
    assert "Tell the requester that you are not sharing" in json.dumps([summary.blocks, notes.blocks])
    assert "Covering note" not in json.dumps([summary.blocks, notes.blocks])


async def test_the_urgent_path_through_slack_is_recorded(
    alice: Practitioner, fake: FakeSlack, client: TestClient[Any, Any], runtime_: Runtime, patient_acks: None
) -> None:
    """Someone in immediate danger, said on the first form: what was done, who knows, a short account, Save."""
    await alice.start()
    script = {
        "immediate_danger": "yes",
        "request_context": "own_initiative",
        "urgent_action": ("called_999", "told_lead"),
        "urgent_told": ("police", "lead"),
        "urgent_method": "phone",
        "family_told": "not_safe",
        "urgent_basis": "vital_interests",
        "urgent_decision": "share",
        "urgent_reasons": "A parent threatened the child at pick-up; police were told what the teacher saw.",
        "urgent_reference": "CS-2024-0999",
    }
    steps = await alice.complete(runtime_.packs.pack(), script)
    await drain(client)
    assert screens(fake, alice.dm) == ["start", "urgent_action", "urgent_details", "urgent_account", REVIEW]
    assert alice.requests == 1 + steps
    assert [(opened_for(v)[0], list(field_inputs(v))) for v in alice.modals][1:] == [
        ("urgent_details", ["urgent_told", "urgent_method", "family_told", "urgent_basis", "urgent_decision"]),
        ("urgent_account", ["urgent_reasons", "urgent_reference"]),
    ]
    # the actions taken were ticked in the message; progress names the urgent section, never a count
    urgent = next(
        m
        for c in fake.calls_to("chat.update")
        if step_of(m := Message(alice.dm, "", c.args["blocks"], ""))[0] == "urgent_action"
    )
    assert any(e["type"] == "checkboxes" for e in elements(urgent))
    assert urgent.blocks[1]["elements"][0]["text"].endswith("*Urgent* › Review")
    [check] = await checks_of(runtime_)
    assert check.status == "completed" and check.decision == "share" and check.case_reference == "CS-2024-0999"
    snapshot = record_of(check)
    assert snapshot.reasons == script["urgent_reasons"] and snapshot.fields["what_shared"] == script["urgent_reasons"]
    assert snapshot.fields["consent"] == "Not needed: an emergency"
    assert tuple(check.state["answers"]["urgent_action"]["choices"]) == ("called_999", "told_lead")
    summary, notes = alice.dm_messages()[-2:]
    assert "Share (urgent)" in json.dumps(summary.blocks)
    assert "Confirm the call in writing" in json.dumps([summary.blocks, notes.blocks])
    assert "The family has not been told" in json.dumps(notes.blocks)


# --- verification and payload validation ----------------------------------------------------


def _tamper(body: str, headers: dict[str, str]) -> tuple[str, dict[str, str]]:
    return body + "&text=help", headers


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda b: (b, signature(b, secret="not-the-secret")), id="wrong-secret"),
        pytest.param(lambda b: _tamper(b, signature(b)), id="tampered-body"),
        pytest.param(lambda b: (b, signature(b, timestamp=int(time.time()) - 301)), id="older-than-5-minutes"),
        pytest.param(lambda b: (b, signature(b, timestamp=int(time.time()) + 301)), id="from-the-future"),
        pytest.param(lambda b: (b, {}), id="unsigned"),
    ],
)
async def test_unverified_requests_get_401_and_touch_nothing(
    forge: Callable[[str], tuple[str, dict[str, str]]],
    client: TestClient[Any, Any],
    fake: FakeSlack,
    runtime_: Runtime,
) -> None:
    for body in (
        command_body(TEAM, USER, "", fake.response_url()),
        interaction_body({"type": "block_actions"}),
        "payload=%7Bnot-json",
    ):
        sent, headers = forge(body)
        resp = await client.post(
            EVENTS, data=sent.encode(), headers={"Content-Type": "application/x-www-form-urlencoded", **headers}
        )
        assert resp.status == 401, (body, await resp.text())
    await drain(client)
    assert fake.calls == []
    assert await count(runtime_, Check) == 0
    assert await count(runtime_, ProcessedRequest) == 0


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("payload=%7Bnot-json", id="payload-not-json"),
        pytest.param(interaction_body([1, 2, 3]), id="payload-a-list"),
        pytest.param(
            interaction_body({"type": "block_actions", "user": {"id": USER}}), id="block-actions-missing-team"
        ),
        pytest.param(
            interaction_body(
                {
                    "type": "block_actions",
                    "team": {"id": TEAM},
                    "user": {"id": USER},
                    "container": {"type": "message"},
                    "actions": [{"action_id": "sc:back", "type": "button", "value": '{"c": "nope"}'}],
                }
            ),
            id="our-button-with-a-forged-value",
        ),
        pytest.param(
            interaction_body(
                {
                    "type": "view_submission",
                    "team": {"id": TEAM},
                    "user": {"id": USER},
                    "view": {"id": "V1", "callback_id": "sc:answer", "private_metadata": "x"},
                }
            ),
            id="modal-with-bad-metadata",
        ),
        pytest.param("command=%2Fshare-check&team_id=T0000001&text=", id="command-without-user"),
        pytest.param(
            "command=%2Fshare-check&team_id=T%3Cscript%3E&user_id=U1&trigger_id=1.2", id="command-bad-team-id"
        ),
    ],
)
async def test_malformed_signed_payloads_get_400_without_a_stack_trace(
    body: str, client: TestClient[Any, Any], fake: FakeSlack, runtime_: Runtime
) -> None:
    resp = await client.post(
        EVENTS, data=body.encode(), headers={"Content-Type": "application/x-www-form-urlencoded", **signature(body)}
    )
    text = await resp.text()
    assert resp.status == 400, text
    assert "Traceback" not in text and 'File "' not in text and len(text) < 200
    await drain(client)
    assert [c.method for c in fake.calls if c.method != "auth.test"] == []
    assert await count(runtime_, Check) == 0


async def test_unknown_action_id_is_ignored_with_a_log_line(
    alice: Practitioner, fake: FakeSlack, client: TestClient[Any, Any], caplog: pytest.LogCaptureFixture
) -> None:
    message = await alice.start()
    await drain(client)
    calls = len(fake.calls)
    action = {"action_id": "someone_elses_button", "value": "whatever", "type": "button"}
    with caplog.at_level(logging.INFO, logger="adapters.slack.app"):
        resp = await alice.post(interaction_body(block_actions(TEAM, USER, message, action)))
        assert resp.status == 200
        await drain(client)
    assert "ignored unknown action id 'someone_elses_button'" in caplog.text
    assert len(fake.calls) == calls


# --- retries, double clicks, stale buttons ----------------------------------------------------

START = {"immediate_danger": "no", "request_context": "own_initiative"}


async def to_the_decision(alice: Practitioner, reference: str = "CS-2024-0113") -> Message:
    """Answer the two opening forms in their modals: the check then asks for the decision, with buttons."""
    await alice.answer_fields(START)
    message = await alice.answer_fields({"purpose": "yes", "risk_of_harm": "yes", "case_reference": reference})
    assert step_of(message)[0] == "decision"
    return message


async def test_a_slack_retry_is_acted_on_once(
    alice: Practitioner, fake: FakeSlack, client: TestClient[Any, Any], runtime_: Runtime
) -> None:
    await alice.start()
    await drain(client)
    resp = await alice.replay()  # the slash command again, as Slack retries it: the same trigger id
    assert resp.status == 200
    await drain(client)
    assert len(fake.calls_to("chat.postMessage")) == 1 and fake.calls_to("response_url") == []

    message = await to_the_decision(alice)
    await alice.click(choice_buttons(message)[0]["action_id"], message)
    await drain(client)
    step = step_of(message)
    resp = await alice.replay(retry_num=1)
    assert resp.status == 200
    resp = await alice.replay(retry_num=2)
    await drain(client)
    # a button names its revision, so the check takes it once; the message says the repeat changed nothing
    assert step_of(message) == step and STALE in json.dumps(message.blocks)
    async with runtime_.sessions() as session:
        answered = await session.scalar(
            select(func.count()).select_from(CheckEvent).where(CheckEvent.kind == "answered")
        )
    assert answered == 3  # the two forms and the one click, each once


async def test_a_double_click_advances_one_step(
    alice: Practitioner, fake: FakeSlack, client: TestClient[Any, Any], runtime_: Runtime
) -> None:
    await alice.start()
    message = await to_the_decision(alice)
    before = (await checks_of(runtime_))[0].revision
    updates = message.updates
    first = choice_buttons(message)[0]
    # two clicks on the same button, as fast as Slack can deliver them (distinct trigger ids, same revision)
    await asyncio.gather(alice.click(first["action_id"], message), alice.click(first["action_id"], message))
    await drain(client)
    check = (await checks_of(runtime_))[0]
    assert check.revision == before + 1
    assert message.updates == updates + 2  # the click, and the second click showing the same step
    step = step_of(message)
    assert step[1] == check.revision

    # a button from an earlier revision changes nothing, and the message says so at the step the check is at
    await alice.click(first["action_id"], message=_snapshot_of(message, first))
    await drain(client)
    assert (await checks_of(runtime_))[0].revision == before + 1
    assert step_of(message) == step and STALE in json.dumps(message.blocks)


def _snapshot_of(message: Any, button: dict[str, Any]) -> Any:
    """The message as it was when ``button`` was on it (Slack still shows it to a user who scrolled back)."""
    return Message(message.channel, message.ts, [{"type": "actions", "block_id": "old", "elements": [button]}], "")


# --- typed answers, recipients, checkboxes, navigation ----------------------------------------


async def test_a_refused_typed_answer_keeps_the_modal_open_with_the_reason(
    alice: Practitioner, client: TestClient[Any, Any], runtime_: Runtime
) -> None:
    await alice.start()
    await alice.answer_fields(START)
    view = await alice.form()
    typed = {"sc_f:purpose": "yes", "sc_f:risk_of_harm": "yes", "sc_f:case_reference": "Jane Smith"}
    resp = await alice.submit(view, typed)
    assert resp.status == 200
    body = await resp.json()
    # the reason under the case reference's own input, and nothing else refused
    assert body["response_action"] == "errors" and list(body["errors"]) == ["sc_f:case_reference"]
    assert "case reference" in body["errors"]["sc_f:case_reference"].lower()
    await drain(client)
    assert (await checks_of(runtime_))[0].revision == 1


async def test_recipient_is_a_workspace_user_or_an_organisation_and_role(
    alice: Practitioner, client: TestClient[Any, Any], runtime_: Runtime
) -> None:
    pack = runtime_.packs.pack()
    await alice.start()
    await alice.complete(pack, {"decision": "share"}, until="recipient")
    step = pack.step("recipient")
    assert step.kind.value == "recipient"
    view = await alice.form()
    assert {b["block_id"] for b in view["blocks"] if b["type"] == "input"} == {"sc_user", "sc_org", "sc_role"}
    # both a colleague and an organisation: the engine refuses, the modal says why
    resp = await alice.submit(view, {"sc_user": "U0000042", "sc_org": "Northshire Police", "sc_role": "DS"})
    assert (await resp.json())["response_action"] == "errors"
    await alice.answer_form({"sc_user": "U0000042"})
    check = (await checks_of(runtime_))[0]
    assert check.state["answers"][step.id]["recipient"] == {"user_id": "U0000042", "organisation": None, "role": None}


async def test_urgent_exit_then_checkboxes_back_and_cancel(
    alice: Practitioner, client: TestClient[Any, Any], runtime_: Runtime, fake: FakeSlack
) -> None:
    pack = runtime_.packs.pack()
    await alice.start()
    await alice.answer_fields(START)
    # at 'should you share?' (a form): the urgent exit is on the message, beside the form's button
    assert step_of(alice.check_message())[0] == "gates"
    message = await alice.click_and_wait("sc:urgent")
    step = pack.step(step_of(message)[0])
    assert step.id == pack.urgent_step and step.kind.value == "multi_choice"
    assert "Someone is in immediate danger" not in json.dumps(message.blocks)  # not offered on the urgent path
    # ticking boxes is acknowledged and changes nothing
    toggle = find(message, "sc:multi:0")
    resp = await alice.post(interaction_body(block_actions(TEAM, USER, message, toggle)))
    assert resp.status == 200
    picked = tuple(c.id for c in step.effective_choices()[:2])
    await alice.click_and_wait("sc:multi_submit", checkbox_state(message, picked))
    check = (await checks_of(runtime_))[0]
    assert tuple(check.state["answers"][step.id]["choices"]) == picked
    await alice.click_and_wait("sc:back")
    assert step_of(alice.check_message())[0] == step.id
    await alice.click_and_wait("sc:cancel")
    await drain(client)
    assert (await checks_of(runtime_))[0].status == "cancelled"
    assert "cancelled" in json.dumps(alice.dm_messages()[0].blocks).lower()


async def test_closing_the_modal_changes_nothing(
    alice: Practitioner, client: TestClient[Any, Any], runtime_: Runtime
) -> None:
    await alice.start()
    view = await alice.form()
    resp = await alice.post(interaction_body(view_payload(TEAM, USER, view, {}, "view_closed")))
    assert resp.status == 200
    await drain(client)
    assert (await checks_of(runtime_))[0].revision == 0


# --- escaping -----------------------------------------------------------------------------------

NASTY = "Ring <!channel> & see <https://evil.example|click here> or <@U0000666>"


async def test_typed_text_is_escaped_wherever_it_is_shown(
    alice: Practitioner, fake: FakeSlack, runtime_: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    pack = runtime_.packs.pack()
    texts = {s.id: NASTY for s in pack.steps if s.kind.value == "free_text"}
    texts |= {f.id: NASTY for s in pack.steps for f in s.fields if f.kind.value == "free_text"}
    recipient = Recipient(organisation="Evil <!here> & Co", role="<https://x.example|DSL>")
    with caplog.at_level(logging.INFO):  # production's level (DEBUG makes libraries log request bodies)
        await alice.start()
        await alice.complete(pack, {**texts, **{s.id: recipient for s in pack.steps if s.kind.value == "recipient"}})
    sent = all_text(fake)
    assert "&lt;!channel&gt; &amp; see &lt;https://evil.example|click here&gt;" in sent
    assert "Evil &lt;!here&gt; &amp; Co" in sent
    for raw in ("<!channel>", "<!here>", "<https://evil", "<@U0000666>", "<https://x.example"):
        assert raw not in sent
    # and what they typed never reaches the logs
    assert "evil.example" not in caplog.text and "Evil" not in caplog.text


# --- workspaces -----------------------------------------------------------------------------------


async def test_workspaces_are_kept_apart(client: TestClient[Any, Any], fake: FakeSlack, runtime_: Runtime) -> None:
    alice = Practitioner(client, fake, TEAM, USER)
    twin = Practitioner(client, fake, OTHER_TEAM, USER)  # the same user id in another workspace
    await alice.start()
    message = await to_the_decision(alice, "CS-TEAM-ONE")
    await drain(client)

    await twin.command("pending")
    await drain(client)
    pending = json.dumps(fake.calls_to("response_url")[-1].args)
    assert "CS-TEAM-ONE" not in pending and "Nothing open" in pending

    # the other workspace's user clicking the first workspace's button changes nothing, and is told so privately
    calls = len(fake.calls)
    button = choice_buttons(message)[0]
    resp = await twin.post(interaction_body(block_actions(OTHER_TEAM, USER, message, button)))
    assert resp.status == 200
    await drain(client)
    [told] = fake.calls[calls:]
    assert told.method == "chat.postEphemeral" and "not available to you" in told.args["text"]
    assert (await checks_of(runtime_, workspace_id=TEAM))[0].revision == 2

    twin_calls = len(fake.calls_to("chat.postMessage"))
    await twin.command()
    await fake.wait_for(lambda: len(fake.calls_to("chat.postMessage")) > twin_calls)
    assert {c.workspace_id for c in await checks_of(runtime_)} == {TEAM, OTHER_TEAM}
    assert len(await checks_of(runtime_, workspace_id=OTHER_TEAM)) == 1


# --- subcommands ---------------------------------------------------------------------------------


async def test_typed_commands_are_answered_to_the_person_where_they_typed_them(
    alice: Practitioner, fake: FakeSlack, client: TestClient[Any, Any]
) -> None:
    """What the words mean is the conversation's (tests/service/test_conversation_*.py); here, the answers' way back."""
    for n, text in enumerate(("help", "what is this"), 1):
        resp = await alice.command(text)
        assert await resp.text() == "", "acknowledged at once; the answer follows"
        answer = (await fake.wait_calls("response_url", n))[-1].args
        assert answer["response_type"] == "ephemeral" and "/share-check pending" in json.dumps(answer["blocks"])
        assert actions(answer) == ["sc:start"]

    await alice.command("resume")
    no_check = (await fake.wait_calls("response_url", 3))[-1].args
    assert "No check in progress" in no_check["text"]
    assert actions(no_check) == ["sc:start"], "a button to start one, where ShareCheck says there is none"

    await alice.command("pending")
    assert "Nothing open" in json.dumps((await fake.wait_calls("response_url", 4))[-1].args)

    await alice.start()
    await to_the_decision(alice, "CS-PENDING-1")
    responded = len(fake.calls_to("response_url"))
    await alice.command("pending")
    assert "CS-PENDING-1" in json.dumps((await fake.wait_calls("response_url", responded + 1))[-1].args)

    posts = len(fake.calls_to("chat.postMessage"))
    await alice.command("resume")
    await fake.wait_for(lambda: len(fake.calls_to("chat.postMessage")) > posts)
    assert "Carrying on with your check" in json.dumps(fake.calls_to("chat.postMessage")[-1].args)


async def test_typed_in_the_dm_the_check_starts_there_without_a_notice(
    alice: Practitioner, fake: FakeSlack, client: TestClient[Any, Any]
) -> None:
    resp = await alice.post(command_body(TEAM, USER, "", fake.response_url(USER), channel=alice.dm))
    assert resp.status == 200 and await resp.text() == ""
    await drain(client)
    assert len(alice.dm_messages()) == 1 and fake.calls_to("response_url") == []


def actions(answer: dict[str, Any]) -> list[str]:
    return [e["action_id"] for b in answer.get("blocks", []) if b["type"] == "actions" for e in b["elements"]]


async def test_start_a_check_button_opens_a_check_in_the_dm_with_its_form(
    alice: Practitioner, fake: FakeSlack, client: TestClient[Any, Any]
) -> None:
    await alice.command("resume")
    await fake.wait_calls("response_url")
    no_check = fake.calls_to("response_url")[-1].args
    # the button is on an ephemeral reply: pressed there, the check opens in the DM, its first form at once
    shown = Message(channel="C0CHANNEL", ts="1764000000.000100", blocks=no_check["blocks"], text=no_check["text"])
    await alice.click("sc:start", shown)
    await drain(client)
    pack = client.app[SLACK_ADAPTER].runtime.packs.pack()
    assert len(alice.dm_messages()) == 1 and step_of(alice.check_message())[0] == pack.start
    [opened] = fake.calls_to("views.open")
    assert opened.args["view"]["callback_id"] == "sc:fields"
    assert len(fake.calls_to("chat.postMessage")) == 1


# --- the Web API misbehaving ------------------------------------------------------------------------


async def test_a_rate_limited_post_is_retried_after_retry_after(alice: Practitioner, fake: FakeSlack) -> None:
    fake.rate_limit("chat.postMessage", retry_after=1)
    started = time.monotonic()
    await alice.start()
    assert time.monotonic() - started >= 0.9
    assert [c.status for c in fake.calls if c.method == "chat.postMessage"] == [429, 200]


async def test_an_update_that_fails_carries_on_in_a_new_message(alice: Practitioner, fake: FakeSlack) -> None:
    await alice.start()
    fake.fail("chat.update", "message_not_found")
    view = await alice.form()
    posts = len(fake.calls_to("chat.postMessage"))
    resp = await alice.submit(view, {"sc_f:immediate_danger": "no", "sc_f:request_context": "asked"})
    assert resp.status == 200
    await fake.wait_for(lambda: len(fake.calls_to("chat.postMessage")) > posts)
    moved_on = Message(alice.dm, "new", fake.calls_to("chat.postMessage")[-1].args["blocks"], "")
    assert step_of(moved_on)[1] == 1  # the next step, in a new message


async def test_a_web_api_error_is_logged_by_code_and_the_ack_still_fast(
    alice: Practitioner, fake: FakeSlack, client: TestClient[Any, Any], caplog: pytest.LogCaptureFixture
) -> None:
    fake.fail("conversations.open", "user_not_found")
    with caplog.at_level(logging.INFO, logger="adapters.slack"):
        started = time.monotonic()
        await alice.command()
        assert time.monotonic() - started < 1.5
        await drain(client)
    assert "Web API answered user_not_found" in caplog.text
    assert "Traceback" not in caplog.text
    # the DM could not be opened: said where the command was typed
    assert "I could not message you privately" in fake.calls_to("response_url")[-1].args["text"]


# --- configuration -----------------------------------------------------------------------------------


async def test_socket_mode_is_selected_by_the_app_token(sqlite_url: str, clock: ManualClock, tmp_path: Path) -> None:
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    from adapters.slack.socket import build_socket_handler

    runtime = await Runtime.create(
        make_settings(sqlite_url, slack_bot_token=BOT_TOKEN, slack_app_token="xapp-1-A0-1-abc"),
        clock=clock,
        migrate=True,
    )
    try:
        app = build_app(runtime)
        adapter = app[SLACK_ADAPTER]
        assert adapter.socket_mode and not adapter.http_enabled
        assert "/slack/events" not in {r.resource.canonical for r in app.router.routes() if r.resource}
        handler = build_socket_handler(adapter.bolt, runtime.settings)
        assert isinstance(handler, AsyncSocketModeHandler)
        assert handler.app is adapter.bolt and handler.client.web_client is adapter.client
    finally:
        await runtime.close()


async def test_http_only_without_an_app_token(client: TestClient[Any, Any]) -> None:
    adapter = client.app[SLACK_ADAPTER]
    assert adapter.http_enabled and not adapter.socket_mode
    assert str(adapter.client.base_url).startswith("http://127.0.0.1:")


async def test_slack_is_off_without_a_bot_token(sqlite_url: str, clock: ManualClock) -> None:
    runtime = await Runtime.create(make_settings(sqlite_url), clock=clock, migrate=True)
    try:
        async with TestClient(TestServer(build_app(runtime))) as client:
            resp = await client.post(EVENTS, data=b"x")
            assert resp.status == 404
    finally:
        await runtime.close()
