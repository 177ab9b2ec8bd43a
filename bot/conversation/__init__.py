"""The platform-neutral conversation: commands in, replies out, the same for Slack, Teams and the console.

Adapters translate: a payload becomes a ``Command`` (``grammar`` for typed text) with ``Who`` asked, the
``Conversation`` handles it, and the adapter renders the ``Reply`` and sends it (its ``Messenger``).
"""

from bot.conversation.commands import Command, Verb, Who
from bot.conversation.handler import Conversation
from bot.conversation.messenger import Messenger
from bot.conversation.people import Directory, NoDirectory
from bot.conversation.replies import AskTyped, Moved, NoteRequest, Reply, ShowInPlace, Shown, ShowNew, Unchanged
from bot.conversation.wording import Surface, Wording, shared_copy

__all__ = [
    "AskTyped",
    "Command",
    "Conversation",
    "Directory",
    "Messenger",
    "Moved",
    "NoDirectory",
    "NoteRequest",
    "Reply",
    "ShowInPlace",
    "ShowNew",
    "Shown",
    "Surface",
    "Unchanged",
    "Verb",
    "Who",
    "Wording",
    "shared_copy",
]
