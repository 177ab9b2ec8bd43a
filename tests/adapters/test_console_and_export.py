"""`sharecheck chat` driven through a pipe, end to end, then `sharecheck export` of the record."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest

from bot.services.export import COLUMNS
from tests.support.cli import NOT_SHARE_SCRIPT, SHARE_SCRIPT, SHARE_WHAT, URGENT_SCRIPT, run


def runtime_pack_version() -> str:
    from dialogs.content import load_pack

    return load_pack("children-england-2024").version


_HEADER = re.compile(r"^--- .+ · .+ ---$")
"""Each question's header: the pack and the progress in sections (never 'Step n of m')."""


def titles(out: str) -> list[str]:
    """The title of each question shown, in order (the first line after its header, contacts and notice)."""
    lines = out.splitlines()
    shown = []
    for n, line in enumerate(lines):
        if _HEADER.match(line):
            rest = (t for t in lines[n + 1 :] if t == t.upper() and t.strip() and t != "CALL NOW" and t[0] not in "! ")
            shown.append(next(rest, ""))
    return shown


def test_piped_chat_records_a_check_that_exports_every_field(env: dict[str, str], tmp_path: Path) -> None:
    chat = run(["chat", "--user", "practitioner-7"], env, "\n".join(SHARE_SCRIPT) + "\n")
    assert chat.returncode == 0, chat.stderr
    out = chat.stdout
    assert titles(out) and "Step 1 of" not in out
    assert "DECISION RECORDED: SHARE" in out
    assert "Copy this into the case notes:" in out
    assert "Case reference: CS-2024-0113" in out
    # typed once, written once: the reasons are what was shared and why
    assert "What is shared, and why: Unexplained weight loss" in out and "Reasons: " not in out
    assert out.index("CHECK AND SAVE") < out.index("DECISION RECORDED: SHARE"), "the review comes before the record"
    assert "! " not in out, "no answer in the script should have been refused"
    assert "Covering note (paste into the secure email, or read it out)" in out
    assert "Please confirm that you have received this, that it is clear, and what your next step will be, by" in out

    exported = run(["export", "--since", "2000-01-01", "--format", "json"], env)
    assert exported.returncode == 0, exported.stderr
    records = json.loads(exported.stdout)
    assert len(records) == 1
    r = records[0]
    # DESIGN.md section 5: every field of the record
    assert r["case_reference"] == "CS-2024-0113"
    assert r["practitioner"] == "practitioner-7"
    assert (r["platform"], r["workspace_id"]) == ("console", "local")
    assert r["started_at"] and r["finished_at"]
    assert r["pack_id"] == "children-england-2024" and r["pack_version"] == runtime_pack_version()
    assert r["purpose"] == "Yes" and r["purpose_detail"] == SHARE_WHAT and r["what_shared"] == SHARE_WHAT
    assert r["request_context"] == "I was asked for it" and r["requested_at"]
    assert r["risk_of_harm"] == "Yes" and r["consent"] == "Not needed: a child is at risk of harm"
    assert r["lawful_basis"] == "Public task"
    assert r["special_category"] == "Yes"
    assert r["special_category_condition"].startswith("Safeguarding of children and individuals at risk")
    assert r["informed"] == "No: it is not practicable"
    assert r["informed_reason"].startswith("The father cannot be reached")
    assert r["recipient"] == "health visitor, Northshire Community Health"
    assert r["method"] == "NHSmail or other DCB1596 secure email"
    assert r["timely"] == "Now, or today"
    assert r["hesitation"] == "Nothing"
    # the 'before you send' list, all true in one go
    assert r["how_much"] == "A summary of the relevant points"
    assert r["relevant"] == r["adequate"] == r["recipient_role"] == r["recipient_identity_check"] == "Yes"
    assert r["identity_protection"] == "Yes: protected, or nobody at risk"
    assert r["onward_limits"] == "Yes: the covering note states them"
    assert r["decision"] == "share"
    assert r["reasons"] == SHARE_WHAT
    assert r["immediate_risk"] is False
    assert len(r["answers"]) >= 20
    trail = [e["event"] for e in r["trail"]]
    assert trail[0] == "started" and trail[-2:] == ["completed", "follow_up_scheduled"]  # did it arrive? comes later
    # consent: the 2024 pack records that it was not needed rather than asking
    assert any(a["step"] == "lawful_basis" for a in r["answers"])

    as_csv = run(["export", "--since", "2000-01-01", "--format", "csv"], env)
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert list(rows[0].keys()) == list(COLUMNS)
    assert rows[0]["case_reference"] == "CS-2024-0113" and rows[0]["decision"] == "share"

    later = run(["export", "--since", "2999-01-01"], env)
    assert list(csv.DictReader(io.StringIO(later.stdout))) == []


