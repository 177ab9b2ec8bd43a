"""Issue 17: the organisation profile. The lawful basis its data protection officer set is offered first and recorded
as its default; the local emergency contacts come first on the immediate-danger path, on every surface."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from adapters import console
from adapters.slack import render as slack_render
from adapters.teams.cards import render_prompt
from bot.settings import Settings
from dialogs.content import load_pack
from dialogs.engine import Engine
from dialogs.messages import Prompt
from dialogs.profile import DEFAULT_CONTACTS, EmergencyContact, OrganisationKind, OrganisationProfile
from dialogs.record import build_snapshot
from tests.support.adaptive_cards import assert_valid
from tests.support.flows import walk
from tests.support.slack_blocks import round_trip

T0 = datetime(2026, 12, 4, 15, tzinfo=UTC)
PACKS = ("children-england-2024", "children-england-2018", "adults-england")
CONTACTS = (
    EmergencyContact(label="Northshire MASH (front door)", contact="0300 123 4567"),
    EmergencyContact(label="Out of hours <emergency> *team*", contact="0300 765 4321"),
    EmergencyContact(label="Police", contact="999"),
)


def at_step(engine: Engine, step_id: str, script: dict[str, str]) -> Prompt:
    from tests.support.flows import scripted_answer

    turn = engine.start(T0)
    while turn.state.step != step_id:
        assert isinstance(turn.message, Prompt)
        step = engine.pack.step(turn.message.step_id)
        turn = engine.answer(turn.state, scripted_answer(step, turn.state, script), T0)
    assert isinstance(turn.message, Prompt)
    return turn.message


def basis_step(engine: Engine) -> str:
    """The step that asks the lawful basis: its own step, or the form that holds it as a field."""
    return next(
        s.id for s in engine.pack.steps if s.id == "lawful_basis" or any(f.id == "lawful_basis" for f in s.fields)
    )


@pytest.mark.parametrize("pack_id", PACKS)
@pytest.mark.parametrize(
    ("kind", "basis"),
    [(OrganisationKind.PUBLIC_BODY, "public_task"), (OrganisationKind.VOLUNTARY, "recognised_legitimate_interest")],
)
def test_the_organisations_basis_is_offered_first_and_recorded_as_its_default(
    pack_id: str, kind: OrganisationKind, basis: str
) -> None:
    engine = Engine(load_pack(pack_id), profile=OrganisationProfile(kind=kind))
    prompt = at_step(engine, basis_step(engine), {"immediate_danger": "no"})
    offered = {c.id for c in engine.pack.step("lawful_basis").choices}
    if prompt.step_id == "lawful_basis":
        first = prompt.input.choices[0]
        assert first.id == basis and first.style == "primary"
        assert first.label.startswith("Use my organisation's basis: ")
        assert prompt.help is not None and "Choose another only if" in prompt.help
        assert {c.id for c in prompt.input.choices} == offered
    else:  # a field of a form: the organisation's basis preselected and marked
        spec = next(f for f in prompt.input.fields if f.id == "lawful_basis")
        assert spec.initial == (basis,)
        assert next(c for c in spec.choices if c.id == basis).label.endswith("(my organisation's)")
        assert spec.help is not None and "Change it only if" in spec.help
        assert {c.id for c in spec.choices} == offered

    state, _ = walk(engine, T0, {"immediate_danger": "no", "lawful_basis": basis, "decision": "share"})
    assert build_snapshot(engine.pack, state).fields["lawful_basis"].endswith("(the organisation's default)")
    other = "legal_obligation"
    state, _ = walk(engine, T0, {"immediate_danger": "no", "lawful_basis": other, "decision": "share"})
    assert build_snapshot(engine.pack, state).fields["lawful_basis"] == "Legal obligation"


def test_without_a_profile_the_check_asks_as_before() -> None:
    pack = load_pack("children-england-2024")
    engine = Engine(pack)
    prompt = at_step(engine, basis_step(engine), {"immediate_danger": "no", "decision": "share"})
    spec = next(f for f in prompt.input.fields if f.id == "lawful_basis")
    assert [c.id for c in spec.choices] == [c.id for c in pack.step("lawful_basis").choices]
    assert spec.initial == () and not any("my organisation" in c.label for c in spec.choices)
    assert spec.help == pack.step("lawful_basis").help
    state, _ = walk(engine, T0, {"immediate_danger": "no", "decision": "share", "lawful_basis": "public_task"})
    assert build_snapshot(pack, state).fields["lawful_basis"] == "Public task"


@pytest.mark.parametrize("pack_id", PACKS)
def test_the_emergency_contacts_are_the_first_thing_after_yes_on_every_surface(pack_id: str) -> None:
    engine = Engine(load_pack(pack_id), profile=OrganisationProfile(contacts=CONTACTS))
    first = at_step(engine, engine.pack.urgent_step, {"immediate_danger": "yes"})
    assert first.contacts == CONTACTS
    first = first.model_copy(update={"check_id": str(uuid.UUID(int=7))})  # as a stored check shows it
    # only there: not on the steps before or after it
    assert engine.start(T0).message.contacts == ()  # type: ignore[union-attr]

    slack = json.dumps(round_trip(slack_render.prompt_blocks(first)))
    assert slack.index("Call now") < slack.index(first.question[:30].replace('"', '\\"'))
    assert "0300 123 4567" in slack and "&lt;emergency&gt;" in slack

    card = render_prompt(first, "execute")
    assert_valid(card)
    texts = json.dumps(card)
    assert texts.index("Call now") < texts.index("0300 123 4567") < texts.index(first.title)

    screen = console.render_prompt(first)
    assert screen.index("CALL NOW") < screen.index("0300 123 4567") < screen.index(first.title.upper())


def test_settings_build_the_profile_and_always_keep_someone_to_call(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHARECHECK_ORGANISATION_KIND", "independent_school")
    monkeypatch.setenv(
        "SHARECHECK_EMERGENCY_CONTACTS", json.dumps([{"label": "Front door", "contact": "0300 000 0000"}])
    )
    profile = Settings(_env_file=None).organisation_profile  # type: ignore[call-arg]
    assert profile.default_basis == "recognised_legitimate_interest"
    assert profile.contacts == (EmergencyContact(label="Front door", contact="0300 000 0000"),)

    monkeypatch.setenv("SHARECHECK_EMERGENCY_CONTACTS", "[]")
    monkeypatch.setenv("SHARECHECK_ORGANISATION_KIND", "")
    profile = Settings(_env_file=None).organisation_profile  # type: ignore[call-arg]
    assert profile.kind is None and profile.contacts == DEFAULT_CONTACTS

    monkeypatch.setenv("SHARECHECK_ORGANISATION_KIND", "charity")
    with pytest.raises(ValidationError, match="sharecheck_organisation_kind"):
        Settings(_env_file=None)  # type: ignore[call-arg]
