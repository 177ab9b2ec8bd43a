"""/api/messages in emulator mode: request validation, installs, channels, proactive messages, failures."""

from __future__ import annotations

import logging

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from adapters.teams.proactive import NotReachable, send_proactive
from bot.clock import ManualClock
from bot.db.models import Check, CheckEvent, PlatformUser
from bot.runtime import Runtime
from bot.services.users import get_user
from dialogs.messages import Info
from tests.support.fake_connector import FakeConnector
from tests.support.settings import make_settings
from tests.support.teams import (
    BOT,
    EMULATOR,
    MESSAGE,
    USER,
    WORKSPACE,
    activity,
    card_answer,
    find_action,
    step_of,
)

SECRET = "Child-Jane-Doe-lives-at-12-Acacia"  # stands for personal data a practitioner might type


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return dict(EMULATOR)


async def _count(runtime: Runtime, model: type) -> int:
    async with runtime.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


# --- request validation -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"{not json", "application/json", 400),
        (b"[1, 2]", "application/json", 400),
        (b'{"type": "message"}', "application/json", 400),
        (b'{"type": "message", "conversation": {"id": "c"}}', "application/json", 400),
        (
            b'{"type": "message", "conversation": {"id": "c"}, "serviceUrl": "http://127.0.0.1:1/"}',
            "application/json",
            400,
        ),
        (b'{"type": 5, "conversation": "x"}', "application/json", 400),
        (b"\xff\xfe", "application/json", 400),
        (b'{"type": "message"}', "text/plain", 415),
        (b"type=message", "application/x-www-form-urlencoded", 415),
    ],
)
async def test_bad_requests_are_refused_without_stack_traces(
    client: TestClient, runtime: Runtime, body: bytes, content_type: str, status: int
) -> None:
    resp = await client.post("/api/messages", data=body, headers={"Content-Type": content_type})
    assert resp.status == status
    text = await resp.text()
    assert "Traceback" not in text and "File " not in text
    assert await _count(runtime, Check) == 0


async def test_get_is_not_allowed(client: TestClient) -> None:
    assert (await client.get("/api/messages")).status == 405


async def test_unknown_card_action_is_answered_politely(client: TestClient, connector: FakeConnector) -> None:
    resp = await client.post("/api/messages", json=activity(connector.url, value={"sc_verb": "format_disk"}))
    assert resp.status == 202
    assert "did not recognise that" in str(connector.cards()[-1])
    invoke = activity(
        connector.url,
        "invoke",
        name="adaptiveCard/action",
        value={"action": {"type": "Action.Execute", "verb": "answer", "data": {"check_id": "not-a-uuid"}}},
    )
    resp = await client.post("/api/messages", json=invoke)
    assert resp.status == 200
    assert "did not recognise that" in str((await resp.json())["value"])


async def test_someone_elses_check_is_not_found(client: TestClient, connector: FakeConnector, runtime: Runtime) -> None:
    await client.post("/api/messages", json=activity(connector.url, text="share-check"))
    card = connector.cards()[-1]
    cancel = find_action(card, "cancel")
    other = activity(connector.url, value=cancel["data"], user="29:someone-else")
    assert (await client.post("/api/messages", json=other)).status == 202
    assert "not available to you" in str(connector.cards()[-1])
    async with runtime.sessions() as s:
        assert (await s.scalars(select(Check))).one().status == "active"


