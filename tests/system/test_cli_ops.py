"""Operations from the command line: leads, the scheduler as its own process."""

from __future__ import annotations

from tests.support.cli import run


def test_leads_add_list_remove(env: dict[str, str]) -> None:
    added = run(["leads", "add", "--platform", "slack", "--workspace", "T1", "--lead", "ULEAD", "--all"], env)
    assert added.returncode == 0, added.stderr
    assert "added: ULEAD leads workspace" in added.stdout
    again = run(["leads", "add", "--platform", "slack", "--workspace", "T1", "--lead", "ULEAD", "--all"], env)
    assert "already there" in again.stdout
    run(
        ["leads", "add", "--platform", "slack", "--workspace", "T1", "--lead", "UL2", "--user", "U1", "--user", "U2"],
        env,
    )
    listing = run(["leads", "list"], env).stdout
    assert "slack T1: ULEAD leads workspace" in listing
    assert "slack T1: UL2 leads user U1" in listing and "slack T1: UL2 leads user U2" in listing
    assert (
        "removed 2 assignment(s)"
        in run(["leads", "remove", "--platform", "slack", "--workspace", "T1", "--lead", "UL2"], env).stdout
    )
    bad = run(["leads", "add", "--platform", "slack", "--workspace", "T1", "--lead", "X"], env)
    assert bad.returncode == 2 and "one of the arguments --all --user --channel is required" in bad.stderr


def test_scheduler_once_runs_and_exits(env: dict[str, str]) -> None:
    result = run(["scheduler", "--once"], env)
    assert result.returncode == 0, result.stderr
    assert "scheduler pass: 0 follow-ups advanced, 0 delivered" in result.stderr


def test_digest_dry_run_prints_the_digest(env: dict[str, str]) -> None:
    run(["leads", "add", "--platform", "slack", "--workspace", "T1", "--lead", "ULEAD", "--all"], env)
    result = run(["digest", "--lead", "ULEAD", "--dry-run"], env)
    assert result.returncode == 0, result.stderr
    assert "Information sharing in your team: week to" in result.stdout
    assert "Nothing this period" in result.stdout
    assert "Checks completed, last 8 weeks" in result.stdout
    unknown = run(["digest", "--lead", "UNOBODY", "--dry-run"], env)
    assert unknown.returncode == 2 and "is a lead in nowhere" in unknown.stderr


def test_export_filtered_by_lead_needs_the_workspace(env: dict[str, str]) -> None:
    bad = run(["export", "--since", "2026-01-01", "--lead", "ULEAD"], env)
    assert bad.returncode == 2 and "--lead needs --platform and --workspace" in bad.stderr
    run(["leads", "add", "--platform", "slack", "--workspace", "T1", "--lead", "ULEAD", "--all"], env)
    ok = run(["export", "--since", "2026-01-01", "--lead", "ULEAD", "--platform", "slack", "--workspace", "T1"], env)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("check_id,case_reference")
