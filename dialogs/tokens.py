"""Tokens in neutral message text that each platform renders its own way.

``{user:ID}`` names a person (a mention in Slack, neutral words in Teams); ``{command:WORDS}`` names a
ShareCheck command, shown as it is typed on the platform reading it. Typed text cannot forge either: the
services mark it (dialogs/text_safety.py) and renderers expand tokens only outside the marked parts.
"""

from __future__ import annotations

import re

COMMAND_TOKEN = re.compile(r"\{command:([a-z]+(?: [A-Za-z0-9/_.:#\-]{1,60})?)\}")


def command_token(words: str) -> str:
    """'disagree CS-1' -> '{command:disagree CS-1}'."""
    token = "{command:" + words + "}"
    if not COMMAND_TOKEN.fullmatch(token):
        raise ValueError(f"not a command token: {words!r}")
    return token


def render_commands(text: str, typed: str) -> str:
    """Replace each command token with how it is typed: ``typed`` is a format with ``{words}``,
    for example '`/share-check {words}`'."""
    return COMMAND_TOKEN.sub(lambda m: typed.format(words=m.group(1)), text)
