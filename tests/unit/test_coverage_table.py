"""The coverage tables in docs/content-packs.md are generated from the packs and every rule maps to at least one step."""

from __future__ import annotations

import pytest

from dialogs.content import available_packs, load_pack
from dialogs.coverage import BEGIN, DOCUMENT, END, coverage, section


def test_content_packs_document_table_matches_the_packs() -> None:
    text = DOCUMENT.read_text(encoding="utf-8")
    assert text.count(BEGIN) == 1 and text.count(END) == 1, f"{DOCUMENT} needs the coverage markers once each"
    assert section() in text, "run: python -m dialogs.coverage --write"


@pytest.mark.parametrize("pack_id", list(available_packs()))
def test_every_principle_and_rule_is_checked_somewhere(pack_id: str) -> None:
    unmapped = [rule for rule, steps in coverage(load_pack(pack_id)).items() if not steps]
    assert unmapped == []
