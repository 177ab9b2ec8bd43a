"""Issue 17, checks in flight: a check started under an earlier version of a pack finishes under that version's
flow, and its record says which version it was (the earlier versions are kept in dialogs/packs/archive/)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import update

from bot.checks.models import Actor, Outcome
from bot.db.models import Check
from bot.packs import PackRegistry
from bot.runtime import Runtime
from dialogs.content import PACKS_DIR, PackError, available_packs, load_archived_pack, load_pack
from dialogs.engine import Engine
from dialogs.messages import Completion, Prompt
from dialogs.state import Answer, DialogState
from tests.support.flows import answer_for, default_answer

ALICE = Actor("slack", "T0001", "U0ALICE")
T0 = datetime(2026, 11, 24, 10, tzinfo=UTC)


def old_state_at_the_old_notice() -> DialogState:
    """A check started under 1.1.0 of the default pack, waiting at its 'no clear purpose' notice."""
    old = load_archived_pack("children-england-2024", "1.1.0")
    assert old is not None and old.step("no_purpose").kind.value == "notice"
    engine = Engine(old)
    turn = engine.start(T0)
    script = {"immediate_danger": "no", "request_context": "asked", "purpose": "no"}
    while turn.state.step != "no_purpose":
        step = old.step(turn.state.step or "")
        answer = (
            answer_for(step, turn.state, script[step.id]) if step.id in script else default_answer(step, turn.state)
        )
        turn = engine.answer(turn.state, answer, T0)
    return turn.state


@pytest.mark.parametrize("pack_id", list(available_packs()))
def test_every_pack_keeps_its_earlier_version(pack_id: str) -> None:
    current = load_pack(pack_id)
    archived = load_archived_pack(pack_id, "1.1.0")
    assert archived is not None and archived.id == pack_id and archived.version != current.version
    assert load_archived_pack(pack_id, "0.0.1") is None
    assert load_archived_pack("../" + pack_id, "1.1.0") is None


def test_an_archived_file_must_be_the_version_it_is_named(tmp_path: Path) -> None:
    (tmp_path / "archive").mkdir()
    text = (PACKS_DIR / "children-england-2024.yaml").read_text(encoding="utf-8")
    (tmp_path / "archive" / "children-england-2024@1.0.0.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(PackError, match="declares"):
        load_archived_pack("children-england-2024", "1.0.0", tmp_path)


def test_the_registry_serves_the_version_a_check_started_with() -> None:
    packs = PackRegistry("children-england-2024")
    current = packs.engine()
    assert packs.engine("children-england-2024", current.pack.version) is current
    assert packs.engine("children-england-2024", "1.1.0").pack.version == "1.1.0"
    assert packs.engine("children-england-2024", "9.9.9") is current  # not kept: the current flow, if it fits


async def test_a_check_in_flight_finishes_under_its_own_version(runtime: Runtime) -> None:
    started = await runtime.checks.start(ALICE)
    state = old_state_at_the_old_notice()
    async with runtime.sessions.begin() as session:
        await session.execute(
            update(Check)
            .where(Check.id == started.check_id)
            .values(pack_version="1.1.0", state=state.model_dump(mode="json"), revision=state.revision)
        )
    resumed = await runtime.checks.resume(ALICE)
    assert resumed is not None and isinstance(resumed.message, Prompt)
    assert resumed.message.step_id == "no_purpose"
    assert [c.id for c in resumed.message.input.choices] == ["continue"], "the 1.1.0 notice, as it was started"

    old = runtime.packs.engine("children-england-2024", "1.1.0")
    reply = resumed
    script = {"no_purpose": "continue", "decision": "not_share", "requester_told": "told"}
    while isinstance(reply.message, Prompt):
        step = old.pack.step(reply.message.step_id)
        spec = script.get(step.id, "The request named no purpose we could act on.")
        by_kind = {"choices": (spec,)} if step.effective_choices() else {"text": spec}
        answer = Answer(step_id=step.id, revision=reply.message.revision, **by_kind)
        reply = await runtime.checks.answer(ALICE, reply.check_id, answer)
        assert reply.outcome is Outcome.ADVANCED, reply.error
    assert isinstance(reply.message, Completion)
    snapshot = await runtime.checks.snapshot(ALICE, reply.check_id)
    assert snapshot is not None
    assert (snapshot.pack_version, snapshot.decision) == ("1.1.0", "not_share")
