"""Form details: dates read and shown in local time; a refused form keeps what was typed, whatever the refusal."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from dialogs.content import Pack, load_pack_file
from dialogs.engine import Engine, InvalidForm, PersonalDataWarning, local_when, parse_when
from dialogs.messages import Prompt
from dialogs.state import Answer, FieldAnswer

DEMO = Path(__file__).parent.parent / "data" / "packs" / "steps-demo.yaml"
SUMMER = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
LONDON = ZoneInfo("Europe/London")


def _pack_with_dated_form() -> Pack:
    """The demo pack with a form that asks when they asked (a date) and who asked (typed)."""
    raw: dict[str, Any] = yaml.safe_load(DEMO.read_text(encoding="utf-8"))
    why_not = next(s for s in raw["steps"] if s["id"] == "why_not")
    why_not["next"] = "who_asked"
    raw["steps"].append(
        {
            "id": "who_asked",
            "kind": "form",
            "section": "record",
            "title": "Who asked",
            "question": "Who asked you for it, and when?",
            "fields": [
                {
                    "id": "requester",
                    "kind": "free_text",
                    "title": "Who",
                    "question": "Their role",
                    "field": "requester",
                },
                {"id": "asked_at", "kind": "datetime", "title": "When", "question": "When", "field": "requested_at"},
            ],
            "next": "END",
        }
    )
    return Pack.model_validate(raw)


def test_a_typed_time_is_local_time_and_shown_back_as_typed() -> None:
    # 14:30 typed in British Summer Time is 13:30 UTC
    assert parse_when("2026-07-01 14:30", SUMMER, LONDON) == datetime(2026, 7, 1, 13, 30, tzinfo=UTC)
    assert local_when("2026-07-01T13:30+00:00", LONDON) == "2026-07-01 14:30"
    assert parse_when(local_when("2026-07-01T13:30+00:00", LONDON), SUMMER, LONDON).hour == 13


def _at_who_asked(engine: Engine) -> Any:
    turn = engine.start(SUMMER)
    for answer in (
        Answer(
            step_id="start",
            fields={
                "immediate_danger": FieldAnswer(choices=("no",)),
                "request_context": FieldAnswer(choices=("asked",)),
            },
        ),
        Answer(
            step_id="gates",
            fields={"purpose": FieldAnswer(choices=("no",)), "risk_of_harm": FieldAnswer(choices=("no",))},
        ),
        Answer(step_id="no_purpose", choices=("not_share",)),
        Answer(step_id="why_not", text="No safeguarding purpose: a general enquiry."),
    ):
        turn = engine.answer(turn.state, answer, SUMMER)
    assert isinstance(turn.message, Prompt) and turn.message.step_id == "who_asked"
    return turn


def test_each_refused_field_has_its_message_and_the_others_keep_what_was_typed() -> None:
    engine = Engine(_pack_with_dated_form())
    turn = _at_who_asked(engine)
    sent = {"requester": FieldAnswer(text="Housing officer, Northshire Council"), "asked_at": FieldAnswer(text="soon")}
    with pytest.raises(InvalidForm) as refused:
        engine.answer(turn.state, Answer(step_id="who_asked", fields=sent), SUMMER)
    shown = engine.refused(turn.state, refused.value)
    assert isinstance(shown, Prompt)
    fields = {f.id: f for f in shown.input.fields}
    assert fields["asked_at"].error and "date" in fields["asked_at"].error
    assert fields["requester"].error is None
    assert fields["requester"].initial_text == "Housing officer, Northshire Council"
    assert fields["asked_at"].initial_text == "soon"


def test_personal_details_in_a_form_keep_the_form_as_typed() -> None:
    engine = Engine(_pack_with_dated_form())
    turn = _at_who_asked(engine)
    sent = {"requester": FieldAnswer(text="call 07700 900123"), "asked_at": FieldAnswer(text="2026-07-01 09:15")}
    with pytest.raises(PersonalDataWarning) as warned:
        engine.answer(turn.state, Answer(step_id="who_asked", fields=sent), SUMMER)
    shown = engine.refused(turn.state, warned.value, personal_data_warning=True)
    assert isinstance(shown, Prompt) and shown.personal_data_warning
    fields = {f.id: f for f in shown.input.fields}
    assert fields["requester"].error and fields["asked_at"].error is None
    assert fields["asked_at"].initial_text == "2026-07-01 09:15"
    kept = engine.answer(turn.state, Answer(step_id="who_asked", fields=sent, confirm_personal_data=True), SUMMER)
    assert kept.state.answers["asked_at"].text == "2026-07-01T08:15+00:00"  # 09:15 BST
    # shown again (back from the review screen), the date reads as it was typed
    again = engine.answer(kept.state, Answer(step_id="review", choices=("change:who_asked",)), SUMMER)
    assert isinstance(again.message, Prompt)
    assert {f.id: f.initial_text for f in again.message.input.fields}["asked_at"] == "2026-07-01 09:15"


def test_the_demo_pack_loads() -> None:
    assert load_pack_file(DEMO).review


def test_a_gate_that_decides_hides_the_share_section() -> None:
    engine = Engine(load_pack_file(DEMO))
    turn = _at_who_asked(Engine(_pack_with_dated_form()))
    assert isinstance(turn.message, Prompt)
    assert turn.message.progress.sections == ("Decide", "Record", "Review")
    start = engine.start(SUMMER).message
    assert isinstance(start, Prompt) and start.progress.sections == ("Decide", "Share", "Review")
