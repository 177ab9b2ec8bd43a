"""A messenger that keeps what it is given: scenario tests read a conversation's replies in-process.

The twin of RecordingDeliverer (tests/support/deliverers.py) for replies within a turn: no platform, no HTTP,
no waiting, so a whole conversation is a run of plain awaits.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.conversation.replies import AskTyped, Moved, Reply, ShowInPlace, Shown, ShowNew, Unchanged


@dataclass
class CollectingMessenger:
    replies: list[Reply] = field(default_factory=list)

    async def send(self, reply: Reply) -> None:
        self.replies.append(reply)

    @property
    def last(self) -> Reply:
        assert self.replies, "nothing was sent"
        return self.replies[-1]

    def shown(self) -> list[Shown]:
        """Every message shown, in order (a message moved to the private chat as it is shown there)."""
        found: list[Shown] = []
        for reply in self.replies:
            if isinstance(reply, ShowInPlace | ShowNew):
                found.append(reply.message)
            elif isinstance(reply, Moved):
                found.append(reply.then.message)
        return found

    def said(self) -> list[str]:
        """What was said to the person beside the messages: reasons nothing changed, where the reply went."""
        return [
            text
            for reply in self.replies
            for text in (
                (reply.reason,) if isinstance(reply, Unchanged) else (reply.notice,) if isinstance(reply, Moved) else ()
            )
            if text
        ]

    def asked(self) -> list[AskTyped]:
        return [r for r in self.replies if isinstance(r, AskTyped)]

    def clear(self) -> None:
        self.replies.clear()
