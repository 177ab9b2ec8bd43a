"""Issue 17: a record cannot say two opposite things, whatever path a practitioner takes through any pack.

Seeded random walks (tests.support.flows.explore) take every edge of every pack; each completed check's record is
then read as a safeguarding lead would read it.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dialogs.content import available_packs, load_pack
from dialogs.engine import Engine
from dialogs.record import SHARE_ONLY_FIELDS, build_completion, build_snapshot
from dialogs.state import DialogState
from tests.support.flows import explore, walk

GATES = ("no_purpose", "no_basis", "respect_refusal")
"""Steps at which the guidance says 'do not share': the check may not go on to a share from them."""

T0 = datetime(2026, 11, 24, 10, tzinfo=UTC)


@pytest.fixture(scope="module", params=list(available_packs()))
def walks(request: pytest.FixtureRequest) -> tuple[Engine, list[DialogState]]:
    engine = Engine(load_pack(request.param))
    _, finished = explore(engine, T0, seed=17)
    return engine, finished


def test_a_decision_not_to_share_holds_no_details_of_a_share(walks: tuple[Engine, list[DialogState]]) -> None:
    engine, finished = walks
    not_shared = [build_snapshot(engine.pack, s) for s in finished]
    not_shared = [snap for snap in not_shared if snap.decision == "not_share"]
    assert not_shared, "the walks reached no 'do not share' record"
    for snap in not_shared:
        assert set(snap.fields) & SHARE_ONLY_FIELDS == set()
        assert snap.recipient is None
        assert not any(a.field in SHARE_ONLY_FIELDS for a in snap.answers)


def test_a_gate_that_says_do_not_share_never_ends_in_a_share(walks: tuple[Engine, list[DialogState]]) -> None:
    engine, finished = walks
    gated = [s for s in finished if any(g in s.path_answers() for g in GATES)]
    for state in gated:
        assert build_snapshot(engine.pack, state).decision != "share", state.history
    for gate in (g for g in GATES if engine.pack.has_step(g)):
        offered = {c.id for c in engine.pack.step(gate).effective_choices()}
        assert "share" not in offered


def test_hesitations_stay_in_the_record_but_out_of_the_case_notes(walks: tuple[Engine, list[DialogState]]) -> None:
    engine, finished = walks
    hesitant = [s for s in finished if "hesitation" in build_snapshot(engine.pack, s).fields]
    assert hesitant
    for state in hesitant[:20]:
        done = build_completion(engine.pack, state)
        labels = {line.label for line in done.lines}
        assert "What made them hesitate" not in labels
        assert "hesitate" not in done.case_notes


def test_case_notes_give_the_time_in_england_not_utc() -> None:
    engine = Engine(load_pack("children-england-2024"))
    summer, _ = walk(engine, datetime(2026, 7, 1, 13, 0, tzinfo=UTC))
    winter, _ = walk(engine, datetime(2026, 12, 1, 13, 0, tzinfo=UTC))
    summer_notes = build_completion(engine.pack, summer).case_notes
    winter_notes = build_completion(engine.pack, winter).case_notes
    assert "Date: 2026-07-01 14:" in summer_notes and "BST" in summer_notes
    assert "Date: 2026-12-01 13:" in winter_notes and "GMT" in winter_notes
    assert "UTC" not in summer_notes + winter_notes
