"""Card parts for the step kinds that answer several things at once: a form, a confirmation list, the review screen;
and the progress line in sections.

Translation only: what to ask, what is valid and what comes next are the engine's. Each input's id says how the
parser reads it back (adapters/teams/parse.py): a form field's input is ``sc_fc_<field>`` (choice ids, comma-separated
as Teams sends a multi-select) or ``sc_ft_<field>`` (text), and the Continue button's data lists the form's fields
(``sc_form``), so a field Teams leaves out still counts as unanswered.
"""

from __future__ import annotations

from typing import Any

from adapters.teams.elements import (
    CHOICE,
    ActionStyle,
    Card,
    Element,
    action,
    as_typed,
    covering_note,
    plain,
    text,
)
from dialogs import text_safety
from dialogs.content import AnswerKind
from dialogs.messages import ALL_TRUE, SAVE, FieldSpec, InputSpec, Progress, ReviewView

FORM = "sc_form"
"""Data key of a form's Continue button: the ids of the fields on the card, in order."""
FIELD_CHOICES = "sc_fc_"
"""Prefix of a form field's choice input (then the field id)."""
FIELD_TEXT = "sc_ft_"
"""Prefix of a form field's text input (then the field id)."""
TICKS = "sc_ticks"
"""A confirmation list's multi-select: the ids of the statements ticked as true."""
CHANGE = "sc_change"
"""The review screen's 'which answer to change' select."""
REVIEW_NOTE_ID = "sc_review_note"

EXPANDED_UP_TO = 6
"""Up to this many choices show as radio buttons or checkboxes; more as a drop-down (compact)."""
MULTILINE_FROM = 200
"""A free-text answer allowed more characters than this gets a multi-line box."""
TEXT_PLACEHOLDERS = {
    AnswerKind.CASE_REFERENCE: "Case reference, for example CS-2024-0113 (no names)",
    AnswerKind.DATETIME: "'now', or a date such as 24/11/2026 14:30",
}


def progress_line(pack_title: str, progress: Progress) -> Element:
    """'Pack · Decide › Share › Review' with the current section in bold: where the check is, never a count."""
    small: dict[str, Any] = {"size": "Small"}
    inlines: list[Element] = [{"type": "TextRun", "text": f"{as_typed(pack_title)} · ", "isSubtle": True, **small}]
    for n, section in enumerate(progress.sections):
        if n:
            inlines.append({"type": "TextRun", "text": " › ", "isSubtle": True, **small})
        mark = {"weight": "Bolder"} if n == progress.current else {"isSubtle": True}
        inlines.append({"type": "TextRun", "text": as_typed(section), **mark, **small})
    return {"type": "RichTextBlock", "inlines": inlines}


# --- form -------------------------------------------------------------------------------------


def form_inputs(fields: tuple[FieldSpec, ...]) -> list[Element]:
    """One input per field, filled in with the earlier (or just refused) answer; a refused field's reason in red
    right under it. Required fields are also checked by the client before anything is sent."""
    body: list[Element] = []
    for n, spec in enumerate(fields):
        field = _choice_input(spec) if spec.choices else _text_input(spec)
        if n:
            field["spacing"] = "Large"
        body.append(field)
        if spec.help:
            body.append(text(spec.help, size="Small", isSubtle=True, spacing="None"))
        if spec.error:
            # errorMessage shows only when the client itself refuses: the service's reason needs its own line
            body.append({**plain(spec.error, color="Attention", weight="Bolder"), "spacing": "Small"})
    return body


def form_notice(notice: str, fields: tuple[FieldSpec, ...]) -> str:
    """The line above a refused form: which question, when the reason is one field's own (shown again under it)."""
    for spec in fields:
        if spec.error == notice:
            return f"{spec.label} {notice}" if spec.label.endswith("?") else f"{spec.label}: {notice}"
    return notice


def _label(spec: FieldSpec) -> str:
    return spec.label + (" (optional)" if spec.optional else "")


def _choice_input(spec: FieldSpec) -> Element:
    multiple = spec.kind is AnswerKind.MULTI_CHOICE
    field: Element = {
        "type": "Input.ChoiceSet",
        "id": FIELD_CHOICES + spec.id,
        "label": _label(spec),
        "choices": [{"title": c.label, "value": c.id} for c in spec.choices],
        "isMultiSelect": multiple,
        "style": "expanded" if len(spec.choices) <= EXPANDED_UP_TO else "compact",
        "wrap": True,
        "isRequired": not spec.optional,
        "errorMessage": spec.error or ("Choose at least one." if multiple else "Choose one."),
    }
    if spec.initial:
        field["value"] = ",".join(spec.initial)
    if field["style"] == "compact":
        field["placeholder"] = spec.placeholder or "Choose"
    return field


