"""Who sent an activity, and where: the neutral ``Who`` the conversation layer acts for.

The tenant is the workspace (emulator mode, with no token to vouch for the body, keeps one fixed tenant); the
team (else channel) is where a channel message came from; the 1:1 chat's conversation reference is how the
scheduler reaches the person later, stored with ids only.
"""

from __future__ import annotations

import logging
from typing import Any

from microsoft_agents.activity import Activity, ChannelAccount, ConversationAccount, ConversationReference
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
    """The reference as stored: what reaching the person later needs, and nothing else (no display names)."""
    return _ids_only(ref.user, ref.agent, ref.conversation, ref.channel_id, ref.locale, ref.service_url)


def _ids_only(
    user: ChannelAccount | None,
    agent: ChannelAccount | None,
    conversation: ConversationAccount | None,
    channel_id: str | None,
    locale: str | None,
    service_url: str | None,
) -> dict[str, Any]:
    """Built field by field, not dumped: on every request a dump of the SDK's models cost more than the rest of
    telling who asked. The SDK's per-request id is left out too (it made every request look like news to store),
    and so is the activity id (a later proactive message is a new message, not a reply)."""
    stored: dict[str, Any] = {}
    if user is not None:
        stored["user"] = _present(id=user.id, aadObjectId=user.aad_object_id)
    if agent is not None:
        stored["bot"] = _present(id=agent.id)
    if conversation is not None:
        stored["conversation"] = _present(
            conversationType=conversation.conversation_type,
            id=conversation.id,
            isGroup=conversation.is_group,
            tenantId=conversation.tenant_id,
        )
    stored.update(_present(channelId=channel_id and str(channel_id), locale=locale, serviceUrl=service_url))
    return stored


def _present(**fields: Any) -> dict[str, Any]:
    return {key: value for key, value in fields.items() if value is not None}


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
        ref = _ids_only(
            activity.from_property,
            activity.recipient,
            activity.conversation,
            activity.channel_id,
            activity.locale,
            activity.service_url,
        )
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
