"""Every content pack: it loads, every branch can be taken, every path ends in a recorded decision."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from dialogs.content import DECISIONS, PACKS_DIR, PackError, Step, available_packs, load_pack, load_pack_file
from dialogs.engine import Engine
from dialogs.record import build_snapshot
from tests.support.flows import all_edges, explore
from tests.support.settings import T0

PACKS = list(available_packs())


def test_the_three_packs_ship() -> None:
    assert {"children-england-2024", "children-england-2018", "adults-england"} <= set(PACKS)


@pytest.mark.parametrize("pack_id", PACKS)
def test_pack_declares_version_sources_and_rules(pack_id: str) -> None:
    pack = load_pack(pack_id)
    assert pack.version.count(".") == 2
    assert pack.sources and all(s.authority.label for s in pack.sources)
    assert len(pack.principles) >= 7
    assert len(pack.golden_rules) >= 6

    # every step that asks something cites where it comes from, or is covered by a cited rule; a form asks through
    # its fields, so it is covered when each of them is
    def covered(step: Step) -> bool:
        return bool(step.cite or step.guidance or step.principles or step.rules)

    for step in pack.steps:
        assert covered(step) or (step.fields and all(covered(f) for f in step.fields)), step.id


@pytest.mark.parametrize("pack_id", PACKS)
def test_every_branch_is_taken_and_every_path_records_a_decision(pack_id: str) -> None:
    engine = Engine(load_pack(pack_id))
    covered, finished = explore(engine, T0)
    assert covered == all_edges(engine.pack)
    for state in finished:
        snap = build_snapshot(engine.pack, state)
        assert snap.decision in DECISIONS
        assert snap.reasons, "every completed path records reasons"
        assert snap.case_reference


def _write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / f"{data.get('id', 'broken-pack')}.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


@pytest.fixture
def raw_pack() -> dict:
    return yaml.safe_load((PACKS_DIR / "children-england-2024.yaml").read_text(encoding="utf-8"))


def _step(raw: dict, step_id: str) -> dict:
    return next(s for s in raw["steps"] if s["id"] == step_id)


def _field(raw: dict, form_id: str, field_id: str) -> dict:
    return next(f for f in _step(raw, form_id)["fields"] if f["id"] == field_id)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda r: _step(r, "decision")["choices"][0].update(goto="nowhere"), "unknown step 'nowhere'"),
        (lambda r: _step(r, "decision").update(cite=[{"source": "made_up"}]), "unknown source 'made_up'"),
        (lambda r: r["steps"].append(dict(_step(r, "decision"))), "duplicate step ids"),
        (lambda r: r["steps"].append({**_step(r, "what"), "id": "purpose"}), "duplicate step ids"),  # a form's field
        (
            lambda r: _step(r, "decision")["choices"].append(dict(_step(r, "decision")["choices"][0])),
            "duplicate choice",
        ),
        (lambda r: _step(r, "decision")["choices"][0].update(label="x" * 80), "at most 75"),
        (lambda r: r["principles"].append({**r["principles"][0], "id": "orphan"}), "no step checks: \\['orphan'\\]"),
        (lambda r: _step(r, "what").update(field="favourite_colour"), "unknown record field"),
        (lambda r: _field(r, "not_sharing", "why_not").update(field="favourite_colour"), "unknown record field"),
        (lambda r: r.update(version="one"), "version"),
        (lambda r: _step(r, "what").pop("next"), "no way on"),
        (
            lambda r: r.update(outcomes=[o for o in r["outcomes"] if o.get("when") or o["decision"] != "share"]),
            "outcomes without a default",
        ),
        (lambda r: _step(r, "decision")["choices"].append({"id": "maybe", "label": "Maybe"}), "decision step"),
        (
            lambda r: _field(r, "how", "method")["choices"][0].update(
                when=[{"step": "purpose", "any_of": ["pirates"]}]
            ),
            "unknown choices \\['pirates'\\]",
        ),
        (lambda r: r["covering_note"]["lines"].append({"text": "{favourite_colour}"}), "unknown fields"),
        (
            lambda r: r["covering_note"]["lines"].append({"text": "x", "when": [{"step": "nope", "any_of": ["a"]}]}),
            "tests unknown step 'nope'",
        ),
        (lambda r: _field(r, "gates", "hesitation")["choices"][1].update(myth="no_such_myth"), "unknown myth"),
    ],
)
def test_broken_packs_are_refused_clearly(tmp_path: Path, raw_pack: dict, mutate, message: str) -> None:
    mutate(raw_pack)
    with pytest.raises(PackError, match=message):
        load_pack_file(_write(tmp_path, raw_pack))


def test_unreadable_yaml(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("id: [unclosed", encoding="utf-8")
    with pytest.raises(PackError, match="cannot read it"):
        load_pack_file(path)


def test_unknown_pack_lists_the_available_ones() -> None:
    with pytest.raises(PackError, match=r"available: .*children-england-2024"):
        load_pack("no-such-pack")


def test_pack_id_must_match_its_file(tmp_path: Path, raw_pack: dict) -> None:
    _write(tmp_path, raw_pack)
    (tmp_path / "children-england-2024.yaml").rename(tmp_path / "renamed-pack.yaml")
    with pytest.raises(PackError, match="declares id"):
        load_pack("renamed-pack", tmp_path)
