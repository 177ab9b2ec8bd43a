"""Adaptive Cards (schema 1.5, the highest Teams renders everywhere) from the neutral messages.

Pure functions from neutral messages to card dicts: no SDK, no I/O, so every card can be checked against
the official schema in tests. Text a practitioner typed is rendered as a ``TextRun`` (never parsed as
markdown) or as an input's value, so it cannot break or restyle a card.
"""

from __future__ import annotations

import re
from typing import Any

from adapters.teams.elements import CHOICE, ActionStyle, Card, action, copyable, covering_note, plain, toggle
from adapters.teams.elements import as_typed as _as_typed
from adapters.teams.elements import text as _text
from adapters.teams.step_kinds import (
    MULTILINE_FROM,
    TEXT_PLACEHOLDERS,
    confirm_list_actions,
    confirm_list_input,
    form_actions,
    form_inputs,
    form_notice,
    progress_line,
    review_actions,
    review_body,
)
from bot.conversation.wording import shared_copy
from dialogs import text_safety
from dialogs.content import AnswerKind
from dialogs.messages import (
    Cancelled,
    CitationView,
    Completion,
    Digest,
    FollowUpPrompt,
    Info,
    LinkView,
    Message,
    MythView,
    PendingList,
    Prompt,
)
from dialogs.tokens import render_commands

CARD_VERSION = "1.5"
CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"

# Input and element ids: the parser reads these names back (adapters/teams/parse.py).
TEXT = "sc_text"
ORG = "sc_org"
ROLE = "sc_role"
PERSON = "sc_person"
"""The people picker's input: its value is the picked colleague's Entra (AAD) object id."""
PEOPLE_PICKER = {"type": "Data.Query", "dataset": "graph.microsoft.com/users"}
TEAMS_EXTENSIONS = {"Input.ChoiceSet": ("choices.data",)}
"""Properties Teams renders that the Adaptive Card 1.5 schema does not allow: the only ones our cards use."""
GUIDANCE_ID = "sc_guidance"
NOTES_ID = "sc_case_notes"
COVERING_NOTE_ID = "sc_covering_note"
NOTE_PREFIX = "sc_note_"
"""A follow-up note's input id is this plus the choice id: one input per choice, so ids never repeat on a card."""
FOLLOW_UP_ID = "follow_up_id"
NOTE_MAX = 1000

MAX_BUTTONS = 5
"""Up to this many single choices become buttons; more become a compact choice set (Teams shows about 6 actions)."""

escape_markdown = text_safety.markdown
"""Backslash-escape the markdown subset TextBlocks interpret (the typed-text rule for TextBlocks)."""


def _own(text: str) -> str:
    # pack and help texts mark commands with backticks, which card markdown does not render
    return re.sub(r"`([^`]+)`", r"**\1**", text)


def _card(body: list[dict[str, Any]], actions: list[dict[str, Any]] | None = None, fallback: str = "") -> Card:
    card: Card = {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": CARD_VERSION,
        "body": body,
    }
    if actions:
        card["actions"] = actions
    if fallback:
        card["fallbackText"] = _as_typed(fallback)
    return card


def _citation(c: CitationView) -> str:
    return f"Source: {c.short()}"


def _links(links: tuple[LinkView, ...]) -> list[dict[str, Any]]:
    return [{"type": "Action.OpenUrl", "title": link.title[:60], "url": link.url} for link in links]


def _myth(myth: MythView) -> dict[str, Any]:
    """A myth-buster: the worry's answer and its source, in plain TextRuns (pack text is never parsed as markdown)."""
    return {
        "type": "Container",
        "style": "emphasis",
        "spacing": "Medium",
        "items": [
            plain(myth.title, weight="Bolder"),
            plain(myth.text),
            plain(_citation(myth.citation), size="Small", isSubtle=True),
        ],
    }


def recipient_inputs() -> list[dict[str, Any]]:
    """A colleague from the people picker (Teams looks them up in the organisation's directory), or, for someone
    elsewhere, their organisation and role. Neither is required on the card: the check says what is missing."""
    inputs: list[dict[str, Any]] = [
        {
            "type": "Input.ChoiceSet",
            "id": PERSON,
            "label": "A colleague in your organisation",
            "placeholder": "Start typing their name",
            "choices": [],
            "choices.data": PEOPLE_PICKER,
        },
        _text("Or, for someone at another organisation, their organisation and role:", isSubtle=True),
    ]
    for input_id, label, hint in (
        (ORG, "Organisation", "Northshire Police"),
        (ROLE, "Role (no names needed)", "MASH detective sergeant"),
    ):
        inputs.append({"type": "Input.Text", "id": input_id, "label": label, "placeholder": hint, "maxLength": 200})
    return inputs


