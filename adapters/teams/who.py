"""Who sent an activity, and where: the neutral ``Who`` the conversation layer acts for.

The tenant is the workspace (emulator mode, with no token to vouch for the body, keeps one fixed tenant); the
team (else channel) is where a channel message came from; the 1:1 chat's conversation reference is how the
scheduler reaches the person later, stored with ids only.
"""

from __future__ import annotations

import logging
from typing import Any

from microsoft_agents.activity import Activity, ConversationReference
from pydantic import ValidationError

from adapters.teams.elements import ActionStyle
from bot.conversation.commands import Who

log = logging.getLogger(__name__)

PLATFORM = "teams"
EMULATOR_TENANT = "emulator"
TZ_MAX = 64
DELIVERY_MAX = 300


def tenant_of(activity: Activity) -> str | None:
    data = activity.channel_data
    if isinstance(data, dict):
        tenant = data.get("tenant")
        if isinstance(tenant, dict) and isinstance(tenant.get("id"), str) and tenant["id"]:
            return str(tenant["id"])
    if activity.conversation is not None and activity.conversation.tenant_id:
        return str(activity.conversation.tenant_id)
    return None


def is_personal(activity: Activity) -> bool:
    kind = activity.conversation.conversation_type if activity.conversation else None
    return kind in (None, "personal")


def team_of(activity: Activity) -> str | None:
    """The team (else channel) a channel message came from: what leads scoped by channel are keyed on."""
    if is_personal(activity):
        return None
    data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
    for key in ("team", "channel"):
        found = data.get(key)
        if isinstance(found, dict) and isinstance(found.get("id"), str) and found["id"]:
            return str(found["id"])
    conversation = activity.conversation.id if activity.conversation else None
    return conversation.split(";")[0] if conversation else None


def aad_object_id(activity: Activity) -> str | None:
    """The sender's Entra object id (Teams puts it on every activity's ``from``): what the people picker returns."""
    value = activity.from_property.aad_object_id if activity.from_property else None
    return value[:64] if isinstance(value, str) and value else None


def stored_ref(ref: ConversationReference) -> dict[str, Any]:
    """The reference as stored: ids only. Display names are not needed to reach anyone, so not kept; nor is the
    SDK's id of the request it came in (new on every request, it would make each one look like news to store)."""
    stored: dict[str, Any] = ref.model_dump(mode="json", by_alias=True, exclude_none=True, exclude={"request_id"})
    for party in ("user", "bot", "agent"):
        if isinstance(stored.get(party), dict):
            stored[party].pop("name", None)
    return stored


def style_of(activity: Activity) -> ActionStyle:
    """Teams itself sends Action.Execute invokes; other channels (the Bot Framework Emulator) Action.Submit."""
    return "execute" if activity.channel_id == "msteams" else "submit"


def who_of(activity: Activity, emulator: bool) -> Who | None:
    """Who sent ``activity``; None if it does not say which organisation or person (nothing is done for it)."""
    tenant = EMULATOR_TENANT if emulator else tenant_of(activity)
    user = activity.from_property.id if activity.from_property else None
    if not tenant or not user:
        return None
    personal = is_personal(activity)
    ref: dict[str, Any] | None = None
    if personal:
        reference = activity.get_conversation_reference()
        reference.activity_id = None  # a later proactive message is a new message, not a reply
        ref = stored_ref(reference)
    tz = activity.local_timezone or None
    conversation = activity.conversation.id if activity.conversation else None
    delivery = f"{conversation}:{activity.id}"[:DELIVERY_MAX] if conversation and activity.id else None
    try:
        return Who(
            platform=PLATFORM,
            workspace_id=tenant,
            user_id=user,
            channel_id=team_of(activity),
            private=personal,
            tz=tz if tz is not None and len(tz) <= TZ_MAX else None,
            conversation_ref=ref,
            aad_object_id=aad_object_id(activity),
            delivery=delivery,
        )
    except ValidationError as exc:  # ids longer than any Teams sends: the error names fields, never values
        log.info("teams: activity with unusable ids (%s invalid field(s))", exc.error_count())
        return None
