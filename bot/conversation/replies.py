"""What the handler answers, for any platform to render and send.

Each reply says what to do with the conversation, not how: a Slack adapter updates a message with chat.update
where a Teams one answers an invoke with a card, and the console prints. Which reply comes when:

- ``ShowInPlace``: the request came from a message about one check or follow-up (a button, a card): that message
  now shows this instead (the next step, the refused step with why, the follow-up's result).
- ``ShowNew``: a typed command's answer, or something to keep beside the message it came from (a reconsidered
  check's first step leaves the summary it was started from in place). Shown to the person who asked only,
  where the platform can do that in a shared channel (Slack ephemeral messages); where it cannot, case details
  asked for in a channel come as ``Moved`` instead.
- ``AskTyped``: open a form or an input for typing (a modal on Slack, an input card on Teams, a line on the
  console); for a check step, the adapter decides from the Prompt whether it needs one.
- ``Unchanged``: nothing was done, and (if ``reason``) why, shown to the person only; the message they pressed
  stays as it was.
- ``Moved``: asked in a shared channel: the reply goes to the person's private chat with ShareCheck, and
  ``notice`` says so where they asked.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from dialogs.messages import Digest, Info, Message, PendingList, Prompt

Shown = Message | Info | PendingList | Digest
"""What a reply shows: a check's step, summary or cancellation, or a neutral info, list or digest."""


@dataclass(frozen=True)
class NoteRequest:
    """A follow-up answer that needs a typed note (required, or offered): ask for it, then send the answer."""

    follow_up_id: uuid.UUID
    choice: str
    prompt: str
    required: bool
    personal_data: bool = False
    """The note typed looks like it holds personal details: ask again, or let them keep it as it is."""
    note: str | None = None
    """What they typed before (to show again after a warning)."""


@dataclass(frozen=True)
class ShowInPlace:
    message: Shown
    plain: bool = False
    """The lines quote typed text (a case reference, a note) or name people with ``{user:ID}`` tokens: render
    them as text, never markup (Teams TextRuns)."""
    refused: str | None = None
    """The answer was not accepted: why (the message is the same step, with the reason on it). An adapter
    that took the answer in a form keeps the form open with this."""
    recorded: bool = False
    """A follow-up answer was recorded by this request (False: it was answered before, nothing changed).
    Either way the message becomes the result, with nothing left to press."""
    stale: bool = False
    """Nothing changed (a double click, an old message's button, a replay): the message is where the check is
    now, saying so. An adapter that took the answer in a form may close it saying so instead."""


@dataclass(frozen=True)
class ShowNew:
    message: Shown
    plain: bool = False
    offer_start: bool = False
    """Says there is no check or how to start one: show a 'Start a check' button with it."""


@dataclass(frozen=True)
class AskTyped:
    prompt: Prompt | NoteRequest
    """A check step to type the answer to, or a follow-up's note."""


@dataclass(frozen=True)
class Unchanged:
    reason: str | None = None
    """Shown to the person only (Slack ephemeral message, Teams invoke message); None: nothing to say."""


@dataclass(frozen=True)
class Moved:
    then: ShowNew
    """What to show in the private chat."""
    notice: str
    """Said where they asked, once it is sent."""
    unreachable: str
    """Said where they asked instead, when the private chat could not be opened (the app not installed
    for them personally, a policy)."""


Reply = ShowInPlace | ShowNew | AskTyped | Unchanged | Moved
