"""The running application: settings, database, content packs and services, wired once."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.checks.models import Action
from bot.checks.service import CheckService
from bot.clock import Clock, SystemClock
from bot.db.engine import create_engine, session_factory
from bot.db.migrate import upgrade_async
from bot.db.transactions import ShortTransactions
from bot.digests.service import DigestService
from bot.followups.service import FollowUpService
from bot.packs import PackRegistry
from bot.services.gauges import DatabaseGauges
from bot.services.inbox import Inbox
from bot.services.leads import LeadDirectory
from bot.services.receipts import ReceiptService
from bot.services.roles import RoleService
from bot.settings import Settings
from dialogs.messages import LinkView


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    transactions: ShortTransactions
    """Short write transactions run in one piece (on SQLite, on its writer thread): check starts and steps, the
    delivery dedupe, the user upsert."""
    clock: Clock
    packs: PackRegistry
    checks: CheckService
    leads: LeadDirectory
    followups: FollowUpService
    digests: DigestService
    roles: RoleService
    gauges: DatabaseGauges
    receipts: ReceiptService
    inbox: Inbox
    """The console's messages (a terminal cannot be messaged, so it collects them)."""
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    """Adapters' resources that live as long as the runtime (pooled HTTP connections), closed with it."""

    def on_close(self, closer: Callable[[], Awaitable[None]]) -> None:
        self.closers.append(closer)

    @classmethod
    async def create(cls, settings: Settings, clock: Clock | None = None, migrate: bool | None = None) -> Runtime:
        """Build the runtime; ``migrate`` defaults to on for SQLite (the zero-setup path)."""
        links = [LinkView(title=link.title, url=str(link.url)) for link in settings.sharecheck_local_links]
        packs = PackRegistry(
            settings.sharecheck_content_pack, links, settings.organisation_profile, settings.sharecheck_content_dir
        )
        if migrate if migrate is not None else settings.is_sqlite:
            await upgrade_async(settings.database_url)
        engine = create_engine(settings.database_url)
        sessions = session_factory(engine)
        clock = clock or SystemClock()
        transactions = ShortTransactions(engine)
        checks = CheckService(sessions, transactions, packs, clock)
        leads = LeadDirectory(sessions, settings.default_lead_refs)
        followups = FollowUpService(sessions, clock, settings, leads, packs=packs)
        checks.flows.on_complete(followups.on_check_completed)
        receipts = ReceiptService(sessions, clock, settings, followups)
        checks.flows.on_complete(receipts.on_check_completed)  # after the follow-up: the link hangs off it
        checks.flows.add_pending_source(followups.pending_items)
        checks.flows.on_action(Action.ASK_LEAD, followups.ask_lead)
        return cls(
            settings=settings,
            engine=engine,
            sessions=sessions,
            transactions=transactions,
            clock=clock,
            packs=packs,
            checks=checks,
            leads=leads,
            followups=followups,
            digests=DigestService(sessions, clock, settings, leads),
            roles=RoleService(sessions, clock, settings, leads),
            gauges=DatabaseGauges(sessions),
            receipts=receipts,
            inbox=Inbox(sessions, clock),
        )

    async def close(self) -> None:
        for closer in reversed(self.closers):
            await closer()
        self.closers.clear()
        await self.transactions.close()
        await self.engine.dispose()


@asynccontextmanager
async def open_runtime(
    settings: Settings, clock: Clock | None = None, migrate: bool | None = None
) -> AsyncIterator[Runtime]:
    runtime = await Runtime.create(settings, clock, migrate)
    try:
        yield runtime
    finally:
        await runtime.close()
