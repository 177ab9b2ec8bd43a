"""What the check service says itself, and the messages it returns: the engine's message for the check, with its
id, and on completion with what the completion hooks added.

The steps' own wording is the content pack's (dialogs/packs); these are the few texts about the check as a whole.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from bot.checks.models import CompletionExtras
from dialogs.messages import Completion, Message, PendingItem, Prompt

SELF_RECIPIENT = (
    "You cannot name yourself as the recipient: the follow-up asks the recipient to confirm it arrived. "
    "Name the colleague who receives it, or type their organisation and role."
)
CARRYING_ON = "Carrying on with your check in progress."
RECONSIDERING = "Reconsidering with new information: this check is linked to the earlier decision."
FINISH_FIRST = "Finish or cancel the check you have in progress first, then reconsider."
ALREADY_DONE = "That was already done."
SAY_WHICH = "Say which decision to reconsider."
NO_NOT_SHARE = "No 'do not share' decision of yours matches."
NO_SUCH_CHECK = "No such check for you."


def with_id(message: Message, check_id: uuid.UUID) -> Message:
    return message.model_copy(update={"check_id": str(check_id)})


def with_extras(message: Message, extras: Sequence[CompletionExtras]) -> Message:
    """A Completion with what the completion hooks added (any other message as it is)."""
    if not extras or not isinstance(message, Completion):
        return message
    note_lines = [line for extra in extras for line in extra.covering_note_lines]
    note = message.covering_note
    if note_lines:
        note = "\n".join([note, *note_lines]) if note else "\n".join(note_lines)
    case_lines = [line for extra in extras for line in extra.case_note_lines]
    return message.model_copy(
        update={
            "covering_note": note,
            "case_notes": "\n".join([message.case_notes, *case_lines]) if case_lines else message.case_notes,
            "links": (*message.links, *(link for extra in extras for link in extra.links)),
            "next_steps": (*message.next_steps, *(step for extra in extras for step in extra.next_steps)),
        }
    )


def in_progress(check_id: uuid.UUID, step: Prompt, case_reference: str | None) -> PendingItem:
    """The check in progress, as ``pending`` lists it."""
    return PendingItem(
        kind="check_in_progress",
        case_reference=case_reference,
        status=f"check in progress: {step.progress.section}",
        check_id=str(check_id),
    )
