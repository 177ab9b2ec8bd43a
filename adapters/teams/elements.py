"""The building blocks every ShareCheck card is made of: text (ours or typed), buttons, copyable blocks.

Pure functions returning Adaptive Card 1.5 element dicts. Text a practitioner typed goes into a ``TextRun`` (never
parsed as markdown) or an input's value; our own (content pack) wording may use the TextBlock markdown subset.
"""

from __future__ import annotations

from typing import Any, Literal

from dialogs import text_safety

Card = dict[str, Any]
Element = dict[str, Any]
ActionStyle = Literal["execute", "submit"]
"""Action.Execute (invoke, card replaced from the response) or Action.Submit (message with ``value``)."""

VERB = "sc_verb"
"""The data key naming what a button does (adapters/teams/parse.py reads it back)."""
CHOICE = "sc_choice"
"""A button's own answer, or a single step's choice input."""


def as_typed(text: str) -> str:
    """Typed text for a TextRun or an attribute: shown as typed, minus what could make it read differently."""
    return text_safety.render(text, text_safety.plain)


def plain(text: str, **style: Any) -> Element:
    """A paragraph shown exactly as typed: TextRuns are never parsed as markdown."""
    return {"type": "RichTextBlock", "inlines": [{"type": "TextRun", "text": as_typed(text), **style}]}


def text(value: str, **props: Any) -> Element:
    """A TextBlock for our own (content pack) wording, which may use the markdown subset on purpose; any
    typed part is escaped (dialogs/text_safety.py)."""
    return {"type": "TextBlock", "text": text_safety.render(value, text_safety.markdown), "wrap": True, **props}


def action(
    style: ActionStyle, title: str, verb: str, data: dict[str, Any], *, inputs: bool = True, emphasis: str | None = None
) -> Element:
    """One button. ``inputs=False`` for Back/Cancel/Urgent: they must not be blocked by required inputs."""
    payload = {VERB: verb, **data}
    act: Element = (
        {"type": "Action.Execute", "title": title, "verb": verb, "data": payload}
        if style == "execute"
        else {"type": "Action.Submit", "title": title, "data": payload}
    )
    if not inputs:
        act["associatedInputs"] = "none"
    if emphasis:
        act["style"] = emphasis
    return act


def copyable(value: str, element_id: str, heading: str, *, visible: bool = False) -> Element:
    """Text to copy as it is: monospaced, selectable, not an editable box.

    One TextRun per line: a TextRun is never parsed as markdown (the notes quote what was typed), and a block
    per line keeps the line breaks on every client. Hidden until its toggle is pressed, unless ``visible``.
    """
    lines = [
        {
            "type": "RichTextBlock",
            "spacing": "None",
            "inlines": [{"type": "TextRun", "text": line or " ", "fontType": "Monospace", "size": "Small"}],
        }
        for line in value.splitlines() or [""]
    ]
    return {
        "type": "Container",
        "id": element_id,
        "isVisible": visible,
        "style": "emphasis",
        "spacing": "Small",
        "items": [text(heading, weight="Bolder", size="Small"), *lines],
    }


def covering_note(note: str, element_id: str, *, visible: bool = False) -> Element:
    """The covering note for the recipient, to copy: its first line is its heading when it has more than one."""
    title, _, rest = note.partition("\n")
    heading = title if rest else "Covering note for the recipient"
    return copyable(rest or title, element_id, heading, visible=visible)


def toggle(title: str, element_id: str) -> Element:
    return {"type": "Action.ToggleVisibility", "title": title, "targetElements": [element_id]}
