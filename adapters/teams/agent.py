"""The Teams activity handler: Activity in, CheckService call, Adaptive Card out. No domain rules here.

Answers arrive as Action.Submit (a message activity whose ``value`` holds the card's data and inputs) or as
Action.Execute (an ``adaptiveCard/action`` invoke answered with the next card in the InvokeResponse). Every
answer names its check, step and revision, so a double click or a replayed delivery is refused by the
service (Outcome.STALE) and never recorded twice.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any, cast

from microsoft_agents.activity import (
    Activity,
    ActivityTypes,
    Attachment,
    ChannelAccount,
    ConversationAccount,
    ConversationParameters,
    ConversationReference,
    InvokeResponse,
    TurnContextProtocol,
)
from microsoft_agents.hosting.core import ActivityHandler, TurnContext
from microsoft_agents.hosting.core.connector import ConnectorClientBase

from adapters.teams.cards import (
    CARD_CONTENT_TYPE,
    WELCOME,
    render,
    render_info,
    render_note_needed,
    render_notice,
    render_outcome,
)
from adapters.teams.elements import ActionStyle, Card
from adapters.teams.parse import (
    ADMIN_USAGE,
    ADMIN_USAGE_TITLE,
    ActionData,
    AdminCommand,
    UnknownAction,
    mentions,
    parse_admin,
    parse_case_command,
    parse_command,
    parse_execute,
    parse_submit,
)
from bot.checks.models import Actor, CheckNotFound, Outcome, Reply
from bot.followups.models import FollowUpNotFound, NoteRequired
from bot.runtime import Runtime
from bot.services.dedupe import first_time
from bot.services.help import help_message
from bot.services.picked_colleague import answer_with_picked_colleague
from bot.services.receipts import ReceiptNotFound
from bot.services.roles import NotPermitted
from bot.services.users import remember_user
from dialogs.content import AnswerKind
from dialogs.messages import Digest, Info, LinkView, Message, PendingList, Prompt
from dialogs.state import Answer, Recipient

log = logging.getLogger(__name__)

PLATFORM = "teams"
EMULATOR_TENANT = "emulator"
ADAPTIVE_CARD_ACTION = "adaptiveCard/action"
Neutral = Message | Info | PendingList

UNKNOWN_ACTION = (
    "Sorry, I did not recognise that button. It may be from an older card: message me 'share-check' to carry on."
)
NOT_FOUND = "That check is not available to you. Message me 'share-check' to start or carry on with yours."
NO_TENANT = "I could not tell which organisation this message came from, so I have not recorded anything."
MOVED = "I have sent you a private message: carry on with the check there, so your answers stay between us."
OPEN_PERSONAL = (
    "I could not message you privately. Open the chat with ShareCheck (Apps, then ShareCheck) and type 'share-check'."
)
FAILED = "Sorry, something went wrong on my side. Your check is saved: try again in a moment."
NO_CHECK = Info(title="No check in progress", lines=("Message me `share-check` to start one.",))
FOLLOW_UP_GONE = "That follow-up is not available to you. Message me 'pending' to see what is open for you."
REVOKE_USAGE = Info(
    title="Which case?",
    lines=("Type `revoke` and the case reference, for example: `revoke CS-2024-0113`.",),
)
DISAGREE_USAGE = Info(
    title="Which case?",
    lines=("Type `disagree` and the case reference of a share you recorded, for example: `disagree CS-2024-0113`.",),
)
NOT_A_LEAD = Info(
    title="Digests are for safeguarding leads",
    lines=(
        "You are not set up as a safeguarding lead, so there is no digest for you. If you should be one, "
        "ask your ShareCheck administrator.",
    ),
)


@dataclass(frozen=True)
class FollowUpOutcome:
    """The result of a follow-up answer: shown in place of the follow-up card, with no buttons left to press."""

    info: Info


@dataclass(frozen=True)
class NoteNeeded:
    follow_up_id: str
    choice: str
    prompt: str


@dataclass(frozen=True)
class PlainReply:
    """A reply that quotes what someone typed (a case reference): plain TextRuns, never markdown, no buttons."""

    info: Info


@dataclass(frozen=True)
class StartOffer:
    """A reply that says there is no check: shown with a 'Start a check' button."""

    info: Info


Result = Neutral | Digest | FollowUpOutcome | NoteNeeded | PlainReply | StartOffer
REVISION_GUARDED = frozenset({"answer", "back", "cancel", "urgent"})
"""Card actions that carry the check's revision: the check service makes each of them take effect once."""


