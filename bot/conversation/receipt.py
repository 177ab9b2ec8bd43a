"""The receipt page's side of the conversation: a recipient with no account answers a follow-up through a link.

The page (adapters/receipt/) handles HTTP (rate limits, the CSRF token, headers) and renders HTML; what the form
must hold, what each mistake is called, and what an answer leads to are decided here, once, like every other
channel's answers in ``handler.py``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator

from bot.conversation.wording import ReceiptFormText, conversation_content
from bot.followups.models import NoteRequired
from bot.runtime import Runtime
from bot.services.receipts import NAME_MAX, NOTE_MAX, ORGANISATION_MAX, ReceiptView
from dialogs.personal_data import PersonalDataFound

CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
"""Characters no keyboard types (tab and line breaks aside); a NUL could not even be stored."""


class ReceiptForm(BaseModel):
    """What the page's form posts, each field trimmed; anything else a client adds is ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str = ""
    organisation: str = ""
    answer: str = ""
    next_step: str = ""
    unclear: str = ""

    @field_validator("*", mode="before")
    @classmethod
    def _trimmed(cls, value: object) -> str:
        return value.strip() if isinstance(value, str) else ""

    @property
    def note(self) -> str | None:
        """The note that goes with the answer: what is unclear, or the next step once understood."""
        return {"clarification": self.unclear, "understood": self.next_step}.get(self.answer)

    @property
    def note_field(self) -> str:
        return "unclear" if self.answer == "clarification" else "next_step"


@dataclass(frozen=True)
class ReceiptPage:
    """What the page shows now: the open form (with what was wrong and what was typed), the recorded answer, or
    that the link is not valid (unknown, expired and revoked are never told apart)."""

    page: Literal["open", "answered", "gone"]
    view: ReceiptView | None = None
    errors: Mapping[str, str] = field(default_factory=dict)
    form: Mapping[str, str] = field(default_factory=dict)
    just_sent: bool = False
    """This request recorded the answer (False on a later visit)."""


class ReceiptDesk:
    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self.text: ReceiptFormText = conversation_content().receipt_form

    @property
    def choices(self) -> tuple[str, ...]:
        return tuple(c.id for c in self._runtime.followups.content.receipt.choices)

    async def open(self, token: str) -> ReceiptPage:
        view = await self._runtime.receipts.view(token)
        return self._page_of(view)

    async def answer(self, token: str, form: ReceiptForm) -> ReceiptPage:
        view = await self._runtime.receipts.view(token)
        if view is None or view.state == "answered":
            return self._page_of(view)
        typed = form.model_dump()
        errors = self.refusals(form)
        if errors:
            return ReceiptPage("open", view, errors, typed)
        try:
            outcome, after = await self._runtime.receipts.answer(
                token, form.answer, form.note, form.name, form.organisation
            )
        except NoteRequired:  # refusals() asks for it first; kept so a change there cannot lose an answer
            return ReceiptPage("open", view, {"unclear": self.text.unclear_missing}, typed)
        except PersonalDataFound as exc:  # identifiers typed: refused, field by field, with what they typed kept
            errors = {form.note_field if f == "note" else f: str(exc) for f in exc.fields}
            return ReceiptPage("open", view, errors, typed)
        if after is None:
            return ReceiptPage("gone")
        return ReceiptPage("answered", after, just_sent=outcome == "recorded")

    def refusals(self, form: ReceiptForm) -> dict[str, str]:
        """What is wrong with the form, in the page's order, each worded as what to do."""
        t = self.text
        errors: dict[str, str] = {}
        for key, value, missing, longest, too_long in (
            ("name", form.name, t.name_missing, NAME_MAX, t.name_too_long),
            ("organisation", form.organisation, t.organisation_missing, ORGANISATION_MAX, t.organisation_too_long),
        ):
            if CONTROL.search(value):
                errors[key] = t.control_characters
            elif not value:
                errors[key] = missing
            elif len(value) > longest:
                errors[key] = too_long.format(max=longest)
        if form.answer not in self.choices:
            errors["answer"] = t.answer_missing
        elif form.answer == "clarification" and not form.unclear:
            errors["unclear"] = t.unclear_missing
        for key in ("next_step", "unclear"):
            value = getattr(form, key)
            if CONTROL.search(value):
                errors[key] = t.control_characters
            elif len(value) > NOTE_MAX:
                errors[key] = t.note_too_long.format(max=NOTE_MAX)
        return errors

    @staticmethod
    def _page_of(view: ReceiptView | None) -> ReceiptPage:
        if view is None:
            return ReceiptPage("gone")
        return ReceiptPage("answered" if view.state == "answered" else "open", view)