async def test_typed_text_never_reaches_the_logs(
    client: TestClient, connector: FakeConnector, runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    # INFO is what `sharecheck serve` logs at; our adapter and the SDK are watched down to DEBUG too
    # (aiosqlite's DEBUG output echoes SQL parameters, so it stays out of this check)
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="adapters")
    caplog.set_level(logging.DEBUG, logger="microsoft_agents")
    pack = runtime.packs.pack()
    await client.post("/api/messages", json=activity(connector.url, text="share-check"))
    act, inputs = card_answer(pack, connector.cards()[-1])
    await client.post("/api/messages", json=activity(connector.url, value={**act["data"], **inputs}))
    # the gates form: typed into its case reference, and (tampered) as a choice it does not offer
    gates = connector.cards()[-1]
    assert step_of(gates) == "gates"
    act, inputs = card_answer(pack, gates, {"case_reference": SECRET})
    await client.post("/api/messages", json=activity(connector.url, value={**act["data"], **inputs}))
    connector.fail_next(500, times=5)
    await client.post("/api/messages", json=activity(connector.url, text=SECRET))
    act, inputs = card_answer(pack, gates, {"case_reference": SECRET, "purpose": SECRET})
    await client.post("/api/messages", json=activity(connector.url, value={**act["data"], **inputs}))
    # a body that is not an Activity: the SDK's validator would log the value that failed, with a stack trace
    not_an_activity = {**activity(connector.url, text="hello"), "timestamp": SECRET}
    assert (await client.post("/api/messages", json=not_an_activity)).status == 400
    async with runtime.sessions() as s:
        check = (await s.scalars(select(Check))).one()
    assert check.state["answers"]["case_reference"]["text"] == SECRET, "the typed answer went through the turn"
    assert SECRET not in caplog.text
    assert "Traceback" not in caplog.text


async def test_a_failing_connector_does_not_leak_or_500(client: TestClient, connector: FakeConnector) -> None:
    connector.fail_next(503, times=2)
    resp = await client.post("/api/messages", json=activity(connector.url, text="share-check"))
    assert resp.status == 202  # the turn failed after the check started; Teams should not retry it


# --- install, channels ---------------------------------------------------------------------


async def test_personal_install_stores_the_reference_and_welcomes(
    client: TestClient, connector: FakeConnector, runtime: Runtime
) -> None:
    update = activity(connector.url, "conversationUpdate", membersAdded=[{"id": BOT}])
    assert (await client.post("/api/messages", json=update)).status == 202
    assert "Hello, I'm ShareCheck" in str(connector.cards()[-1])
    user = await get_user(runtime.sessions, "teams", WORKSPACE, USER)
    assert user is not None and user.conversation_ref is not None
    assert user.conversation_ref["serviceUrl"] == connector.url and "activityId" not in user.conversation_ref
    # someone else joining is not an install
    other = activity(connector.url, "conversationUpdate", membersAdded=[{"id": "29:colleague"}])
    await client.post("/api/messages", json=other)
    assert len(connector.cards()) == 1
    # the welcome card's button starts a check
    start = find_action(connector.cards()[-1], "start")
    invoke = activity(
        connector.url,
        "invoke",
        name="adaptiveCard/action",
        value={"action": {"type": "Action.Execute", "verb": "start", "data": start["data"]}},
    )
    body = await (await client.post("/api/messages", json=invoke)).json()
    # the check comes as a new message; the welcome card stays, with a word under the button
    assert body["type"] == MESSAGE and body["value"]
    assert step_of(connector.cards()[-1]) == runtime.packs.pack().start
    # the install delivered again (Teams retries a slow answer): remembered, not greeted twice
    assert (await client.post("/api/messages", json=update)).status == 202
    assert len([card for card in connector.cards() if "Hello, I'm ShareCheck" in str(card)]) == 1


async def test_mention_in_a_channel_moves_the_check_to_personal_chat(
    client: TestClient, connector: FakeConnector, runtime: Runtime
) -> None:
    mention = activity(
        connector.url,
        text="<at>ShareCheck</at> share-check",
        conversation="19:channel@thread.tacv2;messageid=1",
        conversation_type="channel",
        entities=[{"type": "mention", "text": "<at>ShareCheck</at>", "mentioned": {"id": BOT, "name": "ShareCheck"}}],
    )
    assert (await client.post("/api/messages", json=mention)).status == 202
    kinds = [c.kind for c in connector.calls]
    assert kinds == ["create", "send", "reply"]
    create, personal, channel_reply = connector.calls
    assert create.body["members"] == [{"id": USER}] and create.body["tenantId"] == WORKSPACE
    assert personal.conversation_id == "a:personal-1"
    assert [step_of(card) for card in personal.cards()] == [runtime.packs.pack().start]
    assert channel_reply.conversation_id.startswith("19:channel") and "private message" in str(channel_reply.cards())
    user = await get_user(runtime.sessions, "teams", WORKSPACE, USER)
    assert user is not None and user.conversation_ref is not None
    assert user.conversation_ref["conversation"]["id"] == "a:personal-1"


