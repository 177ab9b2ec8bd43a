"""The `python -m bench` summary: each bench's JSON line read against its issue 9 target (no timing here)."""

from __future__ import annotations

from typing import Any

from bench.__main__ import Outcome, rows_for, summary


def outcome(result: dict[str, Any] | None, returncode: int = 0, name: str = "bench_x") -> Outcome:
    return Outcome(name=name, seconds=12.0, returncode=returncode, result=result)


def results(result: dict[str, Any]) -> dict[str, bool | None]:
    return {r.figure: r.met for r in rows_for(outcome(result))}


def test_engine_target_is_over_2000_checks_per_second() -> None:
    assert results({"bench": "engine", "checks_per_s": 2001, "ratio": 0.2}) == {"engine alone": True}
    assert results({"bench": "engine", "checks_per_s": 2000, "ratio": 0.2}) == {"engine alone": False}


def test_slack_ack_targets_at_both_loads() -> None:
    at50 = {"concurrency": 50, "ours_median_ms": 20.0, "ours_p99_ms": 250.0, "bare_median_ms": 10.0, "bare_p99_ms": 50}
    at200 = {"concurrency": 200, "ours_rps": 900, "ours_p99_ms": 300.0, "throughput_ratio": 0.6, "p99_ratio": 2.5}
    got = results({"bench": "slack_ack", "loads": [at50, at200]})
    assert got == {"ack median @50": True, "ack p99 @50": False, "acks/s @200": True, "ack p99 @200": False}
    row = next(
        r
        for r in rows_for(outcome({"bench": "slack_ack", "loads": [at50, at200]}))
        if r.figure.startswith("ack median")
    )
    assert row.ratio == "2.00x"


def test_followups_need_rate_no_duplicates_no_misses_and_lag() -> None:
    runs = [
        {"case": "postgres x1", "followups_per_s": 300.0, "duplicates": 0, "misses": 0, "lag_p99_s": 3.0},
        {"case": "postgres x2", "followups_per_s": 650.0, "duplicates": 0, "misses": 1, "lag_p99_s": 1.5},
    ]
    got = results({"bench": "followups", "runs": runs, "baseline_posts_per_s": 1300.0})
    assert got == {"follow-ups/s, 2 PG": True, "duplicates / misses": False, "lag p99, 2 PG, burst": None}
    # the lag target is judged in the steady state; a burst's lag is backlog over throughput, shown only
    steady = [{"case": "postgres x2", "duplicates": 0, "misses": 0, "lag_p99_s": 2.5}]
    got = results(
        {
            "bench": "followups",
            "runs": [runs[0], {**runs[1], "misses": 0}],
            "steady": steady,
            "baseline_posts_per_s": 1300.0,
        }
    )
    assert got == {
        "follow-ups/s, 2 PG": True,
        "duplicates / misses": True,
        "lag p99, 2 PG, steady": False,
        "lag p99, 2 PG, burst": None,
    }


def test_teams_step_target_and_the_instruction_count_where_valgrind_ran() -> None:
    timed = {"bench": "teams_step", "step_rps": 300, "ratio": 0.49}
    assert results(timed) == {"step throughput": False}
    counted = {**timed, "ratio": 0.8, "step_instructions": 5_000_000, "echo_instructions": 4_000_000}
    assert results(counted) == {"step throughput": True, "server work per step": None}
    row = rows_for(outcome(counted))[1]
    assert (row.value, row.ratio) == ("5.00 M instructions", "1.25x of echo")


def test_digest_and_memory_targets() -> None:
    digest = {"bench": "digest", "sqlite_digest_s": 2.5, "sqlite_count_only_s": 0.01, "postgres_digest_s": 1.2}
    digest["postgres_count_only_s"] = 0.01
    assert results(digest) == {"digest postgres": False, "digest sqlite": True}
    memory = {"bench": "memory", "results": [{"stored": 0}, {"stored": 10000}], "max_rss_mb": 140, "growth_ratio": 1.3}
    assert results(memory) == {"serve RSS, 10,000 stored": True, "RSS growth vs empty": False}


def test_a_bench_without_a_json_line_or_with_an_unknown_shape_is_reported_not_fatal() -> None:
    assert [r.met for r in rows_for(outcome(None, returncode=1))] == [False]
    assert rows_for(outcome({"bench": "teams_step"}))[0].figure == "(JSON not understood)"
    table = summary([outcome({"bench": "engine", "checks_per_s": 2500, "ratio": 0.3}, name="bench_engine")], 700.0)
    assert "met" in table and "OVER the 10 min budget" in table


def test_check_length_rows_carry_each_paths_figures_and_verdict() -> None:
    paths = [
        {"pack": "p", "path": "share (common)", "answers": 12, "typed": 3, "words": 590, "met": True},
        {
            "pack": "p",
            "path": "do not share (decided)",
            "answers": 20,
            "typed": 2,
            "words": 900,
            "met": False,
            "how_to_share_asked": ["method"],
        },
        {"pack": "p", "path": "seek advice", "answers": 9, "typed": 1, "words": 300, "met": None},
    ]
    rows = rows_for(outcome({"bench": "check_length", "paths": paths}))
    assert [(r.figure, r.met) for r in rows] == [
        ("p: share (common)", True),
        ("p: do not share (decided)", False),
        ("p: seek advice", None),
    ]
    assert rows[0].value == "12 answers, 3 typed, 590 words"
    assert rows[1].target.endswith("asked 1 how-to-share questions")
