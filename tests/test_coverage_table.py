"""The README's coverage tables are generated from the packs and every rule maps to at least one step."""

from __future__ import annotations

from pathlib import Path

import pytest

from dialogs.content import available_packs, load_pack
from dialogs.coverage import coverage, section

README = Path(__file__).parent.parent / "README.md"


def test_readme_table_matches_the_packs() -> None:
    assert section() in README.read_text(encoding="utf-8"), "run: python -m dialogs.coverage --write"


@pytest.mark.parametrize("pack_id", list(available_packs()))
def test_every_principle_and_rule_is_checked_somewhere(pack_id: str) -> None:
    unmapped = [rule for rule, steps in coverage(load_pack(pack_id)).items() if not steps]
    assert unmapped == []
