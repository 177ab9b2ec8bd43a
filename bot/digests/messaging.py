"""What a digest says: the Digest message built from a period's figures, its wording (bot/content/digest.yaml),
and the outbox rows that carry it.

Every platform renders the Digest itself; nothing here knows one. Items name a case by its reference only.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, ConfigDict

from bot.db.models import OutboxMessage
from bot.digests.models import OUTBOX_PURPOSE, TREND_PERIODS, Cadence, Figure, Figures, NeedsYou, Schedule
from dialogs.content import Pack
from dialogs.messages import Digest, DigestFigure, DigestItem

CONTENT_FILE = Path(__file__).parent.parent / "content" / "digest.yaml"
MAX_ITEMS = 15
"""Cases listed under 'needs you', most urgent first."""
TOP = 3
"""Rules, unconfirmed statements and worries listed, most frequent first."""
DATE_FORMAT = "%a %d %b %Y"


class DigestContent(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str
    title: str
    period: str
    trend_label: str
    empty_text: str
    worries_label: str
    unconfirmed_label: str
    """An unsure-figure line for a statement left unticked before sending; {item} is the statement."""
    figures: dict[Figure, str]
    """Shown in this order."""
    needs_you: dict[NeedsYou, str]


@cache
def digest_content() -> DigestContent:
    return DigestContent.model_validate(yaml.safe_load(CONTENT_FILE.read_text(encoding="utf-8")))


def compose(
    content: DigestContent,
    pack: Pack,
    schedule: Schedule,
    start: datetime,
    end: datetime,
    now: Figures,
    before: Figures,
    needs: Sequence[tuple[NeedsYou, str | None]],
    trend: Sequence[int],
) -> Digest:
    """The digest of the period from ``start`` to ``end``: ``now`` against the period ``before`` it, the cases
    that ``needs`` the lead (in the order found), and completed checks per period, latest first in ``trend``."""
    c = content
    titles = pack.rule_titles()
    figures = tuple(
        DigestFigure(label=c.figures[key], value=now.counts.get(key, 0), previous=before.counts.get(key, 0))
        for key in c.figures
    )
    unsure = tuple(
        DigestFigure(label=titles.get(rule, rule), value=n, previous=before.unsure.get(rule, 0))
        for rule, n in now.unsure.most_common(TOP)
    ) + tuple(
        # statements left unticked before sending: where practitioners could not confirm a share was right
        DigestFigure(label=c.unconfirmed_label.format(item=item), value=n, previous=before.unconfirmed.get(item, 0))
        for item, n in now.unconfirmed.most_common(TOP)
    )
    myths = {m.id: m.title for m in pack.myths}
    worries = tuple(
        DigestFigure(label=myths.get(myth, myth), value=n, previous=before.worries.get(myth, 0))
        for myth, n in now.worries.most_common(TOP)
    )
    tz = ZoneInfo(schedule.tz)
    values = {
        "cadence": "week" if schedule.cadence == Cadence.WEEKLY else "day",
        "start": start.astimezone(tz).strftime(DATE_FORMAT),
        "end": end.astimezone(tz).strftime(DATE_FORMAT),
        "tz": schedule.tz,
    }
    items = needs_you(content, needs)
    empty = not items and all(f.value == 0 for f in figures)
    return Digest(
        title=c.title.format(**values),
        period=c.period.format(**values),
        needs_you=items,
        figures=tuple(f for f in figures if f.value or f.previous),
        unsure=unsure,
        worries_label=c.worries_label,
        worries=worries,
        trend_label=c.trend_label.format(n=TREND_PERIODS, unit=values["cadence"]),
        trend=tuple(reversed(trend)),
        empty=empty,
        empty_text=c.empty_text,
    )


def needs_you(content: DigestContent, needs: Sequence[tuple[NeedsYou, str | None]]) -> tuple[DigestItem, ...]:
    """The cases that need the lead, most urgent reason first (in the order found within a reason), at most
    MAX_ITEMS."""
    order = list(NeedsYou)
    ranked = sorted(needs, key=lambda need: order.index(need[0]))
    return tuple(
        DigestItem(case_reference=case_reference or "(no reference)", text=content.needs_you[reason])
        for reason, case_reference in ranked[:MAX_ITEMS]
    )


def outbox_row(platform: str, workspace_id: str, lead_id: str, digest: Digest, now: datetime) -> OutboxMessage:
    """A digest queued for the lead, due now."""
    return OutboxMessage(
        id=uuid.uuid4(),
        platform=platform,
        workspace_id=workspace_id,
        user_id=lead_id,
        purpose=OUTBOX_PURPOSE,
        follow_up_id=None,
        message=digest.model_dump(mode="json"),
        status="queued",
        attempts=0,
        due_at=now,
        created_at=now,
    )
