"""The seam between the conversation and a platform's way of answering within it.

The twin of ``bot.delivery.Deliverer``: a Deliverer sends what the scheduler has queued to someone outside any
conversation turn; a Messenger sends the reply to a turn back where it was asked (a Slack ``respond`` or
``chat.update``, a Teams ``TurnContext``, a terminal). One is made per turn, bound to the request it answers, so
it knows which message was pressed and where the person is. Tests use a collecting one
(tests/support/messenger.py) and run whole conversations in-process as plain awaits.
"""

from __future__ import annotations

from typing import Protocol

from bot.conversation.replies import Reply


class Messenger(Protocol):
    async def send(self, reply: Reply) -> None:
        """Render ``reply`` for the platform and send it in the turn's conversation (or the private chat, for
        ``Moved``). Failures of the platform are the messenger's to log; nothing is raised for them."""
        ...
