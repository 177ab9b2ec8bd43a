"""Issue 20 item 6: settings entries scoped to a workspace, administrators removable (chat and command line),
every role and lead change on an append-only trail, and no naming yourself as the recipient (Slack through the
real Bolt stack, Teams through the real Agents SDK, the console)."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from pydantic import ValidationError
from sqlalchemy import select, update

from adapters.console import CONSOLE, ConsoleChat
from bot.checks.messaging import SELF_RECIPIENT
from bot.checks.models import Actor, Outcome
from bot.clock import ManualClock
from bot.conversation import Conversation
from bot.db.models import Check, CheckEvent, RoleEvent
from bot.runtime import Runtime
from bot.services import role_trail
from bot.services.roles import BootstrapAdmin, NotPermitted
from bot.user_refs import UserRef, parse_user_ref, parse_user_refs
from dialogs.messages import Prompt
from dialogs.state import Answer, Recipient
from tests.support.checks import answer_until
from tests.support.cli import run
from tests.support.console import RECIPIENT
from tests.support.fake_slack import FakeSlack
from tests.support.settings import make_settings
from tests.support.slack_followups import responded
from tests.support.slack_requests import Practitioner, step_of
from tests.support.slack_stack import slack_stack
from tests.support.teams import EMULATOR, TENANT
from tests.support.teams import step_of as teams_step
from tests.support.teams_followups import ADMIN as TEAMS_ADMIN
from tests.support.teams_followups import COLLEAGUE, SENDER, Teams, make_admin, mention, text_of

T1, T2 = "T0000001", "T0000002"
TEAMS_LEAD = "29:1teams-default-lead"


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return dict(EMULATOR)  # the Teams tests here drive the local emulator


# --- the grammar ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("slack:U0456", UserRef("slack", None, "U0456")),
        ("slack:T0123:U0456", UserRef("slack", "T0123", "U0456")),
        (" Slack:T0123:U0456 ", UserRef("slack", "T0123", "U0456")),
        ("teams:29:1a2b-c3", UserRef("teams", None, "29:1a2b-c3")),
        (f"teams:{TENANT}:29:1a2b-c3", UserRef("teams", TENANT, "29:1a2b-c3")),
        (f"teams:{TENANT.upper()}:29:1a2b-c3", UserRef("teams", TENANT, "29:1a2b-c3")),
        ("teams:emulator:29:x", UserRef("teams", "emulator", "29:x")),
        (f"teams:{TENANT}", UserRef("teams", None, TENANT)),  # a bare GUID is a user (an Entra object id)
        ("console:dsl", UserRef("console", None, "dsl")),
        ("console:local:dsl", UserRef("console", "local", "dsl")),
    ],
)
def test_the_grammar_of_settings_entries(entry: str, expected: UserRef) -> None:
    assert parse_user_ref(entry) == expected
    assert parse_user_ref(str(expected)) == expected, "an entry prints back in the same grammar"


@pytest.mark.parametrize(
    "entry", ["U0456", "slack:", "slack:T1:U1:X", "slack:U 1", "mattermost:U1", "teams:", "teams:29:a b"]
)
def test_malformed_entries_are_refused(entry: str) -> None:
    with pytest.raises(ValueError):
        parse_user_ref(entry)


def test_settings_refuse_malformed_entries_and_two_default_leads_for_one_place(sqlite_url: str) -> None:
    with pytest.raises(ValidationError, match="is not 'platform:user'"):
        make_settings(sqlite_url, sharecheck_admins="slack:U1,alice")
    with pytest.raises(ValidationError, match="names two people for slack"):
        make_settings(sqlite_url, sharecheck_default_lead="slack:U1,slack:U2")
    # one entry per platform (or per workspace), comma separated: Slack and Teams together
    both = make_settings(sqlite_url, sharecheck_default_lead=f"slack:{T1}:UDEF,slack:{T2}:UDEF2,teams:29:1x")
    assert both.default_lead_refs == (
        UserRef("slack", T1, "UDEF"),
        UserRef("slack", T2, "UDEF2"),
        UserRef("teams", None, "29:1x"),
    )
    assert parse_user_refs(" , ") == ()


# --- default leads and bootstrap administrators across workspaces ------------------------------------


async def runtime_with(db_url: str, clock: ManualClock, **overrides: Any) -> Runtime:
    return await Runtime.create(make_settings(db_url, **overrides), clock=clock, migrate=True)


async def start_check(rt: Runtime, actor: Actor) -> None:
    await rt.checks.start(actor)


async def test_an_unscoped_default_lead_never_reaches_a_second_workspace(db_url: str, clock: ManualClock) -> None:
    rt = await runtime_with(db_url, clock, sharecheck_default_lead="slack:UDEF")
    try:
        await start_check(rt, Actor("slack", T1, "U1"))
        # one workspace seen: the unscoped default lead applies there
        assert await rt.digests.leads() == [("slack", T1, "UDEF")]
        assert await rt.digests.is_lead("slack", T1, "UDEF")
        async with rt.sessions() as s:
            assert await rt.leads.lead_for(s, "slack", T1, "U1") == "UDEF"

        # a second workspace of the same token (an Enterprise Grid): the entry no longer applies anywhere,
        # so that lead gets neither workspace's escalations, advice requests or digests
        await start_check(rt, Actor("slack", T2, "U2"))
        assert await rt.digests.leads() == []
        assert not await rt.digests.is_lead("slack", T2, "UDEF")
        async with rt.sessions() as s:
            assert await rt.leads.lead_for(s, "slack", T2, "U2") is None
            assert await rt.leads.lead_for(s, "slack", T1, "U1") is None
            scope = await rt.digests.scope(s, "slack", T2, "UDEF")
            assert str(scope.compile(compile_kwargs={"literal_binds": True})) == "false"
        assert await rt.roles.warn_unscoped() == ["slack"]
    finally:
        await rt.close()


async def test_scoped_default_leads_apply_in_their_workspace_on_slack_and_teams(
    db_url: str, clock: ManualClock
) -> None:
    rt = await runtime_with(db_url, clock, sharecheck_default_lead=f"slack:{T1}:UDEF,teams:{TENANT}:{TEAMS_LEAD}")
    try:
        for actor in (Actor("slack", T1, "U1"), Actor("slack", T2, "U2"), Actor("teams", TENANT, SENDER)):
            await start_check(rt, actor)
        assert await rt.digests.leads() == [("slack", T1, "UDEF"), ("teams", TENANT, TEAMS_LEAD)]
        async with rt.sessions() as s:
            assert await rt.leads.lead_for(s, "slack", T1, "U1") == "UDEF"
            assert await rt.leads.lead_for(s, "slack", T2, "U2") is None
            assert await rt.leads.lead_for(s, "teams", TENANT, SENDER) == TEAMS_LEAD
            assert await rt.leads.lead_for(s, "teams", "0d1e2f3a-0000-4000-8000-00000000cafe", "29:x") is None
        assert not await rt.digests.is_lead("slack", T2, "UDEF")
        assert await rt.roles.warn_unscoped() == []
    finally:
        await rt.close()


async def test_bootstrap_admins_are_scoped_and_unscoped_ones_stop_at_a_second_workspace(
    db_url: str, clock: ManualClock
) -> None:
    rt = await runtime_with(db_url, clock, sharecheck_admins=f"slack:{T1}:UROOT,teams:29:1boss")
    try:
        assert await rt.roles.is_admin(Actor("slack", T1, "UROOT"))
        assert not await rt.roles.is_admin(Actor("slack", T2, "UROOT")), "scoped to T1"
        with pytest.raises(NotPermitted):
            await rt.roles.add_lead(Actor("slack", T2, "UROOT"), "UROOT", "workspace")
        assert await rt.roles.is_admin(Actor("teams", TENANT, "29:1boss"))
        await start_check(rt, Actor("teams", TENANT, SENDER))
        await start_check(rt, Actor("teams", "0d1e2f3a-0000-4000-8000-00000000cafe", "29:1other"))
        assert not await rt.roles.is_admin(Actor("teams", TENANT, "29:1boss")), "unscoped, two tenants seen"
    finally:
        await rt.close()


# --- removing administrators, and the trail -------------------------------------------------------------


async def trail_of(rt: Runtime) -> list[tuple[str, str, str, str, str]]:
    return [(e.kind, e.platform, e.workspace_id, e.subject, e.actor) for e in await role_trail.history(rt.sessions)]


async def test_admins_are_removed_and_every_change_is_on_the_trail(db_url: str, clock: ManualClock) -> None:
    rt = await runtime_with(db_url, clock, sharecheck_admins=f"slack:{T1}:UROOT", sharecheck_default_lead="slack:UDEF")
    root, alice = Actor("slack", T1, "UROOT"), Actor("slack", T1, "UALICE")
    try:
        assert [c.kind for c in await rt.roles.record_settings()] == [
            role_trail.DEFAULT_LEAD_APPLIED,
            role_trail.BOOTSTRAP_ADMIN_APPLIED,
        ]
        assert await rt.roles.record_settings() == [], "the same settings again: nothing new"
        assert await rt.roles.grant_admin(root, "UALICE")
        assert await rt.roles.add_lead(alice, "ULEAD", "user", ["U1"]) == 1
        assert await rt.roles.remove_lead(alice, "ULEAD") == 1
        assert await rt.roles.remove_admin(root, "UALICE")
        assert not await rt.roles.is_admin(alice)
        assert not await rt.roles.remove_admin(root, "UALICE"), "not an administrator any more"
        with pytest.raises(NotPermitted):
            await rt.roles.remove_admin(alice, "UROOT")
        with pytest.raises(BootstrapAdmin, match="SHARECHECK_ADMINS"):
            await rt.roles.remove_admin(root, "UROOT")
        assert await rt.roles.is_admin(root)
        assert await trail_of(rt) == [
            ("default_lead_applied", "slack", "*", "UDEF", "settings"),
            ("bootstrap_admin_applied", "slack", T1, "UROOT", "settings"),
            ("admin_granted", "slack", T1, "UALICE", f"slack:{T1}:UROOT"),
            ("lead_assigned", "slack", T1, "ULEAD", f"slack:{T1}:UALICE"),
            ("lead_removed", "slack", T1, "ULEAD", f"slack:{T1}:UALICE"),
            ("admin_removed", "slack", T1, "UALICE", f"slack:{T1}:UROOT"),
        ]
        assert await role_trail.verify(rt.sessions) == []
    finally:
        await rt.close()

    # the next start with the entry gone from the settings records it as withdrawn
    rt = await runtime_with(db_url, clock, sharecheck_default_lead="slack:UDEF")
    try:
        assert [(c.kind, c.subject) for c in await rt.roles.record_settings()] == [
            (role_trail.BOOTSTRAP_ADMIN_WITHDRAWN, "UROOT")
        ]
        assert not await rt.roles.is_admin(root)
        # the trail is append-only evidence: an edited or deleted event is named
        async with rt.sessions.begin() as s:
            await s.execute(update(RoleEvent).where(RoleEvent.seq == 2).values(subject="UMALLORY"))
        assert await role_trail.verify(rt.sessions) == ["role trail: event 2 (admin_granted) edited"]
    finally:
        await rt.close()


async def test_concurrent_changes_each_get_their_place_on_the_trail(db_url: str, clock: ManualClock) -> None:
    rt = await runtime_with(db_url, clock, sharecheck_admins=f"slack:{T1}:UROOT")
    root = Actor("slack", T1, "UROOT")
    try:
        # writers that read the same end of the chain: the loser's whole transaction is retried, none is lost
        results = await asyncio.gather(*(rt.roles.grant_admin(root, f"U{n}") for n in range(8)))
        assert results == [True] * 8
        events = await role_trail.history(rt.sessions)
        assert [e.seq for e in events] == list(range(8))
        assert sorted(e.subject for e in events) == [f"U{n}" for n in range(8)]
        assert await role_trail.verify(rt.sessions) == []
    finally:
        await rt.close()


def test_command_line_admins_and_the_history(env: dict[str, str]) -> None:
    env = env | {"SHARECHECK_ADMINS": f"slack:{T1}:UROOT", "USER": "ops", "LOGNAME": "ops"}
    added = run(["admins", "add", "--platform", "slack", "--workspace", T1, "--user", "UALICE"], env)
    assert added.returncode == 0, added.stderr
    assert "UALICE is now an administrator" in added.stdout
    listing = run(["admins", "list"], env).stdout
    assert f"slack {T1}: UROOT (SHARECHECK_ADMINS)" in listing
    assert f"slack {T1}: UALICE (added by cli:ops)" in listing
    run(["leads", "add", "--platform", "slack", "--workspace", T1, "--lead", "ULEAD", "--all"], env)
    run(["leads", "remove", "--platform", "slack", "--workspace", T1, "--lead", "ULEAD"], env)
    removed = run(["admins", "remove", "--platform", "slack", "--workspace", T1, "--user", "UALICE"], env)
    assert removed.returncode == 0 and "UALICE is no longer an administrator" in removed.stdout
    again = run(["admins", "remove", "--platform", "slack", "--workspace", T1, "--user", "UALICE"], env)
    assert again.returncode == 1 and "is not an administrator" in again.stderr
    bootstrap = run(["admins", "remove", "--platform", "slack", "--workspace", T1, "--user", "UROOT"], env)
    assert bootstrap.returncode == 2 and "SHARECHECK_ADMINS" in bootstrap.stderr

    history = run(["leads", "list", "--history"], env)
    assert history.returncode == 0, history.stderr
    lines = [line.split(" ", 1)[1] for line in history.stdout.splitlines()]  # without the time
    assert lines == [
        f"slack {T1}: admin_granted UALICE by cli:ops",
        f"slack {T1}: lead_assigned ULEAD (workspace) by cli:ops",
        f"slack {T1}: lead_removed ULEAD (workspace) by cli:ops",
        f"slack {T1}: admin_removed UALICE by cli:ops",
    ]
    verified = run(["audit", "verify"], env)
    assert verified.returncode == 0 and "role trail: 4 event(s), head " in verified.stdout


# --- administration in chat ----------------------------------------------------------------------------

ADMIN = "U0000ADM"
BOB = "U0000002"
ALICE = "U0000001"
Stack = tuple[Runtime, FakeSlack, TestClient[Any, Any]]


@pytest.fixture
async def admin_stack(sqlite_url: str, clock: ManualClock) -> AsyncIterator[Stack]:
    async with slack_stack(sqlite_url, clock, sharecheck_admins=f"slack:{T1}:{ADMIN}") as parts:
        yield parts


async def test_slack_admin_removes_an_administrator(admin_stack: Stack) -> None:
    runtime, fake, http = admin_stack
    admin = Practitioner(http, fake, T1, ADMIN)

    async def answer(n: int) -> str:
        return json.dumps(await responded(fake, n))

    await admin.command(f"admin add <@{BOB}|bob>")
    assert "now a ShareCheck administrator" in await answer(1)
    await admin.command(f"admin remove <@{BOB}|bob>")
    assert f"<@{BOB}> is no longer a ShareCheck administrator." in await answer(2)
    assert not await runtime.roles.is_admin(Actor("slack", T1, BOB))
    await admin.command(f"admin remove <@{BOB}>")
    assert f"<@{BOB}> was not a ShareCheck administrator." in await answer(3)
    # the bootstrap administrator is removed from the settings, not in chat: it says so
    await Practitioner(http, fake, T1, ADMIN).command(f"admin remove <@{ADMIN}>")
    assert "SHARECHECK_ADMINS" in await answer(4)
    await Practitioner(http, fake, T1, BOB).command(f"admin remove <@{ADMIN}>")
    assert "Only a ShareCheck administrator" in await answer(5)
    assert [(k, s, a) for k, _, _, s, a in await trail_of(runtime)] == [
        ("admin_granted", BOB, f"slack:{T1}:{ADMIN}"),
        ("admin_removed", BOB, f"slack:{T1}:{ADMIN}"),
    ]


async def test_teams_admin_removes_an_administrator(
    teams: Teams,
    runtime: Runtime,
    clock: ManualClock,
) -> None:
    await make_admin(runtime, clock)
    one = "29:1practitioner-one"
    granted = await teams.say(TEAMS_ADMIN, "admin add <at>One</at>", [mention(one, "One")])
    assert "A colleague is now a ShareCheck administrator." in text_of(granted)
    refused = await teams.say(SENDER, "admin remove <at>One</at>", [mention(one, "One")])
    assert "Only a ShareCheck administrator" in text_of(refused)
    removed = await teams.say(TEAMS_ADMIN, "admin remove <at>One</at>", [mention(one, "One")])
    assert "A colleague is no longer a ShareCheck administrator." in text_of(removed)
    assert not await runtime.roles.is_admin(Actor("teams", TENANT, one))
    usage = await teams.say(TEAMS_ADMIN, "admin", [])
    assert "admin remove" in text_of(usage)
    assert [(k, s) for k, _, _, s, _ in await trail_of(runtime)] == [
        ("admin_granted", one),
        ("admin_removed", one),
    ]


# --- not naming yourself as the recipient ----------------------------------------------------------------


async def test_slack_refuses_picking_yourself_as_the_recipient(sqlite_url: str, clock: ManualClock) -> None:
    async with slack_stack(sqlite_url, clock) as (runtime, fake, http):
        alice = Practitioner(http, fake, T1, ALICE)
        await alice.start()
        await alice.complete(runtime.packs.pack(), until="recipient")
        resp = await alice.submit(await alice.form(), {"sc_user": ALICE, "sc_org": None, "sc_role": None})
        assert resp.status == 200
        body = await resp.json()
        # the form stays open with the reason, and the check still asks who receives it
        assert body["response_action"] == "errors"
        assert SELF_RECIPIENT in json.dumps(body["errors"])
        assert step_of(alice.check_message())[0] == "recipient"
        await alice.answer_form({"sc_user": BOB})
        assert step_of(alice.check_message())[0] != "recipient"
        async with runtime.sessions() as s:
            answered = list(await s.scalars(select(CheckEvent.data).where(CheckEvent.kind == "answered")))
        assert [a["recipient"] for a in answered if "recipient" in a] == [{"user_id": BOB}]


async def test_teams_refuses_mentioning_yourself_as_the_recipient(
    teams: Teams,
    runtime: Runtime,
) -> None:
    # the check is started in Teams and answered up to the recipient (the Teams forms are tested elsewhere)
    card = await teams.sender.say("share-check")
    assert teams_step(card) == runtime.packs.pack().start
    async with runtime.sessions() as s:
        check = (await s.scalars(select(Check))).one()
    await answer_until(runtime, Actor(check.platform, check.workspace_id, check.user_id), check.id, "recipient")
    refused = await teams.say(SENDER, "<at>Me</at>", [mention(SENDER, "Me")])
    assert teams_step(refused) == "recipient"
    assert "You cannot name yourself as the recipient" in text_of(refused)
    accepted = await teams.say(SENDER, "<at>Colleague</at>", [mention(COLLEAGUE)])
    assert teams_step(accepted) not in (None, "recipient")


# the share path typed in the console, in the pack's order, up to the recipient and from it to the saved record
CONSOLE_TO_RECIPIENT = [
    "2",  # start: nobody in immediate danger
    "2",  # start: my own initiative
    "1",  # gates: a clear purpose
    "1",  # gates: a risk of harm
    "1",  # gates: nothing holding me back
    "CS-2024-0113",  # gates: the case reference
    "1",  # decision: share
    "So the health visitor can monitor the weight concerns from the review.",  # what and why
]
CONSOLE_FROM_RECIPIENT = [
    RECIPIENT,
    "2",  # how: NHSmail
    "1",  # how: now
    "1",  # how: public task
    "2",  # how: no special category information
    "2",  # how: I will tell them
    "a",  # before you send: all true
    "s",  # review: save
]


async def test_the_console_refuses_naming_yourself(sqlite_url: str, clock: ManualClock) -> None:
    rt = await runtime_with(sqlite_url, clock)
    try:
        lines = [*CONSOLE_TO_RECIPIENT, "@alice", *CONSOLE_FROM_RECIPIENT]
        stdin, stdout = io.StringIO("\n".join(lines) + "\n"), io.StringIO()
        assert await ConsoleChat(Conversation(rt, CONSOLE), "alice", stdin, stdout).run() == 0
        out = " ".join(stdout.getvalue().split())
        assert SELF_RECIPIENT in out and "DECISION RECORDED: SHARE" in out
        async with rt.sessions() as s:
            check = (await s.scalars(select(Check))).one()
        assert check.state["answers"]["recipient"]["recipient"]["organisation"] == "Northshire Community Health"
    finally:
        await rt.close()


async def test_the_service_refuses_yourself_but_not_a_colleague(db_url: str, clock: ManualClock) -> None:
    rt = await runtime_with(db_url, clock)
    try:
        alice = Actor("slack", T1, ALICE)
        started = await rt.checks.start(alice)
        assert started.check_id is not None
        revision = (await answer_until(rt, alice, started.check_id, "recipient")).revision
        mine = Answer(step_id="recipient", revision=revision, recipient=Recipient(user_id=ALICE))
        refused = await rt.checks.answer(alice, started.check_id, mine)
        assert refused.outcome is Outcome.REFUSED and refused.error == SELF_RECIPIENT
        assert isinstance(refused.message, Prompt) and refused.message.notice == SELF_RECIPIENT
        bob = Answer(step_id="recipient", revision=revision, recipient=Recipient(user_id=BOB))
        assert (await rt.checks.answer(alice, started.check_id, bob)).outcome is Outcome.ADVANCED
    finally:
        await rt.close()
