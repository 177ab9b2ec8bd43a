"""Receipt links: a recipient in another agency, with no Slack or Teams account, says the information arrived.

When a check ends in 'share' with a recipient outside the workspace (so a 'sender_confirm' follow-up
exists) and SHARECHECK_PUBLIC_URL is set, a link ``<public url>/r/<token>`` is made inside the completing
transaction and handed to the practitioner in the covering note. The token is 256 random bits; only its
SHA-256 is stored, so the link is shown once and a copy of the database holds no working links. The
answer moves the follow-up through FollowUpService, exactly as a chat button would.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.checks.models import Actor, CompletionExtras, EventKind
from bot.clock import Clock
from bot.db.models import Check, FollowUp, PlatformUser, ReceiptLink
from bot.followups.models import ACTOR_RECEIPT, RECEIPT_ANSWERS, Kind
from bot.followups.service import FollowUpService
from bot.secret_key import resolve_secret_key
from bot.services.records import append_event
from bot.settings import Settings
from bot.working_hours import zone
from dialogs.messages import LinkView
from dialogs.personal_data import PersonalDataFound, refusal_text, scan
from dialogs.record import RecordSnapshot

log = logging.getLogger(__name__)

TOKEN_BYTES = 32
"""256 bits from the OS's CSPRNG: unguessable, and URL-safe base64 without padding (43 characters)."""
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")
NAME_MAX = 100
ORGANISATION_MAX = 150
NOTE_MAX = 1000
DISPLAY_NAME_MAX = 100


class ReceiptNotFound(LookupError):
    """No receipt link of yours for that case (never says whether one exists for someone else)."""


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def well_formed(token: str) -> bool:
    return TOKEN_SHAPE.fullmatch(token) is not None


@dataclass(frozen=True)
class ReceiptView:
    """What the receipt page shows: never the sender's user id, never the recipient's typed name."""

    token_hash: str
    state: Literal["open", "answered"]
    shared_by: str
    case_reference: str
    shared_on: str
    method: str
    expires_on: str
    answer_label: str | None = None
    answered_on: str | None = None


AnswerOutcome = Literal["recorded", "already_answered", "gone"]
"""gone: unknown, expired or revoked, which the page never tells apart."""


