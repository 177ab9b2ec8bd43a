"""Spotting likely personal identifiers in typed text, so people are warned before it is stored.

Records should carry case references, not personal details. These checks are deliberately simple
and explainable. Everything a person types goes through them, wherever it is typed: check answers (the
recipient's organisation and role too), follow-up notes and the lead's advice, and the receipt page. A
practitioner is warned and can confirm the text is needed where the surface offers it (the console's 'keep');
elsewhere they edit it. A recipient outside the workspace (the receipt page) is refused outright: they never
need to give the sender identifiers, only say whether the information arrived.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Finding:
    kind: str
    label: str


_NHS = re.compile(r"(?<![\d-])(\d{3})[ -]?(\d{3})[ -]?(\d{4})(?![\d-])")
_POSTCODE = re.compile(r"\b(?:GIR ?0AA|[A-PR-UWYZ][A-HK-Y]?\d[A-Z\d]? ?\d[ABD-HJLNP-UW-Z]{2})\b", re.IGNORECASE)
_DOB = re.compile(
    r"\b(?:d\.?o\.?b\.?|date of birth|born(?: on)?)\b[:\s-]*"
    r"(?:\d{1,2}[/.\- ]\d{1,2}[/.\- ]\d{2,4}|\d{1,2}(?:st|nd|rd|th)? [A-Za-z]{3,9},? \d{2,4}|\d{4}-\d{2}-\d{2})",
    re.IGNORECASE,
)
_PHONE = re.compile(r"(?<!\d)(?:(?:\+44\s?|0)(?:7\d{3}|1\d{2,4}|2\d|3\d{2}|8\d{2})[\s-]?\d{3,4}[\s-]?\d{3,4})(?!\d)")
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_NINO = re.compile(
    r"\b(?!BG|GB|KN|NK|NT|TN|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b", re.IGNORECASE
)

_MAY_HOLD = re.compile(r"[\d@]")
"""Every identifier above has a digit in it, or an '@': most typed answers have neither and skip the rest."""

LABELS = {
    "nhs_number": "an NHS number",
    "postcode": "a postcode",
    "date_of_birth": "a date of birth",
    "phone": "a phone number",
    "email": "an email address",
    "ni_number": "a National Insurance number",
}


def valid_nhs_number(digits: str) -> bool:
    """The NHS number's modulus 11 check digit."""
    if len(digits) != 10 or not digits.isdigit():
        return False
    total = sum(int(d) * (10 - i) for i, d in enumerate(digits[:9]))
    check = 11 - total % 11
    if check == 11:
        check = 0
    return check != 10 and check == int(digits[9])


def find_identifiers(text: str) -> list[Finding]:
    if not _MAY_HOLD.search(text):
        return []
    kinds: list[str] = []
    if any(valid_nhs_number("".join(m.groups())) for m in _NHS.finditer(text)):
        kinds.append("nhs_number")
    if _POSTCODE.search(text):
        kinds.append("postcode")
    if _DOB.search(text):
        kinds.append("date_of_birth")
    if _PHONE.search(text):
        kinds.append("phone")
    if _EMAIL.search(text):
        kinds.append("email")
    if _NINO.search(text):
        kinds.append("ni_number")
    return [Finding(k, LABELS[k]) for k in kinds]


def warning_text(findings: list[Finding]) -> str:
    labels = [f.label for f in findings]
    listed = labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]
    return (
        f"This looks like it contains {listed}. Use the case reference, not personal details: edit your answer, "
        "or confirm that these details are needed in the record."
    )


def scan(*texts: str | None) -> list[Finding]:
    """The identifiers found in any of several typed fields, each kind once."""
    kinds: list[str] = []
    for text in texts:
        for finding in find_identifiers(text) if text else ():
            if finding.kind not in kinds:
                kinds.append(finding.kind)
    return [Finding(k, LABELS[k]) for k in LABELS if k in kinds]


def refusal_text(findings: list[Finding], action: str = "Leave out personal details") -> str:
    """For a surface that offers no confirmation: say what was seen, and that it must be left out."""
    labels = [f.label for f in findings]
    listed = labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]
    return f"This looks like it contains {listed}. {action}: the case reference is enough."


class PersonalDataFound(ValueError):
    """Typed text looks like it holds personal identifiers. Carries the kinds and fields, never the text."""

    def __init__(self, message: str, kinds: tuple[str, ...], fields: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.kinds = kinds
        self.fields = fields
