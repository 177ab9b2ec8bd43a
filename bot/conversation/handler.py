"""The conversation: one neutral command from one person in, one neutral reply out, the same on every platform.

Adapters parse a payload into a ``Command``, say who asked and where (``Who``), call ``Conversation.handle``
and render what comes back. Here, once for all of them: a platform's redelivery is acted on once, the person is
remembered, roles are checked, the services are called, and the outcome is worded.

What happens to an answer that does not move the check (the same on every platform):

- refused (the engine did not accept it): the step again in place of the one answered, with why on it; a form
  keeps what was typed (``ShowInPlace.refused`` lets a modal stay open with the reason instead);
- stale (a double click, an old message's button, a replay): nothing changes, and the message pressed now shows
  where the check really is, saying that nothing changed. Nothing is lost by answering an old message, and the
  person sees at once which step is current (before, Slack ignored it silently and Teams re-showed the step
  without a word);
- closed (the check has finished or was cancelled): nothing changes and the message pressed stays as it was
  (it may be the summary to copy); the person is told privately, with how to start a new check.
"""

from __future__ import annotations

import logging

from bot.checks.models import Actor, CheckNotFound, Outcome
from bot.checks.models import Reply as CheckReply
from bot.conversation.commands import (
    Admin,
    AdminAction,
    AnswerStep,
    Back,
    Cancel,
    Command,
    DigestNow,
    Disagree,
    FollowUpAnswer,
    Help,
    LeadScope,
    NameColleague,
    NoteAsk,
    OpenForm,
    Pending,
    Reconsider,
    Resume,
    Revoke,
    Start,
    Urgent,
    Who,
)
from bot.conversation.messenger import Messenger
from bot.conversation.people import Directory, NoDirectory, People
from bot.conversation.replies import (
    AskTyped,
    Moved,
    NoteRequest,
    Reply,
    ShowInPlace,
    ShowNew,
    Unchanged,
)
from bot.conversation.wording import Surface, Wording
from bot.followups.models import FollowUpNotFound, NotePersonalData, NoteRequired
from bot.runtime import Runtime
from bot.services.dedupe import first_time
from bot.services.picked_colleague import answer_with_picked_colleague
from bot.services.receipts import ReceiptNotFound
from bot.services.roles import BootstrapAdmin, NotPermitted
from dialogs.content import AnswerKind
from dialogs.evolve import evolve
from dialogs.messages import Cancelled, Completion, Info, Prompt
from dialogs.state import Answer, Recipient
from dialogs.text_safety import typed

log = logging.getLogger(__name__)

CHECK_MESSAGES = (Prompt, Completion, Cancelled)
"""A check's own messages: they live in the private chat, never in a channel."""