def render_result(result: Result, style: ActionStyle, viewer: str | None = None) -> Card:
    if isinstance(result, FollowUpOutcome | PlainReply):
        return render_outcome(result.info, viewer)
    if isinstance(result, NoteNeeded):
        return render_note_needed(result.follow_up_id, result.choice, result.prompt, style)
    if isinstance(result, StartOffer):
        return render_info(result.info, style, start_button=True)
    return render(result, style)


def _shown(reply: Reply) -> Message:
    """The card to show after a move: a stale one (an old card, a double submit) says why nothing changed."""
    message = reply.message
    if reply.outcome is Outcome.STALE and reply.error and isinstance(message, Prompt) and not message.notice:
        return message.model_copy(update={"notice": reply.error})
    return message


def card_attachment(card: Card) -> Attachment:
    return Attachment(content_type=CARD_CONTENT_TYPE, content=card)


def card_activity(card: Card) -> Activity:
    return Activity(type=ActivityTypes.message, attachments=[card_attachment(card)])


def card_invoke_response(card: Card) -> InvokeResponse:
    """The Universal Actions response: Teams replaces the card that was clicked with this one."""
    return InvokeResponse(status=200, body={"statusCode": 200, "type": CARD_CONTENT_TYPE, "value": card})


def tenant_of(activity: Activity) -> str | None:
    data = activity.channel_data
    if isinstance(data, dict):
        tenant = data.get("tenant")
        if isinstance(tenant, dict) and isinstance(tenant.get("id"), str) and tenant["id"]:
            return str(tenant["id"])
    if activity.conversation is not None and activity.conversation.tenant_id:
        return str(activity.conversation.tenant_id)
    return None


def conversation_ref_json(ref: ConversationReference) -> dict[str, Any]:
    dumped: dict[str, Any] = ref.model_dump(mode="json", by_alias=True, exclude_none=True)
    return dumped


def _is_personal(activity: Activity) -> bool:
    kind = activity.conversation.conversation_type if activity.conversation else None
    return kind in (None, "personal")


def team_of(activity: Activity) -> str | None:
    """The team (else channel) a channel message came from: what leads scoped by channel are keyed on."""
    if _is_personal(activity):
        return None
    data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
    for key in ("team", "channel"):
        found = data.get(key)
        if isinstance(found, dict) and isinstance(found.get("id"), str) and found["id"]:
            return str(found["id"])
    conversation = activity.conversation.id if activity.conversation else None
    return conversation.split(";")[0] if conversation else None


def _aad_object_id(activity: Activity) -> str | None:
    """The sender's Entra object id (Teams puts it on every activity's ``from``): what the people picker returns."""
    value = activity.from_property.aad_object_id if activity.from_property else None
    return value[:64] if isinstance(value, str) and value else None


def _stored_ref(ref: ConversationReference) -> dict[str, Any]:
    """The reference as stored: ids only. Display names are not needed to reach anyone, so not kept."""
    stored = conversation_ref_json(ref)
    for party in ("user", "bot", "agent"):
        if isinstance(stored.get(party), dict):
            stored[party].pop("name", None)
    return stored


