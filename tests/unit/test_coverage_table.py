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


@pytest.mark.parametrize("pack_id", list(available_packs()))
def test_a_forms_fields_and_a_lists_statements_count_where_they_check(pack_id: str) -> None:
    """The table lists every question that checks a rule, whether a step, a field of a form or a list's statement."""
    pack = load_pack(pack_id)
    mapping = coverage(pack)
    for step in pack.steps:
        parts = [(step.title, step)] + [(f.title, f) for f in step.fields] + [(i.label, i) for i in step.items]
        for title, part in parts:
            for rule in (*part.principles, *part.rules):
                assert title in mapping[rule], (pack_id, rule, title)
