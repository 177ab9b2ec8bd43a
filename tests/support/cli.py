"""`python -m sharecheck` in a subprocess, and the console answers for a complete 'share' check."""

from __future__ import annotations

import subprocess
import sys

# Answers for a complete 'share' check with every record field of DESIGN.md section 5 filled in.
SHARE_SCRIPT = [
    "CS-2024-0113",  # case reference
    "2",  # immediate danger: no
    "1",  # asked to share
    "1",  # purpose: yes
    "So the health visitor can monitor the weight concerns from the review.",
    "1",  # no other agency involved
    "1",  # nothing holding me back
    "1",  # identifies someone
    "1",  # risk of harm: yes
    "1",  # special category: yes
    "1",  # notice: consent not needed
    "1",  # lawful basis: public task
    "1",  # safeguarding a child (Sch 1 para 18)
    "3",  # inform: no, increases risk
    "Telling the father now could increase the risk to the child.",
    "1",  # summary
    "1",  # relevant
    "1",  # adequate
    "1",  # fact and opinion
    "2",  # identities protected
    "Northshire Community Health, health visitor",
    "1",  # safeguarding role
    "1",  # identity checked
    "2",  # recipient is in health
    "1",  # NHSmail
    "1",  # now
    "1",  # onward limits stated
    "1",  # share
    "Unexplained weight loss; the health visitor needs the summary to monitor it.",
]


def run(args: list[str], env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sharecheck", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
