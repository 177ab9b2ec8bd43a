"""One command grammar for every surface: the words after ``/share-check`` on Slack, a message typed to the bot
on Teams, a line typed at the console.

The adapter resolves mentions before this sees them (Slack's ``<@U123|jane>`` and ``<#C123|general>``, Teams'
mention entities), so who is meant comes from the platform's ids, never from names in the text. The command word
is optional ('share-check pending' and 'pending' are the same), words are matched ignoring case and trailing
punctuation, and a case reference is kept as typed.

    share-check (or /share-check alone)   start
    (nothing at all)                      help: a file sent, or the bot mentioned alone
    start | resume | pending | digest | help
    back | cancel | urgent                the check in progress
    revoke CASE | disagree CASE | reconsider CASE
    admin lead add @lead @user|#channel …  admin lead add @lead all|everyone  admin lead add @lead team|channel|here
    admin lead remove @lead               admin add @person …  admin remove @person …
    anything else naming @colleagues      they are the recipient, while the check asks for one
    anything else                         help
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.conversation.commands import (
    Admin,
    AdminAction,
    Back,
    Cancel,
    Command,
    DigestNow,
    Disagree,
    Help,
    LeadScope,
    NameColleague,
    Pending,
    Reconsider,
    Resume,
    Revoke,
    Start,
    Urgent,
)

ENTRY_WORDS = frozenset({"share-check", "sharecheck"})
EVERYONE_WORDS = frozenset({"all", "everyone"})
HERE_WORDS = frozenset({"team", "channel", "here"})
CASE_MAX = 200
_TRAILING = ".,;:!?"
SIMPLE: dict[str, type[Start | Resume | Pending | DigestNow | Help | Back | Cancel | Urgent]] = {
    "start": Start,
    "resume": Resume,
    "pending": Pending,
    "digest": DigestNow,
    "help": Help,
    "back": Back,
    "cancel": Cancel,
    "urgent": Urgent,
}
"""Commands of one word; with anything after them they are not these commands."""


@dataclass(frozen=True)
class UserMention:
    user_id: str


@dataclass(frozen=True)
class ChannelMention:
    channel_id: str


Mention = UserMention | ChannelMention
Token = str | Mention


def tokenize(text: str | None, mentions: Sequence[tuple[str, Mention]] = ()) -> list[Token]:
    """Words of ``text``, each mention in its place: ``mentions`` are (the text the platform put in the message
    for it, what it resolves to), in the order they appear. A mention whose text is not found comes last."""
    text = text or ""
    tokens: list[Token] = []
    at = 0
    missing: list[Mention] = []
    for raw, mention in mentions:
        found = text.find(raw, at) if raw else -1
        if found < 0:
            missing.append(mention)
            continue
        tokens.extend(text[at:found].split())
        tokens.append(mention)
        at = found + len(raw)
    tokens.extend(text[at:].split())
    tokens.extend(missing)
    return tokens


def _word(token: Token) -> str | None:
    """The word as matched: lower case, without a leading slash or trailing punctuation; None for a mention."""
    if not isinstance(token, str):
        return None
    return token.lower().lstrip("/").rstrip(_TRAILING)


def parse(tokens: Sequence[Token], *, after_command_word: bool = False) -> Command:
    """The command these tokens ask for (never fails: what is not understood is help, or an admin usage).

    ``after_command_word``: the tokens are what follows a command word the platform already gave (Slack's
    ``/share-check``), so no words at all means start. A message with no words at all (a file sent, the bot
    mentioned alone in a channel) asks for nothing, and is answered with help."""
    rest = list(tokens)
    if rest and _word(rest[0]) in ENTRY_WORDS:
        rest, after_command_word = rest[1:], True
    if not rest:
        return Start() if after_command_word else Help()
    verb, args = _word(rest[0]), rest[1:]
    if verb in SIMPLE and not args:
        return SIMPLE[verb]()
    if verb in ("revoke", "disagree", "reconsider"):
        case = _case_reference(args)
        if verb == "revoke":
            return Revoke(case_reference=case)
        if verb == "disagree":
            return Disagree(case_reference=case)
        return Reconsider(case_reference=case)
    if verb == "admin":
        return parse_admin(args)
    people = tuple(dict.fromkeys(t.user_id for t in rest if isinstance(t, UserMention)))
    return NameColleague(user_ids=people) if people else Help()


def parse_text(
    text: str | None, mentions: Sequence[tuple[str, Mention]] = (), *, after_command_word: bool = False
) -> Command:
    return parse(tokenize(text, mentions), after_command_word=after_command_word)


def _case_reference(args: Sequence[Token]) -> str | None:
    """Exactly one word after the verb: the case reference as typed (trailing punctuation dropped)."""
    if len(args) != 1 or not isinstance(args[0], str):
        return None
    case = args[0].rstrip(_TRAILING)
    return case[:CASE_MAX] or None


def parse_admin(args: Sequence[Token]) -> Admin:
    """The words after 'admin'. Anything not fully understood is the usage: a role change is never guessed."""
    usage = Admin(action=AdminAction.USAGE)
    words = [_word(t) for t in args]
    if words[:2] == ["lead", "add"]:
        return _lead_add(args[2:]) or usage
    if words[:2] == ["lead", "remove"]:
        lead = args[2:]
        if len(lead) == 1 and isinstance(lead[0], UserMention):
            return Admin(action=AdminAction.LEAD_REMOVE, lead=lead[0].user_id)
        return usage
    if words[:1] in (["add"], ["remove"]):
        people = args[1:]
        if not people or not all(isinstance(p, UserMention) for p in people):
            return usage
        action = AdminAction.ADMIN_ADD if words[0] == "add" else AdminAction.ADMIN_REMOVE
        users = tuple(dict.fromkeys(p.user_id for p in people if isinstance(p, UserMention)))
        return Admin(action=action, users=users)
    return usage


def _lead_add(args: Sequence[Token]) -> Admin | None:
    if len(args) < 2 or not isinstance(args[0], UserMention):
        return None
    lead, targets = args[0].user_id, args[1:]
    if len(targets) == 1 and isinstance(targets[0], str):
        word = _word(targets[0])
        if word in EVERYONE_WORDS:
            return Admin(action=AdminAction.LEAD_ADD, lead=lead, scope=LeadScope.EVERYONE)
        if word in HERE_WORDS:
            return Admin(action=AdminAction.LEAD_ADD, lead=lead, scope=LeadScope.HERE)
        return None
    if not all(isinstance(t, UserMention | ChannelMention) for t in targets):
        return None
    users = tuple(dict.fromkeys(t.user_id for t in targets if isinstance(t, UserMention)))
    channels = tuple(dict.fromkeys(t.channel_id for t in targets if isinstance(t, ChannelMention)))
    return Admin(action=AdminAction.LEAD_ADD, lead=lead, users=users, channels=channels)
