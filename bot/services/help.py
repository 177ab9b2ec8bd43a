"""The help text every platform shows (the commands differ only in how they are typed)."""

from __future__ import annotations

from dialogs.content import Pack
from dialogs.messages import Info, LinkView


def help_message(pack: Pack, command: str, links: tuple[LinkView, ...] = ()) -> Info:
    """``command`` is how the platform spells the entry point: '/share-check' (Slack) or 'share-check' (Teams)."""
    sub = f"{command} " if command.startswith("/") else ""
    return Info(
        title="ShareCheck: check before you share, record why, confirm it arrived",
        lines=(
            f"`{command}` starts a guided information-sharing check ({pack.title}, version {pack.version}). "
            "It takes a few minutes and ends in a recorded decision with your reasons.",
            f"`{sub}resume` carries on with a check you started.",
            f"`{sub}pending` lists what is still open for you.",
            f"`{sub}revoke CASE-REF` withdraws the receipt links you sent for that case (sent to the wrong person, "
            "say): the link then stops working.",
            f"`{sub}disagree CASE-REF` starts the local professional disagreement route about a share you "
            "recorded (for example, you disagree with the recipient's response).",
            f"`{sub}digest` (safeguarding leads) shows your team's digest now.",
            f"`{sub}help` shows this message.",
            "Someone in immediate danger? Call 999 or your local children's or adults' social care front door now. "
            "Every step of the check has an 'immediate danger' button: act first, record after.",
            "Use case references, never names: ShareCheck stores the least it can.",
        ),
        links=links,
    )
