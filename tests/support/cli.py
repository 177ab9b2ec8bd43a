"""`python -m sharecheck` in a subprocess, and the console answers for a complete 'share' check."""

from __future__ import annotations

import subprocess
import sys

SHARE_WHAT = "Unexplained weight loss; the health visitor needs the summary to monitor it."
"""What is shared, and why: it also fills the record's purpose in brief and its reasons."""
SHARE_RECIPIENT = "Northshire Community Health, health visitor"

# Answers for a complete 'share' check on the default pack's main path (every question a share asks, with the
# details form that 'not practicable to tell them' brings), saved on the review screen.
SHARE_SCRIPT = [
    # before you start (a form, one question at a time)
    "2",  # immediate danger: no
    "1",  # I was asked for it
    # should you share?
    "1",  # purpose: yes
    "1",  # risk of harm: yes
    "1",  # nothing holding me back
    "CS-2024-0113",  # case reference
    "1",  # decision: share
    SHARE_WHAT,
    SHARE_RECIPIENT,
    # how you will share it
    "2",  # NHSmail
    "1",  # now, or today
    "1",  # lawful basis: public task
    "1",  # special category: yes
    "4",  # telling the family: no, not practicable
    "now",  # when I was asked
    # a few details
    "The father cannot be reached before the health visit today.",  # why not tell them
    "",  # before you send: Enter, all true
    "s",  # the review: save
]

NOT_SHARE_SCRIPT = [
    "2",  # immediate danger: no
    "1",  # I was asked for it
    "1",  # purpose: yes
    "1",  # risk of harm: yes
    "",  # nothing holding me back (left out)
    "CS-2024-0114",  # case reference
    "2",  # decision: do not share
    "3",  # main reason: it would not be proportionate
    "Only a rumour so far; the school nurse will see the child tomorrow.",  # why not
    # who asked
    "Housing officer, Northshire Council",
    "now",  # when they asked
    "2",  # I will tell them today
    "s",  # the review: save
]
"""A 'do not share' after a request: the decision, the reason, who asked; saved on the review screen."""

URGENT_SCRIPT = [
    "1",  # immediate danger: yes
    "2",  # my own initiative
    "1,3",  # called 999, told my lead
    # who knows
    "1,3",  # the police, my safeguarding lead
    "1",  # by phone
    "2",  # the family: no, it could increase the risk
    "3",  # lawful basis: vital interests
    "1",  # shared, or being shared now
    # what happened
    "Called 999 about injuries seen at the school gate; told the police what they needed.",
    "CS-2024-0115",  # case reference
    "s",  # the review: save
]
"""The immediate-danger path: act now, who knows, what happened; saved on the review screen."""


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
