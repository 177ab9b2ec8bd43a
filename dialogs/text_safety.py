"""One rule for text that people type, wherever it is put into a message, on every surface.

What a person typed (a recipient's organisation and role, a note, a name and organisation on the receipt
page) is shown to others: the sender, their lead. Typed text must never become markup there: no mention
(``<@U123>``, ``<!channel>``, ``{user:U123}``), no ShareCheck command (``{command:...}``), no link, no
emphasis, no quote.

How: the services wrap every typed value they put into a neutral message in ``typed()``, which marks it
with two private-use characters (removed from the text first, so typing them changes nothing). Every
renderer then calls ``render()``: tokens are expanded only in the parts the code wrote, and each typed part
goes through the rule for the surface:

- every surface (``plain``): shown as typed, except that invisible direction overrides and control characters
  are removed (they can make text read differently from what it says) and web addresses are defanged
  (``https[:]//...``, ``www[.]...``), so no client turns typed text into a link to follow;
- Slack mrkdwn (``slack_mrkdwn``): also ``&``, ``<``, ``>`` as entities (no mention, broadcast or link), and
  ``*``, ``_``, ``~`` and backticks shown as look-alikes, because mrkdwn has no escape character; a ``>``
  starting a line (a quote) likewise;
- Teams TextBlock markdown (``markdown``): also every markdown character backslash-escaped. Teams messages
  that quote typed text use TextRuns, which are never parsed as markdown, so ``plain`` applies there;
- the console and the receipt page (which Jinja escapes as HTML): ``plain``.

Stray marks (a message stored before this rule, or cut by a length limit) are dropped, never shown.
"""

from __future__ import annotations

import re
from collections.abc import Callable

TYPED_START = "\ue000"
TYPED_END = "\ue001"
_MARKS = re.compile(f"[{TYPED_START}{TYPED_END}]")
_SPAN = re.compile(f"{TYPED_START}([^{TYPED_START}{TYPED_END}]*)(?:{TYPED_END}|$)")
_INVISIBLE = re.compile("[\x00-\x08\x0b-\x1f\x7f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
"""Control characters but tab and line feed, and the bidirectional marks, embeddings, overrides and isolates."""
_SCHEME = re.compile(r"\b([A-Za-z][A-Za-z0-9+.\-]*):(?=//)")
_WWW = re.compile(r"\b(www)\.", re.IGNORECASE)
_SLACK_LOOKALIKES = str.maketrans({"*": "\u2217", "_": "\u02cd", "~": "\u223c", "`": "\u02cb"})
_QUOTE = re.compile(r"^([ \t]*)>", re.MULTILINE)
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!~>|<])")


def typed(text: str) -> str:
    """Mark ``text`` as typed by a person, for a neutral message's line."""
    return TYPED_START + _MARKS.sub("", text) + TYPED_END


def render(text: str, rule: Callable[[str], str], code: Callable[[str], str] = str) -> str:
    """``text`` for one surface: each typed part through ``rule``, the rest through ``code`` (which expands the
    tokens the services wrote, and escapes as the surface needs)."""
    if TYPED_START not in text and TYPED_END not in text:
        return code(text)
    out: list[str] = []
    at = 0
    for span in _SPAN.finditer(text):
        out.append(code(_MARKS.sub("", text[at : span.start()])))
        out.append(rule(span.group(1)))
        at = span.end()
    out.append(code(_MARKS.sub("", text[at:])))
    return "".join(out)


def plain(text: str) -> str:
    """Typed text where nothing is parsed as markup (console, Teams TextRuns, Slack plain_text, receipt page)."""
    text = _INVISIBLE.sub("", text)
    text = _SCHEME.sub(r"\1[:]", text)
    return _WWW.sub(r"\1[.]", text)


def slack_mrkdwn(text: str) -> str:
    """Typed text inside Slack mrkdwn."""
    text = _QUOTE.sub("\\1\u203a", plain(text).translate(_SLACK_LOOKALIKES))
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def markdown(text: str) -> str:
    """Typed text inside Adaptive Card TextBlock markdown."""
    return _MARKDOWN.sub(r"\\\1", plain(text))
