"""Slack payloads -> (Who, Command): what a slash command, a button or a modal asks, in the conversation's terms.

Only translation: the payloads arrive validated (parse.py), and what a command means is the conversation's
business (bot/conversation/). Mentions in a slash command's text are resolved here from the ids Slack put in it.
"""

from __future__ import annotations

import re

from adapters.slack import ids
from adapters.slack.parse import (
    BlockActions,
    ChoiceRef,
    SlashCommand,
    ViewSubmission,
    choice_answer,
    fields_answer,
    form_answer,
    multi_answer,
    note_text,
)
from adapters.slack.render import SLASH_COMMAND
from bot.conversation.commands import (
    AnswerStep,
    Back,
    Cancel,
    Command,
    FollowUpAnswer,
    NoteAsk,
    OpenForm,
    Reconsider,
    Start,
    Urgent,
    Who,
)
from bot.conversation.grammar import ChannelMention, Mention, UserMention, parse_text
from bot.conversation.wording import Surface

PLATFORM = "slack"
SLACK = Surface(PLATFORM, SLASH_COMMAND, place="channel", whisper=True)

# Slack sends mentions in slash command text escaped (the manifest's should_escape: true):
# users as <@U123|name> (or <@U123>), channels as <#C123|name> (or <#C123>).
MENTION = re.compile(r"<@([UW][A-Z0-9]{1,20})(?:\|[^>]*)?>|<#([CG][A-Z0-9]{1,20})(?:\|[^>]*)?>")
MOVES: dict[str, type[Back | Cancel | Urgent]] = {ids.BACK: Back, ids.CANCEL: Cancel, ids.URGENT: Urgent}
NOTE_ASKED = {"r": NoteAsk.REQUIRED, "o": NoteAsk.OPTIONAL}


def who(team: str, user: str, *, private: bool = True, channel: str | None = None, delivery: str | None = None) -> Who:
    """Buttons and modals live in the person's DM with ShareCheck (``private``); a slash command says where."""
    return Who(
        platform=PLATFORM, workspace_id=team, user_id=user, channel_id=channel, private=private, delivery=delivery
    )


def mentions(text: str) -> list[tuple[str, Mention]]:
    """Each mention as it appears in the text, and whom or which channel it names."""
    found: list[tuple[str, Mention]] = []
    for match in MENTION.finditer(text):
        user, channel = match.groups()
        found.append((match.group(0), UserMention(user) if user else ChannelMention(channel)))
    return found


def slash_command(cmd: SlashCommand) -> Command:
    """The words after ``/share-check``: the command word is the slash command itself."""
    return parse_text(cmd.text, mentions(cmd.text), after_command_word=True)


def button_command(payload: BlockActions) -> Command | None:
    """The command a button (or the review's menu) of ours carries; None for an action id that is not ours.

    Raises ``ValidationError`` when the ticked boxes do not fit a neutral answer (too many)."""
    action = payload.action
    action_id = action.action_id
    if action_id == ids.START:
        return Start()
    if action.reconsider:
        return Reconsider(check_id=action.check_ref().c)
    if action.follow_up:
        ref = action.follow_up_ref()
        asked = NOTE_ASKED.get(ref.n) if ref.n else None
        return FollowUpAnswer(follow_up_id=ref.f, choice=ref.v, ask_note=asked, question=ref.p)
    if not action.ours:
        return None
    step = action.ref()
    if action_id == ids.FORM:
        return OpenForm(check_id=step.c, step_id=step.s, revision=step.r)
    if action_id in MOVES:
        return MOVES[action_id](check_id=step.c, revision=step.r)
    if action_id == ids.MULTI_SUBMIT:
        return AnswerStep(check_id=step.c, answer=multi_answer(step, payload.state))
    assert isinstance(step, ChoiceRef)  # parse.Action.ref gives a ChoiceRef for every choice button and the menu
    return AnswerStep(check_id=step.c, answer=choice_answer(step))


def submission_command(sub: ViewSubmission) -> Command:
    """A modal of ours submitted: a typed answer, a form's fields, or a follow-up's note.

    Raises ``ValidationError`` when a typed value breaks a limit of the neutral model."""
    view = sub.view
    if view.callback_id == ids.FOLLOW_UP_VIEW:
        note = view.note_ref()
        return FollowUpAnswer(follow_up_id=note.f, choice=note.v, note=note_text(view.state))
    ref = view.form_ref()
    answer = fields_answer(ref, view.state) if view.callback_id == ids.FIELDS_VIEW else form_answer(ref, view.state)
    return AnswerStep(check_id=ref.c, answer=answer)


def modal_message(sub: ViewSubmission) -> tuple[str, str] | None:
    """The DM message a modal of ours belongs to (its step, or its follow-up question)."""
    view = sub.view
    ref = view.note_ref() if view.callback_id == ids.FOLLOW_UP_VIEW else view.form_ref()
    return (ref.ch, ref.ts) if ref.ch and ref.ts else None
