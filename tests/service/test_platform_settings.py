"""Issue 18 item 7: every setting that names people (SHARECHECK_ADMINS, SHARECHECK_DEFAULT_LEAD) takes one entry
per platform, comma separated, as DESIGN.md section 3 says; a malformed entry stops start-up with a clear error;
and one deployment with Slack and Teams both on gives each platform its own lead and administrators."""

from __future__ import annotations

import io
from contextlib import redirect_stderr
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.checks.models import Actor
from bot.clock import ManualClock
from bot.runtime import Runtime
from bot.services import role_trail
from bot.services.roles import NotPermitted
from bot.settings import Settings
from bot.user_refs import Platform, UserRef
from sharecheck.cli import main
from tests.support.fake_slack import BOT_TOKEN
from tests.support.settings import make_settings
from tests.support.slack_requests import SECRET
from tests.support.teams import EMULATOR

CONTRACT_EXAMPLE = "slack:U123,teams:29:abc,console:dsl"
"""The form DESIGN.md section 3 gives: ``platform:user`` entries separated by commas, one per platform."""
SLACK_TEAM, TEAMS_TENANT = "T0000001", "emulator"


# --- parsing ---------------------------------------------------------------------------------------------------


def test_the_contracts_form_from_the_environment(monkeypatch: pytest.MonkeyPatch, sqlite_url: str) -> None:
    monkeypatch.setenv("SHARECHECK_DEFAULT_LEAD", CONTRACT_EXAMPLE)
    monkeypatch.setenv("SHARECHECK_ADMINS", "slack:UADMIN1,slack:T0000001:UADMIN2,teams:29:1boss,console:root")
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.default_lead_refs == (
        UserRef(Platform.SLACK, None, "U123"),
        UserRef(Platform.TEAMS, None, "29:abc"),
        UserRef(Platform.CONSOLE, None, "dsl"),
    )
    # any number of administrators per platform, scoped to a workspace or not
    assert settings.admin_refs == (
        UserRef(Platform.SLACK, None, "UADMIN1"),
        UserRef(Platform.SLACK, "T0000001", "UADMIN2"),
        UserRef(Platform.TEAMS, None, "29:1boss"),
        UserRef(Platform.CONSOLE, None, "root"),
    )


def test_the_contracts_form_from_a_dotenv_file(tmp_path: Path, sqlite_url: str) -> None:
    env = tmp_path / ".env"
    env.write_text(f"DATABASE_URL={sqlite_url}\nSHARECHECK_DEFAULT_LEAD={CONTRACT_EXAMPLE}\n", encoding="utf-8")
    settings = Settings(_env_file=env)  # type: ignore[call-arg]
    assert [str(r) for r in settings.default_lead_refs] == CONTRACT_EXAMPLE.split(",")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", ()),
        (" , ,", ()),
        (" Slack:U1 ,TEAMS:29:x,", ("slack:U1", "teams:29:x")),  # spaces, case of the platform, a trailing comma
        ("slack:U1,slack:U1", ("slack:U1",)),  # the same entry twice counts once
        (["slack:U1", "teams:29:x"], ("slack:U1", "teams:29:x")),  # given in code as a list
    ],
)
def test_blank_repeated_and_listed_entries(sqlite_url: str, value: object, expected: tuple[str, ...]) -> None:
    settings = make_settings(sqlite_url, sharecheck_admins=value, sharecheck_default_lead=value)
    assert tuple(map(str, settings.admin_refs)) == expected
    assert tuple(map(str, settings.default_lead_refs)) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("slack:U1,alice", r"entry 2: 'alice' is not 'platform:user'"),
        ("slack:U1,mattermost:U2", r"entry 2: 'mattermost:U2' is not 'platform:user' .*slack, teams, console"),
        ("teams:29:a b", r"entry 1: 'teams:29:a b': '29:a b' is not a Teams user id"),
        ("slack:T1:U1:X", r"entry 1: 'slack:T1:U1:X': use slack:USER or slack:WORKSPACE:USER"),
        ("slack:U1;teams:29:x", r"entry 1: .* use slack:USER"),  # the wrong separator
        ('["slack:U1", "teams:29:x"]', r"separated by commas .*not as a JSON list"),
    ],
)
@pytest.mark.parametrize("setting", ["sharecheck_admins", "sharecheck_default_lead"])
def test_a_malformed_entry_is_refused_naming_it(sqlite_url: str, setting: str, value: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message) as refused:
        make_settings(sqlite_url, **{setting: value})
    assert [e["loc"] for e in refused.value.errors()] == [(setting,)]


def test_two_default_leads_for_one_platform_are_refused(sqlite_url: str) -> None:
    with pytest.raises(ValidationError, match=r"names two people for teams \(unscoped\): teams:29:a and teams:29:b"):
        make_settings(sqlite_url, sharecheck_default_lead="slack:U1,teams:29:a,teams:29:b")
    # one per workspace is fine
    make_settings(sqlite_url, sharecheck_default_lead="slack:T1:U1,slack:T2:U2,teams:29:a")


