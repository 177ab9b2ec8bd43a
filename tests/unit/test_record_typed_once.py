"""'Type it once': one typed answer fills several record fields; the case notes say it once."""

from __future__ import annotations

from dialogs.content import load_pack
from dialogs.engine import Engine
from dialogs.messages import Completion
from dialogs.record import build_completion, build_snapshot
from tests.support.flows import walk
from tests.support.settings import T0

WHAT = "Bruising the class teacher saw on 3 Dec; the social worker needs it to assess today."
SHARE = {"immediate_danger": "no", "request_context": "own_initiative", "decision": "share", "what": WHAT}


def test_what_is_shared_is_typed_once_kept_in_every_field_and_written_once_in_the_case_notes() -> None:
    engine = Engine(load_pack("children-england-2024"))
    state, _ = walk(engine, T0, SHARE)
    fields = build_snapshot(engine.pack, state).fields
    assert fields["what_shared"] == fields["purpose_detail"] == fields["reasons"] == WHAT
    completion = build_completion(engine.pack, state)
    assert isinstance(completion, Completion)
    assert completion.case_notes.count(WHAT) == 1
    assert "What is shared, and why: " + WHAT in completion.case_notes
    assert completion.reasons == WHAT  # the digest and the export still read the reasons field