@pytest.mark.parametrize(
    ("script", "shown", "recorded", "decision", "reference"),
    [
        (
            SHARE_SCRIPT,
            [
                *("BEFORE YOU START", "SHOULD YOU SHARE?", "DECISION", "WHAT AND WHY", "RECIPIENT"),
                *("HOW YOU WILL SHARE IT", "A FEW DETAILS", "BEFORE YOU SEND", "CHECK AND SAVE"),
            ],
            "DECISION RECORDED: SHARE",
            "share",
            "CS-2024-0113",
        ),
        (
            NOT_SHARE_SCRIPT,
            ["BEFORE YOU START", "SHOULD YOU SHARE?", "DECISION", "NOT SHARING", "WHO ASKED", "CHECK AND SAVE"],
            "DECISION RECORDED: DO NOT SHARE",
            "not_share",
            "CS-2024-0114",
        ),
        (
            URGENT_SCRIPT,
            ["BEFORE YOU START", "ACT NOW", "WHO KNOWS", "WHAT HAPPENED", "CHECK AND SAVE"],
            "DECISION RECORDED: SHARE (URGENT)",
            "share",
            "CS-2024-0115",
        ),
    ],
    ids=["share", "not-share-after-a-request", "urgent"],
)
def test_piped_chat_walks_each_main_path(
    env: dict[str, str], script: list[str], shown: list[str], recorded: str, decision: str, reference: str
) -> None:
    """The default pack's three main paths typed through `sharecheck chat`, each saved from the review screen."""
    chat = run(["chat", "--user", "practitioner-8"], env, "\n".join(script) + "\n")
    assert chat.returncode == 0, chat.stderr
    out = chat.stdout
    assert titles(out) == shown
    assert "! " not in out, "no answer in the script should have been refused"
    assert recorded in out and out.index("CHECK AND SAVE") < out.index(recorded)
    assert "Your check is saved" not in out, "the script ends with the check recorded"
    [r] = json.loads(run(["export", "--since", "2000-01-01", "--format", "json"], env).stdout)
    assert r["decision"] == decision and r["case_reference"] == reference
    if script is NOT_SHARE_SCRIPT:
        assert r["not_share_reason"] == "It would not be proportionate"
        assert (
            r["requester"] == "Housing officer, Northshire Council" and r["requester_told"] == "I will tell them today"
        )
        assert r["reasons"].startswith("Only a rumour so far")
    if script is URGENT_SCRIPT:
        assert r["immediate_risk"] is True
        assert r["urgent_action"] == "Called 999; Told my designated safeguarding lead"
        assert (
            r["urgent_told"] == "The police; My safeguarding lead"
            and r["family_told"] == "No: it could increase the risk"
        )
        assert r["consent"] == "Not needed: an emergency" and r["lawful_basis"] == "Vital interests: a life is at risk"
        assert "Immediate risk: act first, record after." in out