def _text_input(spec: FieldSpec) -> Element:
    field: Element = {
        "type": "Input.Text",
        "id": FIELD_TEXT + spec.id,
        "label": _label(spec),
        "maxLength": spec.max_length,
        "isMultiline": spec.kind is AnswerKind.FREE_TEXT and spec.max_length > MULTILINE_FROM,
        "isRequired": not spec.optional,
        "errorMessage": spec.error or "An answer is needed here.",
    }
    placeholder = spec.placeholder or TEXT_PLACEHOLDERS.get(spec.kind)
    if placeholder:
        field["placeholder"] = placeholder
    if spec.initial_text:
        field["value"] = spec.initial_text  # an input's value is never parsed as markup
    return field


def form_actions(style: ActionStyle, ids: dict[str, Any], fields: tuple[FieldSpec, ...]) -> list[Element]:
    """The form's one Continue button: its data names the check, step, revision and the fields on the card."""
    return [action(style, "Continue", "answer", {**ids, FORM: [f.id for f in fields]}, emphasis="positive")]


# --- confirmation list ------------------------------------------------------------------------


def confirm_list_input(spec: InputSpec) -> Element:
    """Every statement as a checkbox, ticked where it was ticked before; none ticked is an answer too."""
    field: Element = {
        "type": "Input.ChoiceSet",
        "id": TICKS,
        "label": "Tick each one that is true",
        "choices": [{"title": c.label, "value": c.id} for c in spec.choices],
        "isMultiSelect": True,
        "style": "expanded",
        "wrap": True,
    }
    if spec.initial:
        field["value"] = ",".join(spec.initial)
    return field


def confirm_list_actions(style: ActionStyle, ids: dict[str, Any], spec: InputSpec) -> list[Element]:
    """'All true' (primary, one click, ignores the ticks) and 'Confirm ticked' (sends the ticks)."""
    all_true = action(
        style, spec.all_label or "All true", "answer", {**ids, CHOICE: ALL_TRUE}, inputs=False, emphasis="positive"
    )
    return [all_true, action(style, "Confirm ticked", "answer", ids)]


# --- review -----------------------------------------------------------------------------------


def review_body(review: ReviewView) -> list[Element]:
    """The record as it will be saved, line by line (values as typed, never markdown), and the covering note."""
    body: list[Element] = [text(f"Decision to record: {review.decision_label}", weight="Bolder", spacing="Medium")]
    body.extend(_line(line.label, line.value) for line in review.lines)
    if review.covering_note:
        body.append(covering_note(review.covering_note, REVIEW_NOTE_ID, visible=True))
    return body


def _line(label: str, value: str) -> Element:
    # a record value holds what was typed, unmarked: the typed-text rule applies to all of it
    shown = text_safety.render(value, text_safety.plain, text_safety.plain)
    return {
        "type": "RichTextBlock",
        "spacing": "Small",
        "inlines": [
            {"type": "TextRun", "text": f"{as_typed(label)}: ", "weight": "Bolder"},
            {"type": "TextRun", "text": shown or " "},
        ],
    }


def review_actions(style: ActionStyle, ids: dict[str, Any], spec: InputSpec, review: ReviewView) -> list[Element]:
    """Save (primary), and 'Change an answer' opening a select of the answers with its own Change button."""
    title = next((c.label for c in spec.choices if c.id == SAVE), "Save")
    found = [action(style, title, "answer", {**ids, CHOICE: SAVE}, inputs=False, emphasis="positive")]
    if review.changes:
        pick: Element = {
            "type": "Input.ChoiceSet",
            "id": CHANGE,
            "label": "Which answer?",
            "choices": [{"title": c.label, "value": c.id} for c in review.changes],
            "style": "compact",
            "placeholder": "Choose an answer to change",
            "isRequired": True,
            "errorMessage": "Choose the answer to change.",
        }
        # inputs on a shown card go only with that card's own buttons: Save above never carries them
        sub: Card = {"type": "AdaptiveCard", "version": "1.5", "body": [pick]}
        sub["actions"] = [action(style, "Change", "answer", ids)]
        found.append({"type": "Action.ShowCard", "title": "Change an answer", "card": sub})
    return found
