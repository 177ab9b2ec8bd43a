"""The personal data guard: likely identifiers in typed text are warned about, confirmed, and recorded."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.checks.models import Actor, Outcome, Reply
from bot.db.models import Check, CheckEvent
from bot.runtime import Runtime
from dialogs.messages import Prompt
from dialogs.personal_data import find_identifiers, valid_nhs_number
from dialogs.state import Answer
from tests.support.conversation import answer_to
from tests.support.flows import AnswerSpec, answer_at

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


async def at_why_not(runtime: Runtime) -> Reply:
    """A check at the 'not sharing' form (no clear purpose, so not sharing), whose 'why not' is typed."""
    reply = await runtime.checks.start(ALICE)
    engine = runtime.packs.engine()
    script: dict[str, AnswerSpec] = {
        "immediate_danger": "no",
        "request_context": "own_initiative",
        "purpose": "no",
        "case_reference": "CS-1",
        "no_purpose": "not_share",
    }
    while isinstance(reply.message, Prompt) and reply.message.step_id != "not_sharing":
        async with runtime.sessions() as s:
            row = await s.get(Check, reply.check_id)
            assert row is not None
            state = engine.load(row.state)
        reply = await runtime.checks.answer(ALICE, reply.check_id, answer_at(engine.pack, state, script))
        assert reply.outcome is Outcome.ADVANCED, reply.error
    assert isinstance(reply.message, Prompt) and reply.message.step_id == "not_sharing"
    return reply


def why_not(reply: Reply, text: str, confirm: bool = False) -> Answer:
    """The 'not sharing' form answered as shown, with ``text`` typed as the reason."""
    assert isinstance(reply.message, Prompt)
    answer = answer_to(reply.message, fields={"why_not": text})
    return answer.model_copy(update={"confirm_personal_data": confirm})


async def test_warning_then_confirmation_is_recorded_without_the_text(runtime: Runtime) -> None:
    reply = await at_why_not(runtime)
    text = "Mother's new address is B12 9QD and nothing else is known."
    warned = await runtime.checks.answer(ALICE, reply.check_id, why_not(reply, text))
    assert warned.outcome is Outcome.REFUSED
    assert isinstance(warned.message, Prompt) and warned.message.personal_data_warning
    assert warned.message.notice and "use the case reference, not personal details" in warned.message.notice.lower()
    # the form comes back with the text as typed, the warning next to it
    [field] = [f for f in warned.message.input.fields if f.id == "why_not"]
    assert field.initial_text == text and field.error == warned.message.notice
    kept = await runtime.checks.answer(ALICE, reply.check_id, why_not(reply, text, confirm=True))
    assert kept.outcome is Outcome.ADVANCED
    async with runtime.sessions() as s:
        events = list(
            await s.scalars(select(CheckEvent).where(CheckEvent.check_id == reply.check_id).order_by(CheckEvent.seq))
        )
    warning = next(e for e in events if e.kind == "personal_data_warning")
    assert warning.data == {"step": "not_sharing", "kinds": ["postcode"]}
    answered = next(e for e in events if e.kind == "answered" and e.data["step"] == "not_sharing")
    assert answered.data["fields"]["why_not"]["personal_data"] == ["postcode"]


async def test_editing_after_the_warning_needs_no_confirmation(runtime: Runtime) -> None:
    reply = await at_why_not(runtime)
    warned = await runtime.checks.answer(ALICE, reply.check_id, why_not(reply, "call 07700 900123 for detail"))
    assert warned.outcome is Outcome.REFUSED
    edited = await runtime.checks.answer(ALICE, reply.check_id, why_not(reply, "No legitimate purpose was given."))
    assert edited.outcome is Outcome.ADVANCED
