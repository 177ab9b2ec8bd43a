"""The personal data guard: likely identifiers in typed text are warned about, confirmed, and recorded."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.checks.models import Actor, Outcome
from bot.db.models import CheckEvent
from bot.runtime import Runtime
from dialogs.personal_data import find_identifiers, valid_nhs_number
from dialogs.state import Answer
from tests.support.flows import answer_for

ALICE = Actor("slack", "T1", "UA")


@pytest.mark.parametrize(
    ("text", "kinds"),
    [
        ("NHS no 943 476 5919 on file", ["nhs_number"]),
        ("9434765919", ["nhs_number"]),
        ("lives at B12 9QD with dad", ["postcode"]),
        ("moved to sw1a 1aa", ["postcode"]),
        ("DOB 12/03/2015", ["date_of_birth"]),
        ("born on 3rd March 2015", ["date_of_birth"]),
        ("mum's mobile 07700 900123", ["phone"]),
        ("ring +44 20 7946 0018", ["phone"]),
        ("email j.bloggs@example.org", ["email"]),
        ("NI number AB 12 34 56 C", ["ni_number"]),
        ("case CS-2024-0113, seen 12/03/2025 at 10:00", []),
        ("943 476 5910 is not a valid NHS number", []),
        ("Unexplained weight loss; the health visitor needs the summary.", []),
    ],
)
def test_identifiers_are_spotted(text: str, kinds: list[str]) -> None:
    assert [f.kind for f in find_identifiers(text)] == kinds


def test_nhs_check_digit() -> None:
    assert valid_nhs_number("9434765919")
    assert not valid_nhs_number("9434765918")
    assert not valid_nhs_number("123")


async def at_reasons(runtime: Runtime):
    reply = await runtime.checks.start(ALICE)
    engine = runtime.packs.engine()
    script = {
        "case_reference": "CS-1",
        "immediate_danger": "no",
        "request_context": "own_initiative",
        "purpose": "no",
        "no_purpose": "not_share",
    }
    while reply.message.step_id != "reasons":
        step = engine.pack.step(reply.message.step_id)
        from bot.db.models import Check

        async with runtime.sessions() as s:
            state = engine.load((await s.get(Check, reply.check_id)).state)
        reply = await runtime.checks.answer(ALICE, reply.check_id, answer_for(step, state, script[step.id]))
    return reply


async def test_warning_then_confirmation_is_recorded_without_the_text(runtime: Runtime) -> None:
    reply = await at_reasons(runtime)
    text = "Mother's new address is B12 9QD and nothing else is known."
    warned = await runtime.checks.answer(
        ALICE, reply.check_id, Answer(step_id="reasons", revision=reply.message.revision, text=text)
    )
    assert warned.outcome is Outcome.REFUSED
    assert warned.message.personal_data_warning
    assert "use the case reference, not personal details" in warned.message.notice.lower()
    kept = await runtime.checks.answer(
        ALICE,
        reply.check_id,
        Answer(step_id="reasons", revision=reply.message.revision, text=text, confirm_personal_data=True),
    )
    assert kept.outcome is Outcome.ADVANCED
    async with runtime.sessions() as s:
        events = list(
            await s.scalars(select(CheckEvent).where(CheckEvent.check_id == reply.check_id).order_by(CheckEvent.seq))
        )
    warning = next(e for e in events if e.kind == "personal_data_warning")
    assert warning.data == {"step": "reasons", "kinds": ["postcode"]}
    answered = next(e for e in events if e.kind == "answered" and e.data["step"] == "reasons")
    assert answered.data["personal_data"] == ["postcode"]


async def test_editing_after_the_warning_needs_no_confirmation(runtime: Runtime) -> None:
    reply = await at_reasons(runtime)
    await runtime.checks.answer(
        ALICE,
        reply.check_id,
        Answer(step_id="reasons", revision=reply.message.revision, text="call 07700 900123 for detail"),
    )
    edited = await runtime.checks.answer(
        ALICE,
        reply.check_id,
        Answer(step_id="reasons", revision=reply.message.revision, text="No legitimate purpose was given."),
    )
    assert edited.outcome is Outcome.ADVANCED