def test_start_up_names_the_setting_and_the_entry(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sqlite_url: str
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv("SHARECHECK_ADMINS", "slack:U1,teams:")
    err = io.StringIO()
    with redirect_stderr(err):
        assert main(["db", "upgrade"]) == 2
    assert "SHARECHECK_ADMINS: Value error, entry 2: 'teams:' is not 'platform:user'" in err.getvalue()


# --- one deployment, both platforms -------------------------------------------------------------------------------


async def test_one_deployment_gives_each_platform_its_own_lead_and_administrators(
    db_url: str, clock: ManualClock
) -> None:
    settings = make_settings(
        db_url,
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SECRET,
        sharecheck_default_lead="slack:USLACKLEAD,teams:29:1teams-lead,console:dsl",
        sharecheck_admins="slack:USLACKADMIN,teams:29:1teams-admin,console:root",
        **EMULATOR,
    )
    assert settings.slack_enabled and settings.teams_enabled
    rt = await Runtime.create(settings, clock=clock, migrate=True)
    slack, teams, console = (
        Actor("slack", SLACK_TEAM, "U0PRACTITIONER"),
        Actor("teams", TEAMS_TENANT, "29:1practitioner"),
        Actor("console", "local", "alice"),
    )
    try:
        # every entry is on the trail, under its own platform
        recorded = {(c.kind, c.platform, c.subject) for c in await rt.roles.record_settings()}
        assert recorded == {
            (role_trail.DEFAULT_LEAD_APPLIED, "slack", "USLACKLEAD"),
            (role_trail.DEFAULT_LEAD_APPLIED, "teams", "29:1teams-lead"),
            (role_trail.DEFAULT_LEAD_APPLIED, "console", "dsl"),
            (role_trail.BOOTSTRAP_ADMIN_APPLIED, "slack", "USLACKADMIN"),
            (role_trail.BOOTSTRAP_ADMIN_APPLIED, "teams", "29:1teams-admin"),
            (role_trail.BOOTSTRAP_ADMIN_APPLIED, "console", "root"),
        }
        for actor in (slack, teams, console):
            await rt.checks.start(actor)

        # each practitioner gets their own platform's default lead, and only that lead gets their digests
        async with rt.sessions() as s:
            assert await rt.leads.lead_for(s, "slack", SLACK_TEAM, slack.user_id) == "USLACKLEAD"
            assert await rt.leads.lead_for(s, "teams", TEAMS_TENANT, teams.user_id) == "29:1teams-lead"
            assert await rt.leads.lead_for(s, "console", "local", console.user_id) == "dsl"
        assert await rt.digests.leads() == [
            ("console", "local", "dsl"),
            ("slack", SLACK_TEAM, "USLACKLEAD"),
            ("teams", TEAMS_TENANT, "29:1teams-lead"),
        ]
        assert await rt.digests.is_lead("slack", SLACK_TEAM, "USLACKLEAD")
        assert await rt.digests.is_lead("teams", TEAMS_TENANT, "29:1teams-lead")
        assert not await rt.digests.is_lead("teams", TEAMS_TENANT, "USLACKLEAD")
        assert not await rt.digests.is_lead("slack", SLACK_TEAM, "29:1teams-lead")

        # each administrator is one on their own platform only
        slack_admin = Actor("slack", SLACK_TEAM, "USLACKADMIN")
        teams_admin = Actor("teams", TEAMS_TENANT, "29:1teams-admin")
        assert await rt.roles.is_admin(slack_admin)
        assert await rt.roles.is_admin(teams_admin)
        assert await rt.roles.is_admin(Actor("console", "local", "root"))
        assert not await rt.roles.is_admin(Actor("teams", TEAMS_TENANT, "USLACKADMIN"))
        assert not await rt.roles.is_admin(Actor("slack", SLACK_TEAM, "29:1teams-admin"))
        assert await rt.roles.add_lead(slack_admin, "USLACKLEAD2", "user", [slack.user_id]) == 1
        assert await rt.roles.add_lead(teams_admin, "29:1teams-lead2", "user", [teams.user_id]) == 1
        with pytest.raises(NotPermitted):
            await rt.roles.add_lead(Actor("teams", TEAMS_TENANT, "USLACKADMIN"), "29:x", "workspace")
        async with rt.sessions() as s:
            assert await rt.leads.lead_for(s, "slack", SLACK_TEAM, slack.user_id) == "USLACKLEAD2"
            assert await rt.leads.lead_for(s, "teams", TEAMS_TENANT, teams.user_id) == "29:1teams-lead2"
        assert [(a.platform, a.lead_id) for a in await rt.leads.list()] == [
            ("slack", "USLACKLEAD2"),
            ("teams", "29:1teams-lead2"),
        ]

        # a second Slack workspace ends the unscoped Slack entries (they would reach into it), not Teams' ones
        await rt.checks.start(Actor("slack", "T0000002", "U0OTHER"))
        assert not await rt.roles.is_admin(slack_admin)
        assert await rt.roles.is_admin(teams_admin)
        async with rt.sessions() as s:
            assert await rt.leads.lead_for(s, "teams", TEAMS_TENANT, "29:1newcomer") == "29:1teams-lead"
        assert await rt.roles.warn_unscoped() == ["slack"]
    finally:
        await rt.close()
