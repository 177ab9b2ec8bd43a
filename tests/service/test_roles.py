"""Only administrators change roles; SHARECHECK_ADMINS bootstraps them."""

from __future__ import annotations

import pytest

from bot.checks.models import Actor
from bot.clock import ManualClock
from bot.runtime import Runtime
from bot.services.roles import NotPermitted
from tests.support.settings import make_settings

ROOT = Actor("slack", "T1", "UROOT")
ALICE = Actor("slack", "T1", "UALICE")


@pytest.fixture
async def rt(db_url: str, clock: ManualClock):
    runtime = await Runtime.create(
        make_settings(db_url, sharecheck_admins="slack:UROOT,teams:29:abc"), clock=clock, migrate=True
    )
    try:
        yield runtime
    finally:
        await runtime.close()


async def test_bootstrap_admin_assigns_leads_and_admins(rt: Runtime) -> None:
    assert await rt.roles.is_admin(ROOT)
    assert await rt.roles.is_admin(Actor("teams", "tenant", "29:abc"))
    assert not await rt.roles.is_admin(ALICE)
    assert await rt.roles.add_lead(ROOT, "ULEAD", "user", ["U1", "U2"]) == 2
    assert await rt.roles.add_lead(ROOT, "ULEAD", "user", ["U1"]) == 0
    assert await rt.roles.add_lead(ROOT, "UBOSS", "workspace") == 1
    assert await rt.roles.grant_admin(ROOT, ALICE.user_id)
    assert await rt.roles.is_admin(ALICE)
    assert not await rt.roles.is_admin(Actor("slack", "T2", "UALICE")), "admin of one workspace only"
    assert await rt.roles.admins("slack", "T1") == ["UALICE"]
    assert await rt.roles.remove_lead(ALICE, "ULEAD") == 2


async def test_practitioners_cannot_change_roles(rt: Runtime) -> None:
    for call in (
        rt.roles.add_lead(ALICE, "UALICE", "workspace"),
        rt.roles.grant_admin(ALICE, "UALICE"),
        rt.roles.remove_lead(ALICE, "ULEAD"),
    ):
        with pytest.raises(NotPermitted, match="Only a ShareCheck administrator"):
            await call
    assert await rt.leads.list() == []


async def test_bad_scopes_are_refused(rt: Runtime) -> None:
    with pytest.raises(ValueError, match="scope must be one of"):
        await rt.roles.add_lead(ROOT, "ULEAD", "galaxy", ["x"])
    with pytest.raises(ValueError, match="name at least one"):
        await rt.roles.add_lead(ROOT, "ULEAD", "user", [])