async def test_channel_falls_back_to_telling_them_where_to_go(client: TestClient, connector: FakeConnector) -> None:
    connector.fail_next(403)  # e.g. the app is not installed for the user personally
    mention = activity(
        connector.url, text="share-check", conversation="19:channel@thread.tacv2", conversation_type="channel"
    )
    assert (await client.post("/api/messages", json=mention)).status == 202
    assert "Open your chat with ShareCheck" in str(connector.cards()[-1])


async def test_emulator_messages_without_a_tenant_get_a_stand_in_workspace(
    client: TestClient, connector: FakeConnector, runtime: Runtime
) -> None:
    # in emulator mode every message, with a tenant or without (the Bot Framework Emulator's), gets the stand-in
    resp = await client.post("/api/messages", json=activity(connector.url, text="share-check", tenant=None))
    assert resp.status == 202
    async with runtime.sessions() as s:
        assert (await s.scalars(select(Check))).one().workspace_id == "emulator"


async def test_help_pending_and_unknown_text(client: TestClient, connector: FakeConnector) -> None:
    for text, expected in (
        ("help", "ShareCheck: check before you share"),
        ("pending", "Nothing open"),
        ("hello?", "share-check"),
    ):
        await client.post("/api/messages", json=activity(connector.url, text=text))
        assert expected in str(connector.cards()[-1])


# --- proactive -----------------------------------------------------------------------------


async def test_proactive_message_from_a_fresh_instance(
    db_url: str, clock: ManualClock, connector: FakeConnector, runtime: Runtime, client: TestClient
) -> None:
    await client.post("/api/messages", json=activity(connector.url, text="share-check"))
    # a new process: new runtime and adapter, same database, no incoming request
    fresh = await Runtime.create(make_settings(db_url, **EMULATOR), clock=clock, migrate=False)
    try:
        user = await get_user(fresh.sessions, "teams", WORKSPACE, USER)
        assert user is not None
        connector.fail_next(429, retry_after=0.01)
        activity_id = await send_proactive(
            fresh, user, Info(title="Did CS-2024-0113 arrive?", lines=("Please confirm.",))
        )
    finally:
        await fresh.close()
    assert activity_id.startswith("act-")
    throttled, delivered = connector.calls[-2:]
    assert throttled.status == 429 and delivered.kind == "send"
    assert delivered.conversation_id == "a:1personal-conversation" and delivered.response_id == activity_id
    assert "Did CS-2024-0113 arrive?" in str(delivered.cards())
    assert delivered.authorization is None  # emulator mode: anonymous


async def test_proactive_without_a_reference(runtime: Runtime) -> None:
    user = PlatformUser(platform="teams", workspace_id=WORKSPACE, user_id="29:never-met", conversation_ref=None)
    with pytest.raises(NotReachable):
        await send_proactive(runtime, user, Info(title="x"))


async def test_replay_of_an_execute_records_once(
    client: TestClient, connector: FakeConnector, runtime: Runtime
) -> None:
    await client.post("/api/messages", json=activity(connector.url, text="share-check"))
    answer, inputs = card_answer(runtime.packs.pack(), connector.cards()[-1])
    invoke = activity(
        connector.url,
        "invoke",
        name="adaptiveCard/action",
        value={"action": {"type": "Action.Execute", "verb": "answer", "data": {**answer["data"], **inputs}}},
    )
    for _ in range(3):
        assert (await client.post("/api/messages", json=invoke)).status == 200
    async with runtime.sessions() as s:
        answered = await s.scalar(select(func.count()).select_from(CheckEvent).where(CheckEvent.kind == "answered"))
    assert answered == 1