def render_prompt(prompt: Prompt, style: ActionStyle) -> Card:
    ids = {"check_id": prompt.check_id, "step_id": prompt.step_id, "revision": prompt.revision}
    body: list[dict[str, Any]] = [progress_line(prompt.pack_title, prompt.progress)]
    if prompt.contacts:
        # who to call comes before anything else to read on the immediate-danger path
        body.append(_text("Call now", weight="Bolder", color="Attention"))
        body.extend(plain(f"{c.label}: {c.contact}") for c in prompt.contacts)
    if prompt.notice:
        notice = form_notice(prompt.notice, prompt.input.fields) if prompt.input.fields else prompt.notice
        body.append(plain(notice, color="Attention"))
    # the answer to the worry the last answer showed, above the next question (at the point of hesitation)
    body.extend(_myth(myth) for myth in prompt.myths)
    body.append(_text(prompt.title, size="Medium", weight="Bolder"))
    body.append(_text(prompt.question))
    if prompt.help:
        body.append(_text(prompt.help, isSubtle=True))
    spec = prompt.input
    if spec.previous:
        body.append(plain(f"Earlier answer: {spec.previous}", isSubtle=True))
    step_actions: list[dict[str, Any]] = []
    if spec.kind is AnswerKind.FORM:
        body.extend(form_inputs(spec.fields))
        step_actions = form_actions(style, ids, spec.fields)
    elif spec.kind is AnswerKind.CONFIRM_LIST:
        body.append(confirm_list_input(spec))
        step_actions = confirm_list_actions(style, ids, spec)
    elif spec.kind is AnswerKind.REVIEW and prompt.review is not None:
        body.extend(review_body(prompt.review))
        step_actions = review_actions(style, ids, spec, prompt.review)
    elif spec.choices and not spec.multiple and len(spec.choices) <= MAX_BUTTONS:
        for choice in spec.choices:
            emphasis = {"primary": "positive", "danger": "destructive"}.get(choice.style or "")
            step_actions.append(action(style, choice.label, "answer", {**ids, CHOICE: choice.id}, emphasis=emphasis))
    elif spec.choices:
        body.append(
            {
                "type": "Input.ChoiceSet",
                "id": CHOICE,
                "label": "Choose all that apply" if spec.multiple else "Choose one",
                "isMultiSelect": spec.multiple,
                "style": "expanded",
                "isRequired": not spec.optional,
                "errorMessage": "Choose an answer.",
                "choices": [{"title": c.label, "value": c.id} for c in spec.choices],
            }
        )
        step_actions.append(action(style, "Continue", "answer", ids, emphasis="positive"))
    elif spec.kind is AnswerKind.RECIPIENT:
        body.extend(recipient_inputs())
        step_actions.append(action(style, "Continue", "answer", ids, emphasis="positive"))
    else:
        placeholder = spec.placeholder or TEXT_PLACEHOLDERS.get(spec.kind)
        field: dict[str, Any] = {
            "type": "Input.Text",
            "id": TEXT,
            "label": "Your answer" + (" (optional)" if spec.optional else ""),
            "maxLength": spec.max_length,
            "isMultiline": spec.kind is AnswerKind.FREE_TEXT and spec.max_length > MULTILINE_FROM,
            "isRequired": not spec.optional,
            "errorMessage": "An answer is needed here.",
        }
        if placeholder:
            field["placeholder"] = placeholder
        body.append(field)
        step_actions.append(action(style, "Continue", "answer", ids, emphasis="positive"))
    body.append({"type": "ActionSet", "actions": step_actions})

    sources = [g for g in prompt.guidance] if prompt.guidance else []
    if sources or prompt.citations:
        items: list[dict[str, Any]] = []
        for g in sources:
            items.append(_text(g.text))
            if g.citation:
                items.append(_text(_citation(g.citation), size="Small", isSubtle=True))
        for c in prompt.citations:
            items.append(_text(_citation(c), size="Small", isSubtle=True))
        body.append({"type": "Container", "id": GUIDANCE_ID, "isVisible": False, "style": "emphasis", "items": items})

    actions: list[dict[str, Any]] = []
    if sources or prompt.citations:
        actions.append(
            {"type": "Action.ToggleVisibility", "title": "Guidance and sources", "targetElements": [GUIDANCE_ID]}
        )
    if prompt.can_go_back:
        actions.append(action(style, "Back", "back", ids, inputs=False))
    actions.append(action(style, "Cancel", "cancel", ids, inputs=False))
    if prompt.urgent_exit:
        actions.append(
            action(style, "Someone is in immediate danger", "urgent", ids, inputs=False, emphasis="destructive")
        )
    actions.extend(_links(prompt.links))
    return _card(body, actions, fallback=f"{prompt.progress.label()}: {prompt.question}")


