"""Who a Teams activity comes from, as the conversation layer is told it."""

from __future__ import annotations

from microsoft_agents.activity import Activity, ConversationReference

from adapters.teams.who import who_of
from tests.support.teams import activity

SERVICE = "http://127.0.0.1:9"


def test_the_same_person_in_two_requests_is_told_the_same_way() -> None:
    """The SDK gives every request its own id; kept in the stored reference, it made each request of a person look
    new, and every step rewrote their user row (a third of a Teams step's time)."""
    first = Activity.model_validate(activity(SERVICE, text="share-check", user="29:sam"))
    second = Activity.model_validate(activity(SERVICE, value={"sc_verb": "answer"}, user="29:sam", reply_to="a1"))
    first.request_id, second.request_id = "request-1", "request-2"
    a, b = who_of(first, emulator=True), who_of(second, emulator=True)
    assert a is not None and b is not None
    assert a.conversation_ref is not None and "requestId" not in a.conversation_ref
    assert a.conversation_ref == b.conversation_ref
    assert (a.tz, a.aad_object_id) == (b.tz, b.aad_object_id)


def test_the_stored_reference_keeps_no_display_names() -> None:
    sent = activity(SERVICE, text="hi", user="29:sam")
    sent["from"]["name"] = "Sam Carer"
    who = who_of(Activity.model_validate(sent), emulator=True)
    assert who is not None and who.conversation_ref is not None
    assert "Sam Carer" not in str(who.conversation_ref)


def test_the_stored_reference_is_the_sdks_own_without_names_or_request_ids() -> None:
    """Built field by field for speed, it must still say what the SDK's reference says (reaching the person later
    goes through ConversationReference.model_validate), in the SDK's own spelling."""
    sent = activity(SERVICE, text="hi", user="29:sam")
    sent["conversation"]["isGroup"] = False
    incoming = Activity.model_validate(sent)
    incoming.request_id = "request-1"
    sdk = incoming.get_conversation_reference().model_dump(
        mode="json", by_alias=True, exclude_none=True, exclude={"request_id", "activity_id"}
    )
    for party in ("user", "bot"):
        sdk[party].pop("name", None)
    who = who_of(incoming, emulator=True)
    assert who is not None and who.conversation_ref == sdk
    again = ConversationReference.model_validate(who.conversation_ref).get_continuation_activity()
    assert again.conversation is not None and again.recipient is not None and again.from_property is not None
    assert (again.conversation.id, again.recipient.id, again.from_property.id) == (
        "a:1personal-conversation",
        "28:sharecheck-bot",
        "29:sam",
    )