class Conversation:
    def __init__(self, runtime: Runtime, surface: Surface, directory: Directory | None = None) -> None:
        self.runtime = runtime
        self.surface = surface
        self.words = Wording(surface)
        self.text = self.words.content
        self.people = People(runtime.transactions, runtime.clock, directory or NoDirectory())

    async def turn(self, who: Who, command: Command, messenger: Messenger) -> Reply:
        """Handle ``command`` and send the reply with ``messenger``."""
        reply = await self.handle(who, command)
        await messenger.send(reply)
        return reply

    async def remember(self, who: Who) -> None:
        """Remember what ``who`` tells about the person outside a command (the app added to their chat; the
        private chat the adapter has just opened for a reply moved there)."""
        await self.people.remember(who)

    def welcome(self) -> ShowNew:
        """The greeting when ShareCheck is added to someone's chat."""
        text = self.text.welcome
        return ShowNew(Info(title=self.words(text.title), lines=self.words.lines(text.lines)), offer_start=True)

    async def greet(self, who: Who) -> Reply:
        """ShareCheck was added to someone's chat (a Teams install): remember them and say hello, once per
        delivery (a platform's redelivery of the same event is not greeted twice)."""
        key = who.delivery_key()
        if key is not None and not await first_time(self.runtime.transactions, key, self.runtime.clock.now()):
            return Unchanged()
        await self.people.remember(who)
        return self.welcome()

    async def handle(self, who: Who, command: Command) -> Reply:
        if not await self._first_delivery(who, command):
            log.info("%s: ignored a repeated delivery (%s)", who.platform, command.verb.value)
            return Unchanged()
        await self.people.remember(who)
        try:
            reply = await self._dispatch(who, command)
        except CheckNotFound:
            reply = Unchanged(self.words(self.text.check_not_found))
        return self._placed(who, command, reply)

    # --- before and after --------------------------------------------------------------------

    async def _first_delivery(self, who: Who, command: Command) -> bool:
        """A platform redelivers what it got no timely answer for: act on each delivery once. A check move that
        names its revision needs no record of it in the private chat: the service itself takes it once, and a
        redelivery only shows the current step again."""
        key = who.delivery_key()
        if key is None or (who.private and _revision_guarded(command)):
            return True
        return await first_time(self.runtime.transactions, key, self.runtime.clock.now())

    def moved_notice(self, command: Command) -> str | None:
        """What a check started in a shared channel always says there (its messages go to the private chat),
        known before the command is handled: a platform can give it in its acknowledgement of the request rather
        than as a second message (Slack's slash command ack)."""
        return self.words(self.text.moved) if isinstance(command, Start) else None

    def _placed(self, who: Who, command: Command, reply: Reply) -> Reply:
        """Case details never go into a shared channel: there, a check's messages go to the private chat, and
        other answers too where the platform cannot show them to the one person. Help and role changes carry no
        case details: they are answered where they were asked."""
        if who.private or isinstance(command, Help | Admin):
            return reply
        moved: ShowNew | None = None
        if isinstance(reply, ShowNew | ShowInPlace):
            message = reply.message
            if isinstance(message, CHECK_MESSAGES) or not self.surface.whisper:
                offer = reply.offer_start if isinstance(reply, ShowNew) else False
                moved = ShowNew(message, plain=reply.plain, offer_start=offer)
        elif isinstance(reply, AskTyped) and isinstance(reply.prompt, Prompt) and not self.surface.whisper:
            moved = ShowNew(reply.prompt)
        if moved is None:
            return reply
        return Moved(moved, notice=self.words(self.text.moved), unreachable=self.words(self.text.unreachable))

    # --- the commands ------------------------------------------------------------------------

    async def _dispatch(self, who: Who, command: Command) -> Reply:
        actor = who.actor
        checks = self.runtime.checks
        match command:
            case Start():
                started = await checks.start(actor, command.pack_id, channel_id=who.channel_id)
                return ShowNew(started.message)
            case Resume(check_id=None):
                resumed = await checks.resume(actor)
                return ShowNew(resumed.message) if resumed is not None else self._no_check()
            case Resume(check_id=check_id) if check_id is not None:
                current = await checks.current(actor, check_id)
                if not isinstance(current.message, Prompt):
                    return Unchanged(self.words(self.text.closed))
                return ShowInPlace(current.message)
            case AnswerStep():
                return await self._answer(who, command)
            case Back() | Cancel() | Urgent():
                return await self._move(actor, command)
            case OpenForm():
                return await self._open_form(actor, command)
            case Reconsider():
                return await self._reconsider(actor, command)
            case Revoke():
                return await self._revoke(actor, command.case_reference)
            case Disagree():
                return await self._disagree(actor, command.case_reference)
            case Pending():
                return ShowNew(await checks.pending(actor))
            case DigestNow():
                return await self._digest(actor)
            case Help():
                return ShowNew(self.help(), offer_start=True)
            case Admin():
                return await self._admin(who, command)
            case FollowUpAnswer():
                return await self._follow_up(actor, command)
            case NameColleague():
                return await self._name_colleague(who, command)
        raise AssertionError(f"unhandled command {command.verb}")  # pragma: no cover

    def help(self) -> Info:
        engine = self.runtime.packs.engine()
        help_text = self.text.help
        lines = self.words.lines(help_text.lines, pack_title=engine.pack.title, pack_version=engine.pack.version)
        return Info(title=self.words(help_text.title), lines=lines, links=engine.links)

    def _no_check(self) -> ShowNew:
        no_check = self.text.no_check
        info = Info(title=self.words(no_check.title), lines=(self.words(no_check.line),))
        return ShowNew(info, offer_start=True)

    def _outcome(self, reply: CheckReply, *, new: bool = False) -> Reply:
        """A check move's reply: in place of the message pressed, or (typed) as a new one. See the module's
        docstring for the stale, closed and refused policy."""
        message = reply.message
        if reply.outcome in (Outcome.STALE, Outcome.CLOSED):
            if reply.outcome is Outcome.CLOSED or not isinstance(message, Prompt):
                return Unchanged(self.words(self.text.closed))
            current = evolve(message, {"notice": self.words(self.text.stale)})
            return ShowNew(current) if new else ShowInPlace(current, stale=True)
        if new:
            return ShowNew(message)
        if reply.outcome is Outcome.REFUSED:
            notice = message.notice if isinstance(message, Prompt) else None
            return ShowInPlace(message, refused=reply.error or notice or "")
        return ShowInPlace(message)

    async def _answer(self, who: Who, command: AnswerStep) -> Reply:
        checks = self.runtime.checks
        actor = who.actor
        picked = (command.picked or "").strip()
        if picked:
            reply = await answer_with_picked_colleague(
                checks, self.runtime.sessions, actor, command.check_id, command.answer, picked
            )
        else:
            reply = await checks.answer(actor, command.check_id, command.answer)
        recipient = command.answer.recipient
        if reply.outcome is Outcome.ADVANCED and not picked and recipient is not None and recipient.user_id:
            # the follow-up will ask this colleague: their time zone, so it waits for their working hours
            await self.people.remember_colleague(who, recipient.user_id)
        return self._outcome(reply)

    async def _move(self, actor: Actor, command: Back | Cancel | Urgent) -> Reply:
        checks = self.runtime.checks
        move = {Back: checks.back, Cancel: checks.cancel, Urgent: checks.urgent}[type(command)]
        if command.check_id is not None:
            return self._outcome(await move(actor, command.check_id, command.revision))
        # typed: the check in progress, whatever its revision
        resumed = await checks.resume(actor)
        if resumed is None:
            return self._no_check()
        return self._outcome(await move(actor, resumed.check_id, None), new=True)

    async def _open_form(self, actor: Actor, command: OpenForm) -> Reply:
        current = await self.runtime.checks.current(actor, command.check_id)
        message = current.message
        if isinstance(message, Prompt) and (message.step_id, message.revision) == (command.step_id, command.revision):
            return AskTyped(message)
        return self._outcome(CheckReply(current.check_id, Outcome.STALE, message))

    async def _reconsider(self, actor: Actor, command: Reconsider) -> Reply:
        """A new check linked to the 'do not share' decision: shown as a new message, so the summary it was
        started from stays. While another check is in progress, that check is shown with why, to finish first."""
        if command.check_id is None and command.case_reference is None:
            usage = self.text.reconsider
            return ShowNew(Info(title=self.words(usage.usage_title), lines=(self.words(usage.usage),)))
        try:
            reply = await self.runtime.checks.reconsider(actor, command.check_id, command.case_reference)
        except CheckNotFound:
            return Unchanged(self.words(self.text.reconsider.not_found))
        message = reply.message
        if reply.outcome is Outcome.REFUSED and isinstance(message, Prompt) and reply.error:
            message = evolve(message, {"notice": reply.error})
        return ShowNew(message)

    async def _revoke(self, actor: Actor, case_reference: str | None) -> Reply:
        text = self.text.revoke
        if not case_reference:
            return ShowNew(Info(title=self.words(text.usage_title), lines=(self.words(text.usage),)))
        case = typed(case_reference)
        try:
            count = await self.runtime.receipts.revoke(actor, case_reference)
        except ReceiptNotFound as exc:
            # the reason quotes the reference as typed
            return ShowNew(Info(title=self.words(text.nothing_title), lines=(typed(str(exc)),)), plain=True)
        line = self.words.count(text.one, text.other, count, case_reference=case)
        return ShowNew(Info(title=self.words(text.title, case_reference=case), lines=(line,)), plain=True)

    async def _disagree(self, actor: Actor, case_reference: str | None) -> Reply:
        text = self.text.disagree
        if not case_reference:
            return ShowNew(Info(title=self.words(text.usage_title), lines=(self.words(text.usage),)))
        try:
            result = await self.runtime.followups.start_disagreement(actor, case_reference=case_reference)
        except FollowUpNotFound as exc:
            return ShowNew(Info(title=self.words(text.nothing_title), lines=(typed(str(exc)),)), plain=True)
        return ShowNew(result.reply, plain=True)

    async def _digest(self, actor: Actor) -> Reply:
        """The digest so far, for safeguarding leads only."""
        digests = self.runtime.digests
        if not await digests.is_lead(actor.platform, actor.workspace_id, actor.user_id):
            text = self.text.digest
            return ShowNew(Info(title=self.words(text.not_a_lead_title), lines=(self.words(text.not_a_lead),)))
        pack = self.runtime.packs.pack()
        return ShowNew(await digests.build_so_far(actor.platform, actor.workspace_id, actor.user_id, pack))

    async def _admin(self, who: Who, command: Admin) -> Reply:
        """Role changes; whether this person may make them is the RoleService's decision."""
        text = self.text.admin
        if command.action is AdminAction.USAGE:
            return ShowNew(Info(title=self.words(text.usage_title), lines=self.words.lines(text.usage)))
        try:
            lines = await self._role_change(who, command)
        except (NotPermitted, BootstrapAdmin) as exc:
            return ShowNew(Info(title=self.words(text.not_permitted_title), lines=(str(exc),)))
        except ValueError as exc:
            return ShowNew(Info(title=self.words(text.failed_title), lines=(str(exc),)))
        # people are named by {user:ID} tokens, which only the plain rendering turns into mentions or words
        return ShowNew(Info(title=self.words(text.title), lines=lines), plain=True)

    async def _role_change(self, who: Who, command: Admin) -> tuple[str, ...]:
        roles = self.runtime.roles
        text = self.text.admin
        actor = who.actor
        lead = _person(command.lead) if command.lead else ""
        if command.action is AdminAction.LEAD_ADD and command.lead is not None:
            if command.scope is LeadScope.EVERYONE:
                added = await roles.add_lead(actor, command.lead, "workspace")
                line = self.words(text.lead_everyone, lead=lead)
            elif command.scope is LeadScope.HERE:
                if who.channel_id is None:
                    return (self.words(text.here_needs_place),)
                added = await roles.add_lead(actor, command.lead, "channel", [who.channel_id])
                line = self.words(text.lead_here, lead=lead)
            elif not command.users and not command.channels:
                added = await roles.add_lead(actor, command.lead, "user", ())  # refused: nobody named
                line = ""
            else:
                added = 0
                if command.users:
                    added += await roles.add_lead(actor, command.lead, "user", command.users)
                if command.channels:
                    added += await roles.add_lead(actor, command.lead, "channel", command.channels)
                named = [_person(u) for u in command.users]
                if command.channels:
                    named.append(self.words.count(text.channels_one, text.channels_other, len(command.channels)))
                line = self.words(text.lead_named, lead=lead, named=", ".join(named))
            return (line,) if added else (line, self.words(text.already))
        if command.action is AdminAction.LEAD_REMOVE and command.lead is not None:
            removed = await roles.remove_lead(actor, command.lead)
            return (self.words.count(text.lead_removed_one, text.lead_removed_other, removed, lead=lead),)
        if command.action is AdminAction.ADMIN_ADD:
            granted = [(u, await roles.grant_admin(actor, u)) for u in command.users]
            return tuple(self.words(text.admin_now if g else text.admin_already, user=_person(u)) for u, g in granted)
        if command.action is AdminAction.ADMIN_REMOVE:
            ended = [(u, await roles.remove_admin(actor, u)) for u in command.users]
            return tuple(self.words(text.admin_removed if e else text.admin_not, user=_person(u)) for u, e in ended)
        raise ValueError("not a role change")

    async def _follow_up(self, actor: Actor, command: FollowUpAnswer) -> Reply:
        follow_up, choice = command.follow_up_id, command.choice
        if command.ask_note is NoteAsk.OPTIONAL and command.note is None:
            return AskTyped(NoteRequest(follow_up, choice, command.question, required=False))
        try:
            result = await self.runtime.followups.answer(
                actor, follow_up, choice, command.note, confirm_personal_data=command.confirm_personal_data
            )
        except NotePersonalData as exc:
            # a new note, or the same one kept as it is
            return AskTyped(
                NoteRequest(follow_up, choice, str(exc), required=True, personal_data=True, note=command.note)
            )
        except NoteRequired as exc:
            prompt = str(exc) or command.question or self.words(self.text.note_needed)
            return AskTyped(NoteRequest(follow_up, choice, prompt, required=True, note=command.note))
        except (FollowUpNotFound, ValueError):
            # someone else's follow-up, another workspace's, or a made-up one: the same answer for all
            return Unchanged(self.words(self.text.follow_up_gone))
        return ShowInPlace(result.reply, plain=True, recorded=result.changed)

    async def _name_colleague(self, who: Who, command: NameColleague) -> Reply:
        """While the check asks who receives the information, the colleague named is the answer; naming only
        yourself is refused by the check, with the reason. Otherwise this was no command: help."""
        colleagues = [u for u in command.user_ids if u != who.user_id] or list(command.user_ids)
        checks = self.runtime.checks
        resumed = await checks.resume(who.actor)
        prompt = resumed.message if resumed is not None else None
        if resumed is None or not isinstance(prompt, Prompt) or prompt.input.kind is not AnswerKind.RECIPIENT:
            return ShowNew(self.help(), offer_start=True)
        answer = Answer(step_id=prompt.step_id, revision=prompt.revision, recipient=Recipient(user_id=colleagues[0]))
        reply = await checks.answer(who.actor, resumed.check_id, answer)
        if reply.outcome is Outcome.ADVANCED:
            await self.people.remember_colleague(who, colleagues[0])
        return self._outcome(reply, new=True)


def _revision_guarded(command: Command) -> bool:
    if isinstance(command, AnswerStep):
        return command.answer.revision is not None
    if isinstance(command, Back | Cancel | Urgent):
        return command.check_id is not None and command.revision is not None
    return False


def _person(user_id: str) -> str:
    """A person in a reply: a token each platform renders (a mention on Slack, neutral words on Teams)."""
    return "{user:" + user_id + "}"