def render_completion(done: Completion, style: ActionStyle) -> Card:
    """The summary: headline, decision and what happens next first; the notes to copy behind toggles.

    The full record (every answer) is in the case notes, so it is not repeated as label/value lines: the visible
    part fits a chat window, and one press shows the notes right under the headline.
    """
    body: list[dict[str, Any]] = [
        _text(done.pack_title, size="Small", isSubtle=True),
        _text(f"Decision recorded: {done.decision_label}", size="Large", weight="Bolder", color="Good", spacing="None"),
    ]
    if done.immediate_risk:
        body.append(_text(shared_copy().immediate_risk, color="Attention"))
    if done.case_reference:
        body.append(
            {
                "type": "RichTextBlock",
                "spacing": "Small",
                "inlines": [
                    {"type": "TextRun", "text": "Case reference: ", "weight": "Bolder"},
                    {"type": "TextRun", "text": done.case_reference},
                ],
            }
        )
    if done.next_steps:
        body.append(_text("What happens next", weight="Bolder", spacing="Medium"))
        body.extend(plain(f"• {step}") for step in done.next_steps)
    if done.unsure:
        body.append(
            plain(f"You were unsure about: {'; '.join(done.unsure)}. Your lead can help.", isSubtle=True, size="Small")
        )
    toggles = [toggle("Case notes to copy", NOTES_ID)]
    if done.covering_note:
        toggles.append(toggle("Covering note for the recipient", COVERING_NOTE_ID))
    body.append({"type": "ActionSet", "spacing": "Medium", "actions": toggles})
    body.append(copyable(done.case_notes, NOTES_ID, "Copy this into the case notes"))
    if done.covering_note:
        body.append(covering_note(done.covering_note, COVERING_NOTE_ID))
    actions: list[dict[str, Any]] = []
    if done.can_reconsider and done.check_id:
        actions.append(
            action(style, "Reconsider with new information", "reconsider", {"check_id": done.check_id}, inputs=False)
        )
    actions.append(action(style, "What is still open", "pending", {}, inputs=False))
    actions.append(start_action(style, "Start a new check"))
    actions.extend(_links(done.links))
    return _card(body, actions, fallback=f"Decision recorded: {done.decision_label}")


def render_cancelled(cancelled: Cancelled, style: ActionStyle) -> Card:
    return _card(
        [plain(cancelled.text)],
        [start_action(style, "Start a new check")],
        fallback=cancelled.text,
    )


START_TITLE = "Start a check"


def start_action(style: ActionStyle, title: str = START_TITLE) -> dict[str, Any]:
    """Wherever ShareCheck says there is no check, or how to start one: one press starts it."""
    return action(style, title, "start", {}, inputs=False, emphasis="positive")


def render_info(info: Info, style: ActionStyle, start_button: bool = False) -> Card:
    body: list[dict[str, Any]] = [_text(info.title, size="Medium", weight="Bolder")]
    body.extend(_text(text_safety.render(line, text_safety.markdown, _own)) for line in info.lines)
    actions = [start_action(style)] if start_button else []
    actions.extend(_links(info.links))
    return _card(body, actions, fallback=info.title)


def render_pending(pending: PendingList, style: ActionStyle) -> Card:
    body: list[dict[str, Any]] = [_text("Still open for you", size="Medium", weight="Bolder")]
    actions: list[dict[str, Any]] = []
    if not pending.items:
        body.append(plain(pending.empty_text))
        actions.append(start_action(style))
    for item in pending.items:
        ref = item.case_reference or "no case reference yet"
        body.append(plain(f"{ref}: {item.status}"))
        if item.kind == "check_in_progress" and not actions:
            actions.append(action(style, f"Carry on with {ref}"[:60], "resume", {"check_id": item.check_id}))
    return _card(body, actions, fallback="Still open for you")


