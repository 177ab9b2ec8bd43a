"""The fake Bot Framework connector refuses what Microsoft's Agents Playground refuses, so fast tests catch it:
nulls where the activity schema wants a value, unknown conversations, updates of activities it never delivered."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.support.fake_connector import FakeConnector
from tests.support.teams import activity

KNOWN = "a:known-conversation"


@pytest.fixture
async def connector() -> AsyncIterator[FakeConnector]:
    fake = FakeConnector()
    await fake.start()
    FakeConnector.open(fake.url, KNOWN)
    yield fake
    await fake.stop()


def message(**extra: Any) -> dict[str, Any]:
    return {
        "type": "message",
        "from": {"id": "28:bot"},
        "recipient": {"id": "29:user"},
        "conversation": {"id": KNOWN},
        "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "content": {"fallback": None}}],
        **extra,
    }


async def call(connector: FakeConnector, method: str, path: str, body: dict[str, Any]) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http, http.request(method, connector.url + path, json=body) as r:
        return r.status, await r.json()


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (message(id=None), "id"),
        (message(locale=None), "locale"),
        (message(replyToId=None), "replyToId"),
        (message(recipient={"id": "29:user", "name": None}), "recipient.name"),
        (message(conversation={"id": KNOWN, "tenantId": None}), "conversation.tenantId"),
    ],
)
async def test_nulls_where_a_value_is_expected_are_a_bad_argument(
    connector: FakeConnector, body: dict[str, Any], where: str
) -> None:
    for method, path in (
        ("POST", f"v3/conversations/{KNOWN}/activities"),
        ("POST", f"v3/conversations/{KNOWN}/activities/1700000000000001"),
    ):
        status, answer = await call(connector, method, path, body)
        assert status == 400 and answer["error"]["code"] == "BadArgument" and where in answer["error"]["message"]
    assert connector.cards() == [], "nothing refused counts as delivered"


async def test_a_clean_message_is_accepted_and_a_card_may_hold_nulls(connector: FakeConnector) -> None:
    status, answer = await call(connector, "POST", f"v3/conversations/{KNOWN}/activities", message(locale="en-GB"))
    assert status == 201 and answer["id"]
    assert connector.cards() == [{"fallback": None}], "a card's content is the card schema's business, not ours"


async def test_unknown_conversations_are_not_found(connector: FakeConnector) -> None:
    for method, path in (
        ("POST", "v3/conversations/a:nobody/activities"),
        ("POST", "v3/conversations/a:nobody/activities/1700000000000001"),
        ("PUT", "v3/conversations/a:nobody/activities/act-1"),
    ):
        status, answer = await call(connector, method, path, message())
        assert status == 404 and answer["error"]["code"] == "ConversationNotFound"


async def test_only_activities_it_delivered_there_can_be_updated(connector: FakeConnector) -> None:
    FakeConnector.open(connector.url, "a:other")
    _, sent = await call(connector, "POST", f"v3/conversations/{KNOWN}/activities", message())
    status, _ = await call(connector, "PUT", f"v3/conversations/{KNOWN}/activities/{sent['id']}", message())
    assert status == 200
    for conversation, activity_id in ((KNOWN, "act-999"), ("a:other", sent["id"])):
        status, answer = await call(connector, "PUT", f"v3/conversations/{conversation}/activities/{activity_id}", {})
        assert status == 404 and answer["error"]["code"] == "ActivityNotFound"


async def test_conversations_become_known_when_created_or_used_by_the_client(connector: FakeConnector) -> None:
    status, created = await call(connector, "POST", "v3/conversations", {"isGroup": False, "members": [{"id": "29:u"}]})
    assert status == 201
    status, _ = await call(connector, "POST", f"v3/conversations/{created['id']}/activities", message())
    assert status == 201
    # an activity built for the client opens its conversation, as a Teams client sending from it would
    activity(connector.url, text="hello", conversation="a:client-side")
    status, _ = await call(connector, "POST", "v3/conversations/a:client-side/activities", message())
    assert status == 201
    status, answer = await call(connector, "POST", "v3/conversations", {"isGroup": False, "tenantId": None})
    assert status == 400 and answer["error"]["code"] == "BadArgument"
