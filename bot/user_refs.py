"""People named in settings (SHARECHECK_ADMINS, SHARECHECK_DEFAULT_LEAD): the grammar, and its parser.

An entry is ``platform:user`` (unscoped) or ``platform:workspace:user`` (scoped to one workspace); entries are
separated by commas. Teams user ids contain colons themselves (``29:1a2b...``), so the grammar is per platform:

- ``slack:U0456`` / ``slack:T0123:U0456``: Slack ids never contain a colon; with two parts after the platform the
  first is the workspace (team id, ``T...``, or an Enterprise Grid org id, ``E...``).
- ``teams:29:1a2b...`` / ``teams:<tenant-guid>:29:1a2b...``: the entry is scoped exactly when what follows
  ``teams:`` starts with a tenant id, a GUID (8-4-4-4-12 hex digits), followed by a colon and a user id; the
  fixed emulator tenant ``emulator`` counts as a tenant id too. Everything else after ``teams:`` is the user id.
- ``console:dsl`` / ``console:local:dsl``: as for Slack (the console's one workspace is ``local``).

What an unscoped entry means is decided where it is used (bot.services.leads, bot.services.roles): it applies in
a workspace only while that workspace is the only one ShareCheck has seen on its platform.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Platform(StrEnum):
    """Where a person named in a setting uses ShareCheck (the first part of every entry)."""

    SLACK = "slack"
    TEAMS = "teams"
    CONSOLE = "console"


PLATFORMS = tuple(p.value for p in Platform)
TEAMS_EMULATOR_TENANT = "emulator"
_GUID = r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
_TEAMS_SCOPED = re.compile(rf"({_GUID}|{TEAMS_EMULATOR_TENANT}):(.+)")
_ID = re.compile(r"[A-Za-z0-9_.@\-]{1,200}")
_TEAMS_USER = re.compile(r"[A-Za-z0-9_.@:\-]{1,200}")


@dataclass(frozen=True)
class UserRef:
    """One person named in a setting; ``workspace_id`` None means unscoped."""

    platform: Platform
    workspace_id: str | None
    user_id: str

    def applies_to(self, platform: str, workspace_id: str, user_id: str | None = None) -> bool:
        """True if this entry names that place (and person): unscoped entries match every workspace here;
        callers decide whether an unscoped entry may be used in it (see ``only_workspace``)."""
        here = workspace_id.lower() if platform == "teams" else workspace_id  # tenant GUIDs: any case
        return (
            self.platform == platform
            and self.workspace_id in (None, here)
            and (user_id is None or self.user_id == user_id)
        )

    def __str__(self) -> str:
        where = f"{self.workspace_id}:" if self.workspace_id is not None else ""
        return f"{self.platform}:{where}{self.user_id}"


def parse_user_ref(entry: str) -> UserRef:
    """One entry; ValueError saying what is wrong (settings show it at start-up)."""
    text = entry.strip()
    name, sep, rest = text.partition(":")
    if not sep or name.lower() not in PLATFORMS or not rest:
        raise ValueError(f"{text!r} is not 'platform:user' or 'platform:workspace:user' ({', '.join(PLATFORMS)})")
    platform = Platform(name.lower())
    if platform is Platform.TEAMS:
        scoped = _TEAMS_SCOPED.fullmatch(rest)
        workspace, user = (scoped.group(1), scoped.group(2)) if scoped else (None, rest)
        if not _TEAMS_USER.fullmatch(user):
            raise ValueError(f"{text!r}: {user!r} is not a Teams user id")
        return UserRef(platform, workspace.lower() if workspace else None, user)
    parts = rest.split(":")
    if len(parts) > 2 or not all(_ID.fullmatch(p) for p in parts):
        raise ValueError(f"{text!r}: use {platform}:USER or {platform}:WORKSPACE:USER (ids have no spaces or colons)")
    return UserRef(platform, parts[0], parts[1]) if len(parts) == 2 else UserRef(platform, None, parts[0])


def parse_user_refs(value: str | None) -> tuple[UserRef, ...]:
    """A comma-separated setting, one entry per platform (or per workspace); blank entries are skipped and a
    repeated one counts once. ValueError names the entry that is wrong and says what is."""
    refs: list[UserRef] = []
    for number, part in enumerate((value or "").split(","), start=1):
        if not part.strip():
            continue
        try:
            ref = parse_user_ref(part)
        except ValueError as exc:
            raise ValueError(f"entry {number}: {exc}") from None
        if ref not in refs:
            refs.append(ref)
    return tuple(refs)


def one_per_place(refs: Iterable[UserRef], setting: str) -> None:
    """A default lead names one person per place: two for the same platform and scope are a mistake."""
    seen: dict[tuple[str, str | None], UserRef] = {}
    for ref in refs:
        key = (ref.platform, ref.workspace_id)
        if key in seen and seen[key] != ref:
            where = f"workspace {ref.workspace_id}" if ref.workspace_id else "unscoped"
            raise ValueError(f"{setting} names two people for {ref.platform} ({where}): {seen[key]} and {ref}")
        seen[key] = ref