def render_notice(text: str) -> Card:
    """A one-line card in our own wording, such as 'that check has already finished' (a command to type in
    backticks shows in bold; any typed part stays as typed)."""
    return _card([_text(text_safety.render(text, text_safety.markdown, _own))], fallback=text)


def render(message: Message | Info | PendingList | FollowUpPrompt | Digest, style: ActionStyle) -> Card:
    if isinstance(message, FollowUpPrompt):
        return render_follow_up(message, style)
    if isinstance(message, Digest):
        return render_digest(message)
    if isinstance(message, Prompt):
        return render_prompt(message, style)
    if isinstance(message, Completion):
        return render_completion(message, style)
    if isinstance(message, Cancelled):
        return render_cancelled(message, style)
    if isinstance(message, PendingList):
        return render_pending(message, style)
    return render_info(message, style)


# --- follow-ups, notices and digests (delivered by the scheduler, outside a conversation turn) ------

_TOKEN = re.compile(r"\{user:([^{}]+)\}")
_YOU = {"is": "are", "was": "were", "has": "have"}
_SENTENCE_END = re.compile(r"(^|[.!?:]\s+)$")


def people(text: str, viewer: str | None = None) -> str:
    """Replace ``{user:ID}`` tokens with neutral words: 'you' for the reader, else 'a colleague'.

    Why not names: Teams needs a display name for a mention, and storing practitioners' names only for
    this is more personal data than the message needs; the case reference tells the reader which share
    it is about. A second person in the same message is 'another colleague', so they stay distinct.
    Raw platform ids never reach the text.
    """
    seen: list[str] = []

    def word(match: re.Match[str]) -> str:
        user = match.group(1)
        if viewer is not None and user == viewer:
            phrase = "you"
        else:
            if user not in seen:
                seen.append(user)
            phrase = "a colleague" if seen.index(user) == 0 else "another colleague"
        before = match.string[: match.start()]
        return phrase[0].upper() + phrase[1:] if _SENTENCE_END.search(before) else phrase

    def expand(part: str) -> str:
        if viewer is not None:
            # 'You is now a lead' reads wrong: the reader named as a sentence's subject takes 'you are'
            reader = re.escape("{user:" + viewer + "}")
            part = re.sub(
                reader + r" (is|was|has)\b", lambda m: m.group(0)[: -len(m.group(1))] + _YOU[m.group(1)], part
            )
        # a command is typed to the bot in the chat: say so, since Teams has no slash command
        return render_commands(_TOKEN.sub(word, part), "Typing “{words}” to ShareCheck")

    # tokens only where the code wrote them; typed parts as typed (they end in TextRuns)
    return text_safety.render(text, text_safety.plain, expand)


def _follow_up_data(prompt: FollowUpPrompt, choice: str) -> dict[str, Any]:
    return {FOLLOW_UP_ID: prompt.follow_up_id, CHOICE: choice}


def render_follow_up(prompt: FollowUpPrompt, style: ActionStyle, viewer: str | None = None) -> Card:
    """The 'received and understood' question: one click per answer; an answer that takes a note opens
    a small form under the button (Action.ShowCard) with its own text box and Send button."""
    body: list[dict[str, Any]] = [
        _text("ShareCheck follow-up", size="Small", isSubtle=True),
        plain(prompt.title, size="Medium", weight="Bolder"),
    ]
    # follow-up lines can carry a sender's description of the recipient: plain TextRuns, never markdown
    body.extend(plain(people(line, viewer)) for line in prompt.lines)
    actions: list[dict[str, Any]] = []
    for choice in prompt.choices:
        emphasis = {"primary": "positive", "danger": "destructive"}.get(choice.style or "")
        data = _follow_up_data(prompt, choice.id)
        required = choice.id in prompt.note_required
        if required or choice.id in prompt.note_optional:
            field = {
                "type": "Input.Text",
                "id": NOTE_PREFIX + choice.id,
                "label": prompt.note_prompt or "Note",
                "isMultiline": True,
                "maxLength": NOTE_MAX,
                "isRequired": required,
                "errorMessage": "Please say what is unclear." if required else None,
            }
            send = action(style, "Send", "follow_up", data, emphasis=emphasis)
            sub_card = _card([{k: v for k, v in field.items() if v is not None}], [send])
            sub_card.pop("$schema", None)
            actions.append({"type": "Action.ShowCard", "title": choice.label, "card": sub_card})
        else:
            actions.append(action(style, choice.label, "follow_up", data, inputs=False, emphasis=emphasis))
    return _card(body, actions, fallback=prompt.title)