def test_piped_chat_can_stop_and_resume(env: dict[str, str]) -> None:
    first = run(["chat", "--user", "p1"], env, "2\n1\n")
    assert first.returncode == 0
    assert "Your check is saved" in first.stdout
    second = run(["chat", "--user", "p1"], env, "back\nback\ncancel\n")
    assert "carrying on where you stopped" in second.stdout
    assert titles(second.stdout)[0] == titles(first.stdout)[-1], "resumed at the question it stopped at"
    assert "Check cancelled" in second.stdout


def test_piped_chat_refuses_bad_answers_with_a_reason(env: dict[str, str]) -> None:
    # 7 is not an option; the gates form's case reference is a name at first
    script = "7\n1\n2\n1\n1\n\nJane Smith\nCS-1\nquit\n"
    out = run(["chat", "--user", "p2"], env, script).stdout
    assert "Use the reference, never the person's name" in out
    assert "not one of the options" in out or "pick one of the options" in out
    assert len(set(titles(out))) >= 3, "each refused answer asked again, then on to the third question"


def test_help_shows_sources_with_their_authority(env: dict[str, str]) -> None:
    out = run(["chat", "--user", "p3"], env, "2\n1\nhelp\nquit\n").stdout
    assert "[non-statutory advice]" in out or "[local guidance]" in out


def test_urgent_command_jumps_to_act_now(env: dict[str, str]) -> None:
    out = run(["chat", "--user", "p4"], env, "2\n1\nurgent\nquit\n").stdout
    assert "SHOULD YOU SHARE?" in out, "typed in the middle of a form"
    assert "ACT NOW" in out
    assert "CALL NOW" in out and "call 999 if a life is at risk" in out


def test_export_rejects_a_bad_date(env: dict[str, str]) -> None:
    result = run(["export", "--since", "last week"], env)
    assert result.returncode == 2
    assert "not a date" in result.stderr


def test_unknown_pack_is_a_clear_error(env: dict[str, str]) -> None:
    result = run(["chat", "--pack", "no-such-pack"], env)
    assert result.returncode == 2
    assert "unknown content pack 'no-such-pack'" in result.stderr


def test_db_upgrade_and_packs(env: dict[str, str]) -> None:
    assert run(["db", "upgrade"], env).stdout.strip() == "database is up to date"
    listing = run(["packs"], env).stdout
    assert f"children-england-2024 {runtime_pack_version()} (default)" in listing
    assert "adults-england" in listing and "children-england-2018" in listing


def test_export_csv_neutralises_formulas() -> None:
    from bot.services.export import _cell

    assert _cell('=HYPERLINK("x")') == '\'=HYPERLINK("x")'
    assert _cell("-1") == "'-1"
    assert _cell("plain") == "plain"


def test_console_warns_about_personal_details_and_can_keep(env: dict[str, str]) -> None:
    # not sharing: the reason typed in the form holds an email address
    script = "2\n2\n1\n1\n\nCS-1\n2\n4\nThe father's email is dad@example.org\nkeep\ns\n"
    out = run(["chat", "--user", "p5"], env, script).stdout
    assert "looks like it contains an email address" in out
    assert "'keep' to keep your answers as they are" in out
    assert "Reasons: The father's email is dad@example.org" in out
    assert "DECISION RECORDED: DO NOT SHARE" in out


def test_console_reconsider_after_not_sharing(env: dict[str, str]) -> None:
    # asked, but no clear purpose: do not share, why, who asked, then save on the review
    script = "2\n1\n2\n1\n\nCS-9\n1\nNo legitimate purpose was given for the request.\nA housing officer\nnow\n1\ns\n"
    out = run(["chat", "--user", "p6"], env, script).stdout
    assert "DECISION RECORDED: DO NOT SHARE" in out
    assert "sharecheck chat --reconsider CS-9" in out
    again = run(["chat", "--user", "p6", "--reconsider", "CS-9"], env, "quit\n").stdout
    assert "linked to the earlier decision" in " ".join(again.split())
    missing = run(["chat", "--user", "p6", "--reconsider", "CS-404"], env, "")
    assert missing.returncode == 2 and "not one of your 'do not share' decisions" in missing.stdout