class ReceiptService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        settings: Settings,
        followups: FollowUpService,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._settings = settings
        self._followups = followups
        self.secret_key = resolve_secret_key(settings)

    @property
    def enabled(self) -> bool:
        return self._settings.sharecheck_public_url is not None

    def url_for(self, token: str) -> str:
        base = str(self._settings.sharecheck_public_url or "").rstrip("/")
        return f"{base}/r/{token}"

    # --- creation (inside the transaction that completes the check) -------------------------

    async def on_check_completed(
        self, session: AsyncSession, check: Check, snapshot: RecordSnapshot, actor: Actor
    ) -> CompletionExtras | None:
        if not self.enabled or snapshot.decision != "share":
            return None
        # the follow-up service's hook ran first: a sender_confirm follow-up means a recipient outside the
        # workspace and a platform that can tell the sender when the answer comes
        follow_up = await session.scalar(
            select(FollowUp).where(FollowUp.check_id == check.id, FollowUp.kind == Kind.SENDER_CONFIRM)
        )
        if follow_up is None:
            return None
        now = check.finished_at or self._clock.now()
        token = new_token()
        expires = now + self._settings.sharecheck_receipt_ttl
        link = ReceiptLink(
            id=uuid.uuid4(),
            token_hash=hash_token(token),
            check_id=check.id,
            follow_up_id=follow_up.id,
            shared_by=await self._shared_by(session, actor),
            created_at=now,
            expires_at=expires,
        )
        session.add(link)
        expires_on = self._local(expires, "%d %B %Y")
        follow_up.details = {**(follow_up.details or {}), "receipt_expires": expires_on}
        await session.flush()
        await append_event(
            session,
            check.id,
            "receipt_link_created",
            str(actor),
            now,
            {"link": str(link.id), "expires": expires.isoformat()},  # never the token: the trail is exported
        )
        url = self.url_for(token)
        case = snapshot.case_reference or "this case"
        return CompletionExtras(
            covering_note_lines=(
                f"Please tell me whether it arrived and is clear on this page (no account needed; it works until "
                f"{expires_on}): {url}",
            ),
            links=(LinkView(title="Receipt link for the recipient (in the covering note)", url=url),),
            next_steps=(
                "The receipt link is shown only here: send it with the information (it is in the covering note). "
                f"If it goes to the wrong person, revoke it (/share-check revoke {case}).",
            ),
        )

    async def _shared_by(self, session: AsyncSession, actor: Actor) -> str:
        display = await session.scalar(
            select(PlatformUser.display_name).where(
                PlatformUser.platform == actor.platform,
                PlatformUser.workspace_id == actor.workspace_id,
                PlatformUser.user_id == actor.user_id,
            )
        )
        organisation = self._settings.sharecheck_organisation_name
        parts = [p for p in (display, organisation) if p]
        return ", ".join(parts) if parts else "The practitioner who sent you the information"

    # --- the page ---------------------------------------------------------------------------

    async def view(self, token: str) -> ReceiptView | None:
        """The link's page, or None for an unknown, expired or revoked token (told apart by nobody)."""
        if not well_formed(token):
            return None
        async with self._sessions() as session:
            return await self._view(session, hash_token(token))

    async def _view(self, session: AsyncSession, token_hash: str) -> ReceiptView | None:
        row = (
            await session.execute(
                select(ReceiptLink, Check.case_reference, FollowUp.details)
                .join(Check, Check.id == ReceiptLink.check_id)
                .outerjoin(FollowUp, FollowUp.id == ReceiptLink.follow_up_id)
                .where(ReceiptLink.token_hash == token_hash)
            )
        ).first()
        if row is None:
            return None
        link, case_reference, details = row
        if link.revoked_at is not None or link.expires_at <= self._clock.now():
            return None
        details = details or {}
        choice = self._followups.content.receipt.choice(link.answer) if link.answer else None
        return ReceiptView(
            token_hash=token_hash,
            state="answered" if link.answered_at else "open",
            shared_by=link.shared_by,
            case_reference=case_reference or "(no reference)",
            shared_on=str(details.get("shared_on") or self._local(link.created_at, "%d %b %Y")),
            method=str(details.get("method", "")),
            expires_on=self._local(link.expires_at, "%d %B %Y"),
            answer_label=choice.label if choice else link.answer,
            answered_on=self._local(link.answered_at, "%d %B %Y at %H:%M") if link.answered_at else None,
        )

    async def answer(
        self, token: str, choice: str, note: str | None, name: str, organisation: str
    ) -> tuple[AnswerOutcome, ReceiptView | None]:
        """Record the one answer this link takes; the follow-up, the sender and the lead hear of it at once."""
        if choice not in RECEIPT_ANSWERS:
            raise ValueError("unknown answer")
        if not name.strip() or not organisation.strip():
            raise ValueError("name and organisation are required")
        if not well_formed(token):
            return "gone", None
        token_hash = hash_token(token)
        now = self._clock.now()
        typed = {"name": name, "organisation": organisation, "note": note}
        fields = tuple(field for field, text in typed.items() if scan(text))
        if fields:
            # the same guard as everything typed in chat; an outsider is refused outright (nothing to confirm:
            # they never need to give identifiers to say whether it arrived), and the warning is on the trail
            found = scan(*typed.values())
            kinds = tuple(f.kind for f in found)
            if await self._warned(token_hash, fields, kinds, now):
                raise PersonalDataFound(refusal_text(found), kinds, fields)
        async with self._sessions.begin() as session:
            # one conditional UPDATE claims the link: two submissions at once cannot both be recorded
            claimed = await session.scalar(
                update(ReceiptLink)
                .where(
                    ReceiptLink.token_hash == token_hash,
                    ReceiptLink.answered_at.is_(None),
                    ReceiptLink.revoked_at.is_(None),
                    ReceiptLink.expires_at > now,
                )
                .values(answered_at=now, answer=choice)
                .returning(ReceiptLink.follow_up_id)
                .execution_options(synchronize_session=False)
            )
            if claimed is None:
                view = await self._view(session, token_hash)
                return ("already_answered" if view is not None else "gone"), view
            await self._followups.answer_from_receipt(
                session, claimed, choice, (note or "")[:NOTE_MAX], name[:NAME_MAX], organisation[:ORGANISATION_MAX], now
            )
            view = await self._view(session, token_hash)
        return "recorded", view

    async def _warned(self, token_hash: str, fields: tuple[str, ...], kinds: tuple[str, ...], now: datetime) -> bool:
        """Record a refused submission (which fields, which kinds: never the text) on an open link's record;
        False for a link that takes no answer (the answer path says so, telling nobody which)."""
        async with self._sessions.begin() as session:
            link = await session.scalar(
                select(ReceiptLink).where(
                    ReceiptLink.token_hash == token_hash,
                    ReceiptLink.answered_at.is_(None),
                    ReceiptLink.revoked_at.is_(None),
                    ReceiptLink.expires_at > now,
                )
            )
            if link is None:
                return False
            data = {"via": "receipt_link", "fields": list(fields), "kinds": list(kinds)}
            await append_event(session, link.check_id, EventKind.PERSONAL_DATA_WARNING, ACTOR_RECEIPT, now, data)
            return True

    # --- the sender's side ------------------------------------------------------------------

    async def revoke(self, actor: Actor, case_reference: str) -> int:
        """Withdraw this practitioner's live receipt links for a case (sent to the wrong person, say)."""
        now = self._clock.now()
        async with self._sessions.begin() as session:
            links = list(
                await session.scalars(
                    select(ReceiptLink)
                    .join(Check, Check.id == ReceiptLink.check_id)
                    .where(
                        Check.platform == actor.platform,
                        Check.workspace_id == actor.workspace_id,
                        Check.user_id == actor.user_id,
                        Check.case_reference == case_reference,
                        ReceiptLink.revoked_at.is_(None),
                        ReceiptLink.expires_at > now,
                    )
                    .with_for_update()
                )
            )
            if not links:
                raise ReceiptNotFound(f"No live receipt link of yours for case {case_reference}.")
            for link in links:
                link.revoked_at = now
                await append_event(
                    session, link.check_id, "receipt_link_revoked", str(actor), now, {"link": str(link.id)}
                )
        return len(links)

    async def set_display_name(self, actor: Actor, display_name: str | None) -> None:
        """How this practitioner is named to recipients on later receipt pages (None: the organisation only)."""
        name = " ".join(display_name.split())[:DISPLAY_NAME_MAX] if display_name else None
        now = self._clock.now()
        async with self._sessions.begin() as session:
            user = await session.get(PlatformUser, (actor.platform, actor.workspace_id, actor.user_id))
            if user is None:
                session.add(
                    PlatformUser(
                        platform=actor.platform,
                        workspace_id=actor.workspace_id,
                        user_id=actor.user_id,
                        display_name=name or None,
                        updated_at=now,
                    )
                )
            else:
                user.display_name = name or None
                user.updated_at = now

    def _local(self, when: datetime, fmt: str) -> str:
        local = when.astimezone(zone(None, self._settings.sharecheck_default_tz))
        return local.strftime(fmt.replace("%d", str(local.day)))  # '8 December', as people write dates