def render_note_needed(
    follow_up_id: str, choice: str, note_prompt: str, style: ActionStyle, note: str | None = None
) -> Card:
    """An answer that needs a note arrived without one (an older client ignored isRequired), or with one that
    looks like it holds personal details (``note``, shown again to change): ask for it."""
    data = {FOLLOW_UP_ID: follow_up_id, CHOICE: choice}
    field: dict[str, Any] = {
        "type": "Input.Text",
        "id": NOTE_PREFIX + choice,
        "label": note_prompt,
        "isMultiline": True,
        "maxLength": NOTE_MAX,
        "isRequired": True,
        "errorMessage": "Please add a note.",
    }
    if note:
        field["value"] = _as_typed(note)[:NOTE_MAX]
    return _card([field], [action(style, "Send", "follow_up", data, emphasis="positive")], fallback=note_prompt)


def render_outcome(info: Info, viewer: str | None = None) -> Card:
    """A follow-up's result, a notice to a sender or an escalation to a lead: no buttons, nothing to press twice.

    Lines may quote a note someone typed, so they are TextRuns (never markdown), with people as neutral words.
    """
    # titles carry a case reference, which may hold markdown characters (CS_24_1): a TextRun, never parsed
    body: list[dict[str, Any]] = [plain(people(info.title, viewer), size="Medium", weight="Bolder")]
    body.extend(plain(people(line, viewer)) for line in info.lines)
    return _card(body, _links(info.links), fallback=people(info.title, viewer))


def _change(value: int, previous: int) -> str:
    delta = value - previous
    return "no change" if delta == 0 else f"{delta:+d} on the period before"


def render_digest(digest: Digest) -> Card:
    """A lead's digest: what needs them first, then the figures with their change, the unsure principles
    (a training signal) and the trend as a small bar line."""
    body: list[dict[str, Any]] = [
        _text(digest.title, size="Medium", weight="Bolder"),
        _text(digest.period, size="Small", isSubtle=True, spacing="None"),
    ]
    if digest.empty:
        body.append(plain(digest.empty_text))
    if digest.needs_you:
        body.append(_text("Needs you now", weight="Bolder", color="Attention", spacing="Medium"))
        for item in digest.needs_you:
            body.append(
                {
                    "type": "RichTextBlock",
                    "inlines": [
                        {"type": "TextRun", "text": f"{item.case_reference}: ", "weight": "Bolder"},
                        {"type": "TextRun", "text": item.text},
                    ],
                }
            )
    sections = (
        ("This period", digest.figures),
        ("Most often answered 'not sure'", digest.unsure),
        (digest.worries_label, digest.worries),
    )
    for heading, figures in sections:
        if figures:
            body.append(_text(heading, weight="Bolder", spacing="Medium"))
            facts = [{"title": f.label, "value": f"{f.value} ({_change(f.value, f.previous)})"} for f in figures]
            body.append({"type": "FactSet", "facts": facts})
    if digest.trend and any(digest.trend):
        body.append(_text(digest.trend_label, size="Small", isSubtle=True, spacing="Medium"))
        counts = ", ".join(str(n) for n in digest.trend)
        body.append(plain(digest.sparkline(), fontType="Monospace", size="Large"))
        body.append(plain(f"({counts}; oldest first)", size="Small", isSubtle=True))
    return _card(body, fallback=digest.title)


def render_outbound(message: FollowUpPrompt | Info | Digest, style: ActionStyle, viewer: str | None = None) -> Card:
    """What the scheduler delivers; ``viewer`` is the reader's user id, so a token naming them reads 'you'."""
    if isinstance(message, FollowUpPrompt):
        return render_follow_up(message, style, viewer)
    if isinstance(message, Digest):
        return render_digest(message)
    return render_outcome(message, viewer)