class ShareCheckAgent(ActivityHandler):
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.emulator = runtime.settings.teams_emulator_mode
        self.links = tuple(LinkView(title=x.title, url=str(x.url)) for x in runtime.settings.sharecheck_local_links)

    # --- who and where -------------------------------------------------------------------

    def _actor(self, activity: Activity) -> Actor | None:
        # emulator mode has no token to vouch for the body: its tenant is fixed, whatever the body says
        tenant = EMULATOR_TENANT if self.emulator else tenant_of(activity)
        user = activity.from_property.id if activity.from_property else None
        if not tenant or not user:
            return None
        return Actor(PLATFORM, tenant, user)

    async def _remember(self, activity: Activity, actor: Actor) -> None:
        """Store how to reach this user later (their 1:1 chat) and their time zone, in our database."""
        ref = activity.get_conversation_reference()
        ref.activity_id = None  # a later proactive message is a new message, not a reply
        await remember_user(
            self.runtime.transactions,
            actor.platform,
            actor.workspace_id,
            actor.user_id,
            self.runtime.clock.now(),
            tz=activity.local_timezone or None,
            conversation_ref=_stored_ref(ref) if _is_personal(activity) else None,
            aad_object_id=_aad_object_id(activity),
        )

    async def _first_delivery(self, activity: Activity) -> bool:
        """Teams redelivers an activity it got no timely answer for: act on each activity id once."""
        if not activity.id or activity.conversation is None:
            return True
        key = f"teams:{activity.conversation.id}:{activity.id}"
        return await first_time(self.runtime.transactions, key, self.runtime.clock.now())

    # --- the service calls ---------------------------------------------------------------

    async def perform(self, actor: Actor, data: ActionData, channel_id: str | None = None) -> Result:
        checks = self.runtime.checks
        try:
            if data.verb == "follow_up":
                return await self.answer_follow_up(actor, data)
            if data.verb == "digest":
                return await self.digest(actor)
            if data.verb == "start":
                return (await checks.start(actor, channel_id=channel_id)).message
            if data.verb == "resume":
                if data.check_id is not None:
                    return (await checks.current(actor, data.check_id)).message
                resumed = await checks.resume(actor)
                return resumed.message if resumed else StartOffer(NO_CHECK)
            if data.verb == "pending":
                return await checks.pending(actor)
            if data.verb == "help":
                return StartOffer(self.help())
            if data.verb == "revoke":
                return await self.revoke(actor, data.case_reference)
            if data.verb == "disagree":
                return await self.disagree(actor, data.case_reference)
            if data.check_id is None:
                raise UnknownAction("no check named")
            if data.verb == "reconsider":
                return await self.reconsider(actor, data.check_id)
            if data.verb == "answer":
                if data.person and data.person.strip():
                    picked = await answer_with_picked_colleague(
                        checks, self.runtime.sessions, actor, data.check_id, data.answer(), data.person.strip()
                    )
                    return _shown(picked)
                return _shown(await checks.answer(actor, data.check_id, data.answer()))
            move = {"back": checks.back, "cancel": checks.cancel, "urgent": checks.urgent}[data.verb]
            return _shown(await move(actor, data.check_id, data.revision))
        except CheckNotFound:
            return StartOffer(Info(title=NOT_FOUND))
        except (UnknownAction, ValueError):
            return Info(title=UNKNOWN_ACTION)

    def help(self) -> Info:
        return help_message(self.runtime.packs.pack(), "share-check", self.links)

    async def reconsider(self, actor: Actor, check_id: uuid.UUID) -> Result:
        """A 'do not share' decision reopened with new information: the new check's first card, linked by the
        service; refused (with the reason on the check in progress) while another check is open."""
        reply = await self.runtime.checks.reconsider(actor, check_id)
        if reply.error is None:
            return reply.message
        if isinstance(reply.message, Prompt):
            return reply.message.model_copy(update={"notice": reply.error})
        return Info(title=reply.error)

    async def revoke(self, actor: Actor, case_reference: str | None) -> Result:
        if not case_reference:
            return REVOKE_USAGE
        try:
            count = await self.runtime.receipts.revoke(actor, case_reference)
        except ReceiptNotFound as exc:
            return PlainReply(Info(title="Nothing revoked", lines=(str(exc),)))
        links = "1 receipt link" if count == 1 else f"{count} receipt links"
        return PlainReply(
            Info(
                title=f"Receipt link revoked for {case_reference}",
                lines=(
                    f"Revoked {links} for case {case_reference}: "
                    + ("it no longer opens" if count == 1 else "they no longer open")
                    + " the receipt page and takes no answer. The revocation is recorded on the case's trail.",
                ),
            )
        )

    async def disagree(self, actor: Actor, case_reference: str | None) -> Result:
        """'disagree CASE-REF': start the professional disagreement route about that share."""
        if not case_reference:
            return DISAGREE_USAGE
        try:
            result = await self.runtime.followups.start_disagreement(actor, case_reference=case_reference)
        except FollowUpNotFound as exc:
            return PlainReply(Info(title="No disagreement started", lines=(str(exc),)))
        return PlainReply(result.reply)

    async def answer_follow_up(self, actor: Actor, data: ActionData) -> Result:
        if data.follow_up_id is None or not data.choice:
            raise UnknownAction("a follow-up answer needs its follow-up and choice")
        try:
            result = await self.runtime.followups.answer(actor, data.follow_up_id, data.choice, data.note)
        except NoteRequired as exc:
            return NoteNeeded(str(data.follow_up_id), data.choice, str(exc))
        except FollowUpNotFound:
            # someone else's follow-up, another tenant's, or a made-up id: the same answer for all
            return Info(title=FOLLOW_UP_GONE)
        return FollowUpOutcome(result.reply)

    async def digest(self, actor: Actor) -> Result:
        digests = self.runtime.digests
        if not await digests.is_lead(actor.platform, actor.workspace_id, actor.user_id):
            return NOT_A_LEAD
        return await digests.build_so_far(actor.platform, actor.workspace_id, actor.user_id, self.runtime.packs.pack())

    async def admin(self, actor: Actor, command: AdminCommand, team: str | None) -> Info:
        """Role changes; whether the actor may make them is the RoleService's decision, not ours."""
        roles = self.runtime.roles
        try:
            if command.action == "lead_add" and command.lead is not None:
                if command.scope == "channel":
                    if team is None:
                        return Info(title="Use 'admin lead add @lead team' in a channel of the team they lead.")
                    added = await roles.add_lead(actor, command.lead, "channel", [team])
                    what = "checks started from this team"
                elif command.scope == "workspace":
                    added = await roles.add_lead(actor, command.lead, "workspace")
                    what = "everyone in your organisation"
                else:
                    added = await roles.add_lead(actor, command.lead, "user", command.users)
                    what = f"the {len(command.users)} colleague(s) you mentioned after them"
                note = "" if added else " (this was already set)"
                return Info(title="Lead set", lines=(f"The first person you mentioned now leads {what}.{note}",))
            if command.action == "lead_remove" and command.lead is not None:
                removed = await roles.remove_lead(actor, command.lead)
                return Info(
                    title="Lead removed" if removed else "Nothing to remove",
                    lines=(f"{removed} lead assignment(s) removed.",),
                )
            if command.action == "admin_add":
                granted = [await roles.grant_admin(actor, user) for user in command.users]
                made, already = sum(granted), len(granted) - sum(granted)
                return Info(
                    title="Administrators",
                    lines=(f"{made} colleague(s) made administrators; {already} already were.",),
                )
            if command.action == "admin_remove":
                ended = [await roles.remove_admin(actor, user) for user in command.users]
                done, not_admin = sum(ended), len(ended) - sum(ended)
                return Info(
                    title="Administrators",
                    lines=(f"{done} colleague(s) are no longer administrators; {not_admin} were not one.",),
                )
        except NotPermitted as exc:
            return Info(title="Not permitted", lines=(str(exc),))
        except ValueError as exc:
            return Info(title="That did not work", lines=(str(exc),))
        return Info(title=ADMIN_USAGE_TITLE, lines=ADMIN_USAGE)

    async def recipient_by_mention(self, actor: Actor, colleague: str) -> Result | None:
        """A message that @mentions a colleague while the check asks for the recipient: they are the recipient.

        Besides the card's people picker, this is how a Teams practitioner names a colleague (the mention carries
        their id, which is how the follow-up reaches them later).
        """
        resumed = await self.runtime.checks.resume(actor)
        prompt = resumed.message if resumed is not None else None
        if resumed is None or not isinstance(prompt, Prompt) or prompt.input.kind is not AnswerKind.RECIPIENT:
            return None
        answer = Answer(step_id=prompt.step_id, revision=prompt.revision, recipient=Recipient(user_id=colleague))
        return (await self.runtime.checks.answer(actor, resumed.check_id, answer)).message

    # --- activities ----------------------------------------------------------------------

    async def on_message_activity(self, context: TurnContextProtocol[Any]) -> None:
        turn_context = cast(TurnContext, context)
        activity: Activity = turn_context.activity
        actor = self._actor(activity)
        if actor is None:
            await turn_context.send_activity(card_activity(render_notice(NO_TENANT)))
            return
        if activity.value is not None:
            try:
                action = parse_submit(activity.value)
            except UnknownAction as exc:
                log.info("teams: unrecognised card submission (%s)", exc)
                if await self._first_delivery(activity):
                    await turn_context.send_activity(card_activity(render_notice(UNKNOWN_ACTION)))
                return
            # a step move names its check and revision, so the service already refuses a replay (STALE) and a
            # redelivery only re-shows the current card: no need to pay a transaction to remember the activity id
            guarded = action.data.verb in REVISION_GUARDED and action.data.revision is not None
            if not (guarded and _is_personal(activity)) and not await self._first_delivery(activity):
                return
            if not _is_personal(activity):
                await self._to_personal(turn_context, actor, action.data, action.style)
                return
            message = await self.perform(actor, action.data)
            await self._replace_or_send(turn_context, render_result(message, action.style, actor.user_id))
            return
        if not await self._first_delivery(activity):
            return
        text = activity.remove_recipient_mention() if not _is_personal(activity) else activity.text
        style: ActionStyle = "execute" if activity.channel_id == "msteams" else "submit"
        people = mentions(activity.entities, activity.recipient.id if activity.recipient else None)
        command = parse_admin(text, people)
        if command is not None:
            # role changes carry no case data, so they are answered where they were asked (a team channel too)
            info = await self.admin(actor, command, team_of(activity))
            await turn_context.send_activity(card_activity(render_info(info, style)))
            return
        typed = parse_case_command(text)
        case = typed[1] if typed is not None else None
        verb = typed[0] if typed is not None else parse_command(text) or "help"
        data = ActionData.model_validate({"sc_verb": verb, "case_reference": case[:200] if case else None})
        if not _is_personal(activity):
            await self._to_personal(turn_context, actor, data, style)
            return
        await self._remember(activity, actor)
        # a colleague mentioned is the recipient; mentioning only yourself is refused by the check, with the reason
        colleagues = [p.user_id for p in people if p.user_id != actor.user_id] or [p.user_id for p in people]
        result = await self.recipient_by_mention(actor, colleagues[0]) if colleagues and verb == "help" else None
        message = result if result is not None else await self.perform(actor, data)
        await turn_context.send_activity(card_activity(render_result(message, style, actor.user_id)))

    async def on_invoke_activity(self, context: TurnContextProtocol[Any]) -> InvokeResponse:
        turn_context = cast(TurnContext, context)
        activity: Activity = turn_context.activity
        if activity.name != ADAPTIVE_CARD_ACTION:
            return InvokeResponse(status=200, body={})  # other invokes (tab, config) are not ours
        try:
            action = parse_execute(activity.value)
        except UnknownAction as exc:
            log.info("teams: unrecognised Action.Execute (%s)", exc)
            return card_invoke_response(render_notice(UNKNOWN_ACTION))
        actor = self._actor(activity)
        if actor is None:
            return card_invoke_response(render_notice(NO_TENANT))
        try:
            if not _is_personal(activity):
                moved = await self._to_personal(turn_context, actor, action.data, action.style, reply=False)
                return card_invoke_response(render_notice(MOVED if moved else OPEN_PERSONAL))
            message = await self.perform(actor, action.data)
            return card_invoke_response(render_result(message, action.style, actor.user_id))
        except Exception as exc:  # the card must still get an answer; details stay in our log, typed text nowhere
            log.error("teams: Action.Execute failed: %s", type(exc).__name__)
            return card_invoke_response(render_notice(FAILED))

    async def on_conversation_update_activity(self, context: TurnContextProtocol[Any]) -> None:
        turn_context = cast(TurnContext, context)
        activity: Activity = turn_context.activity
        bot_id = activity.recipient.id if activity.recipient else None
        if not any(m.id == bot_id for m in activity.members_added or ()):
            return
        actor = self._actor(activity)
        if actor is None or not await self._first_delivery(activity):
            return
        if _is_personal(activity):
            await self._remember(activity, actor)
        style: ActionStyle = "execute" if activity.channel_id == "msteams" else "submit"
        await turn_context.send_activity(card_activity(render_info(WELCOME, style, start_button=True)))

    # --- sending -------------------------------------------------------------------------

    async def _replace_or_send(self, turn_context: TurnContext, card: Card) -> None:
        """Update the clicked card in place where Teams allows it; otherwise post the card as a new message."""
        reply_to = turn_context.activity.reply_to_id
        if reply_to:
            update = card_activity(card)
            update.id = reply_to
            try:
                await turn_context.update_activity(update)
                return
            except Exception as exc:  # e.g. the card is too old to edit: a new message still moves things on
                log.info("teams: could not update card in place (%s); sending a new one", type(exc).__name__)
        await turn_context.send_activity(card_activity(card))

    async def _to_personal(
        self, turn_context: TurnContext, actor: Actor, data: ActionData, style: ActionStyle, reply: bool = True
    ) -> bool:
        """Carry a request made in a channel on in the user's 1:1 chat with the bot (answers are not for a team)."""
        activity: Activity = turn_context.activity
        connector = turn_context.services.get(ConnectorClientBase)  # type: ignore[type-abstract]
        moved = False
        if connector is not None and activity.from_property is not None:
            try:
                created = await connector.conversations.create_conversation(
                    ConversationParameters(
                        is_group=False,
                        agent=activity.recipient,
                        members=[ChannelAccount(id=activity.from_property.id)],
                        tenant_id=actor.workspace_id,
                        channel_data={"tenant": {"id": actor.workspace_id}},
                    )
                )
                ref = ConversationReference(
                    conversation=ConversationAccount(
                        id=created.id, tenant_id=actor.workspace_id, conversation_type="personal"
                    ),
                    user=activity.from_property,
                    agent=activity.recipient,
                    channel_id=activity.channel_id,
                    service_url=activity.service_url,
                )
                await remember_user(
                    self.runtime.transactions,
                    actor.platform,
                    actor.workspace_id,
                    actor.user_id,
                    self.runtime.clock.now(),
                    tz=activity.local_timezone or None,
                    conversation_ref=_stored_ref(ref),
                    aad_object_id=_aad_object_id(activity),
                )
                message = await self.perform(actor, data, channel_id=team_of(activity))
                outgoing = card_activity(render_result(message, style, actor.user_id)).apply_conversation_reference(ref)
                await connector.conversations.send_to_conversation(created.id, outgoing)
                moved = True
            except Exception as exc:  # no 1:1 possible (app not installed personally, policy): tell them where to go
                log.info("teams: could not open a personal chat (%s)", type(exc).__name__)
        if reply:
            await turn_context.send_activity(card_activity(render_notice(MOVED if moved else OPEN_PERSONAL)))
        return moved
