"""The conversation's wording (bot/content/conversation.yaml), validated once, filled in for one surface."""

from __future__ import annotations

import string
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, model_validator

CONTENT_FILE = Path(__file__).parent.parent / "content" / "conversation.yaml"


@dataclass(frozen=True)
class Surface:
    """How a platform is reached, as the wording names it. Each adapter declares its own."""

    platform: str
    command: str
    """How a person starts ShareCheck there: '/share-check' (a Slack slash command), 'share-check' (typed)."""
    place: str = "channel"
    """What a shared space is called there: 'channel' (Slack), 'team' (Teams)."""
    whisper: bool = False
    """The platform can show a reply to one person inside a shared channel (Slack's ephemeral messages).
    Where it cannot, case details asked for in a channel go to the private chat instead."""


class _Text(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Shared(_Text):
    immediate_risk: str
    no_names: str
    in_danger: str


class HelpText(_Text):
    title: str
    lines: tuple[str, ...]


class NoCheck(_Text):
    title: str
    line: str


class ReconsiderText(_Text):
    usage_title: str
    usage: str
    not_found: str


class RevokeText(_Text):
    usage_title: str
    usage: str
    title: str
    one: str
    other: str
    nothing_title: str


class DisagreeText(_Text):
    usage_title: str
    usage: str
    nothing_title: str


class DigestText(_Text):
    not_a_lead_title: str
    not_a_lead: str


class AdminText(_Text):
    usage_title: str
    usage: tuple[str, ...]
    title: str
    lead_everyone: str
    lead_here: str
    lead_named: str
    channels_one: str
    channels_other: str
    already: str
    here_needs_place: str
    lead_removed_one: str
    lead_removed_other: str
    admin_now: str
    admin_already: str
    admin_removed: str
    admin_not: str
    not_permitted_title: str
    failed_title: str


class ReceiptFormText(_Text):
    name_missing: str
    name_too_long: str
    organisation_missing: str
    organisation_too_long: str
    answer_missing: str
    unclear_missing: str
    note_too_long: str
    control_characters: str


SURFACE_FIELDS = frozenset({"command", "place", "immediate_risk", "no_names", "in_danger"})
"""Placeholders every text may use: the surface's and the shared lines."""
TEXT_FIELDS = frozenset({"pack_title", "pack_version", "case_reference", "count", "lead", "named", "user", "max"})
"""Placeholders the handler fills in particular texts."""


class ConversationContent(_Text):
    version: str
    shared: Shared
    help: HelpText
    welcome: HelpText
    no_check: NoCheck
    moved: str
    unreachable: str
    stale: str
    closed: str
    check_not_found: str
    unknown_action: str
    failed: str
    no_workspace: str
    follow_up_gone: str
    note_needed: str
    reconsider: ReconsiderText
    revoke: RevokeText
    disagree: DisagreeText
    digest: DigestText
    admin: AdminText
    receipt_form: ReceiptFormText

    @model_validator(mode="after")
    def _placeholders_known(self) -> ConversationContent:
        # a misspelt placeholder fails at start-up, not in front of a practitioner
        known = SURFACE_FIELDS | TEXT_FIELDS
        for text in _texts(self):
            for _, name, _, _ in string.Formatter().parse(text):
                if name is not None and name not in known:
                    raise ValueError(f"unknown placeholder {{{name}}} in {text[:60]!r}")
        for text in _texts(self.shared):
            if any(name for _, name, _, _ in string.Formatter().parse(text)):
                raise ValueError("the shared lines take no placeholders")
        return self


def _texts(model: BaseModel) -> list[str]:
    found: list[str] = []
    for value in model.__dict__.values():
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, tuple):
            found.extend(v for v in value if isinstance(v, str))
        elif isinstance(value, BaseModel):
            found.extend(_texts(value))
    return found


@cache
def conversation_content() -> ConversationContent:
    return ConversationContent.model_validate(yaml.safe_load(CONTENT_FILE.read_text(encoding="utf-8")))


def shared_copy() -> Shared:
    """The lines every renderer shows the same (the immediate-risk banner, 'case reference, not names')."""
    return conversation_content().shared


class Wording:
    """The texts for one surface: ``wording(template, case_reference=typed(ref))`` fills a template.

    Values a person typed must come marked with ``dialogs.text_safety.typed``: the text is then safe to quote.
    """

    def __init__(self, surface: Surface, content: ConversationContent | None = None) -> None:
        self.surface = surface
        self.content = content or conversation_content()
        shared = self.content.shared
        self._base = {
            "command": surface.command,
            "place": surface.place,
            "immediate_risk": shared.immediate_risk,
            "no_names": shared.no_names,
            "in_danger": shared.in_danger,
        }

    def __call__(self, template: str, **values: str | int) -> str:
        return template.format(**self._base, **values)

    def lines(self, templates: tuple[str, ...], **values: str | int) -> tuple[str, ...]:
        return tuple(self(t, **values) for t in templates)

    def count(self, one: str, other: str, count: int, **values: str | int) -> str:
        return self(one if count == 1 else other, count=count, **values)
