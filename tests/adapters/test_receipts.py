"""Receipt links through the real server: every state of a link, the answers, CSRF, rate limits, headers."""

from __future__ import annotations

import logging
import os
import re
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from adapters.receipt import RECEIPT_LIMITS, ReceiptLimits, csrf_token
from bot.checks.models import Actor
from bot.clock import ManualClock
from bot.db.models import CheckEvent, OutboxMessage, ReceiptLink
from bot.ratelimit import TokenBucket
from bot.runtime import Runtime
from bot.scheduler import Scheduler
from bot.services.receipts import ReceiptNotFound, hash_token, new_token, resolve_secret_key
from dialogs import text_safety
from dialogs.messages import FollowUpPrompt, Info
from dialogs.state import Recipient
from sharecheck.web import build_app
from tests.support.deliverers import RecordingDeliverer
from tests.support.receipts import LEAD, ORGANISATION, PUBLIC_URL, SENDER, finish, follow_up, receipt_runtime, token_of
from tests.support.settings import make_settings

CASE = "CS-2024-0113"
SAFE_TITLE = re.compile(r"<title>(Error: )?[A-Za-z ]+ – ShareCheck</title>")


@pytest.fixture
async def rt(db_url: str, clock: ManualClock) -> AsyncIterator[Runtime]:
    async with receipt_runtime(db_url, clock) as runtime:
        await runtime.leads.assign("slack", "T1", LEAD, "workspace", "", clock.now())
        yield runtime


@pytest.fixture
async def client(rt: Runtime) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(build_app(rt))) as c:
        yield c


@pytest.fixture
def platform() -> RecordingDeliverer:
    return RecordingDeliverer()


@pytest.fixture
def scheduler(rt: Runtime, platform: RecordingDeliverer) -> Scheduler:
    return Scheduler(rt, {"slack": platform}, instance_id="receipt-test")


async def shared(rt: Runtime) -> tuple[uuid.UUID, str]:
    check_id, done = await finish(rt, SENDER, {})
    return check_id, token_of(done)


def form(rt: Runtime, token: str, **fields: str) -> dict[str, str]:
    return {
        "csrf": csrf_token(rt.receipts.secret_key, hash_token(token)),
        "name": "Jo Bloggs",
        "organisation": "Northshire Police, MASH",
        **fields,
    }


async def events(rt: Runtime, check_id: uuid.UUID) -> list[CheckEvent]:
    async with rt.sessions() as s:
        return list(await s.scalars(select(CheckEvent).where(CheckEvent.check_id == check_id).order_by(CheckEvent.seq)))


async def answers(rt: Runtime, check_id: uuid.UUID) -> list[CheckEvent]:
    return [e for e in await events(rt, check_id) if e.kind == "follow_up_answered"]


def assert_secure_headers(headers: object) -> None:
    h = dict(headers)  # type: ignore[call-overload]
    csp = h["Content-Security-Policy"]
    assert csp.startswith("default-src 'none'; style-src 'sha256-")
    assert "script-src" not in csp and "frame-ancestors 'none'" in csp and "form-action 'self'" in csp
    assert h["Referrer-Policy"] == "no-referrer"
    assert h["Cache-Control"] == "no-store"
    assert h["X-Frame-Options"] == "DENY"
    assert h["X-Content-Type-Options"] == "nosniff"
    assert "Set-Cookie" not in h


# --- the link itself ----------------------------------------------------------------------------


async def test_a_share_outside_the_workspace_carries_a_link_stored_only_as_a_hash(rt: Runtime) -> None:
    check_id, done = await finish(rt, SENDER, {})
    token = token_of(done)
    url = f"{PUBLIC_URL}/r/{token}"
    assert done.covering_note is not None and url in done.covering_note.splitlines()[-1]
    assert [link.url for link in done.links if "/r/" in link.url] == [url]
    assert url not in done.case_notes  # the case record is read widely; the link is a bearer secret
    assert len(token) == 43  # 32 random bytes
    async with rt.sessions() as s:
        [link] = list(await s.scalars(select(ReceiptLink)))
    assert link.token_hash == hash_token(token) and token not in repr(vars(link))
    assert link.shared_by == ORGANISATION
    assert link.expires_at - link.created_at == timedelta(days=14)
    assert all(token not in repr(e.data) for e in await events(rt, check_id))
    assert "receipt_link_created" in [e.kind for e in await events(rt, check_id)]


async def test_the_senders_question_mentions_the_link(
    rt: Runtime, clock: ManualClock, platform: RecordingDeliverer, scheduler: Scheduler
) -> None:
    await shared(rt)
    clock.advance(timedelta(hours=4))
    await scheduler.run_once()
    [ask] = platform.to(SENDER.user_id)
    assert (
        isinstance(ask, FollowUpPrompt) and "receipt link in your covering note (until 8 December 2026)" in ask.lines[0]
    )


async def test_no_public_url_means_no_link_and_no_route(runtime: Runtime) -> None:
    _, done = await finish(runtime, SENDER, {})
    assert done.covering_note is not None and "/r/" not in done.covering_note
    assert not [link for link in done.links if "/r/" in link.url]
    async with runtime.sessions() as s:
        assert list(await s.scalars(select(ReceiptLink))) == []
    async with TestClient(TestServer(build_app(runtime))) as c:
        assert (await c.get(f"/r/{new_token()}")).status == 404


async def test_a_colleague_in_the_workspace_gets_no_link(rt: Runtime) -> None:
    _, done = await finish(rt, SENDER, {"recipient": Recipient(user_id="URECIP")})
    assert done.covering_note is None or "/r/" not in done.covering_note


async def test_the_practitioners_chosen_name_is_shown(rt: Runtime, client: TestClient) -> None:
    await rt.receipts.set_display_name(SENDER, "  Sam   <b>Patel</b> ")
    _, token = await shared(rt)
    body = await (await client.get(f"/r/{token}")).text()
    assert f"Sam &lt;b&gt;Patel&lt;/b&gt;, {ORGANISATION}".replace("'", "&#39;") in body


# --- the page in each state ---------------------------------------------------------------------


async def test_a_new_link_shows_who_what_when_and_how(rt: Runtime, client: TestClient) -> None:
    _, token = await shared(rt)
    resp = await client.get(f"/r/{token}")
    assert resp.status == 200
    assert_secure_headers(resp.headers)
    body = await resp.text()
    assert SAFE_TITLE.search(body) and CASE not in body.split("</title>")[0]
    for text in (CASE, "24 Nov 2026", "CJSM (Criminal Justice Secure eMail)", "Northshire Children&#39;s Services"):
        assert text in body
    for label in ("Received and understood", "Received", "I need clarification", "link but not the information"):
        assert label in body
    assert '<label for="name">' in body and "<legend>Your answer</legend>" in body and "<script" not in body


async def test_received_and_understood_closes_the_loop_and_tells_the_sender(
    rt: Runtime, client: TestClient, clock: ManualClock, platform: RecordingDeliverer, scheduler: Scheduler
) -> None:
    check_id, token = await shared(rt)
    clock.advance(timedelta(minutes=30))
    resp = await client.post(
        f"/r/{token}", data=form(rt, token, answer="understood", next_step="Strategy meeting <today>")
    )
    assert resp.status == 200
    assert_secure_headers(resp.headers)
    body = await resp.text()
    assert "Answer sent" in body and "Received and understood" in body and "<today>" not in body
    fu = await follow_up(rt, check_id)
    assert fu.state == "confirmed" and fu.due_at is None
    [event] = await answers(rt, check_id)
    assert event.actor == "sharecheck:receipt-link"
    assert event.data["answer"] == "understood" and event.data["via"] == "receipt_link"
    assert event.data["recipient_name"] == "Jo Bloggs"
    assert event.data["recipient_organisation"] == "Northshire Police, MASH"
    assert event.data["note"] == "Strategy meeting <today>"

    await scheduler.run_once()  # the sender is told at once, not at the next follow-up time
    [notice] = platform.to(SENDER.user_id)
    assert isinstance(notice, Info)
    assert "“Jo Bloggs, Northshire Police, MASH”" in text_safety.render(notice.lines[0], text_safety.plain)
    assert "arrived and is understood" in notice.lines[0] and "Strategy meeting <today>" in notice.lines[0]
    # no nudge and no escalation ever follow a confirmation
    for _ in range(6):
        clock.advance(timedelta(days=1))
        await scheduler.run_once()
    assert platform.to(SENDER.user_id) == [notice]
    assert not [m for m in platform.to(LEAD) if isinstance(m, Info | FollowUpPrompt)]  # (the weekly digest only)


async def test_an_answered_link_shows_what_and_when_and_takes_no_second_answer(
    rt: Runtime, client: TestClient, clock: ManualClock
) -> None:
    check_id, token = await shared(rt)
    await client.post(f"/r/{token}", data=form(rt, token, answer="received"))
    clock.advance(timedelta(days=2))
    resp = await client.get(f"/r/{token}")
    body = await resp.text()
    assert resp.status == 200 and "already been answered" in body
    assert "<strong>Received</strong>, on 24 November 2026 at 10:00" in body and "<form" not in body
    again = await client.post(f"/r/{token}", data=form(rt, token, answer="no_information"))
    assert again.status == 200 and "already been answered" in await again.text()
    assert [e.data["answer"] for e in await answers(rt, check_id)] == ["received"]
    outcome, _ = await rt.receipts.answer(token, "understood", None, "A", "B")
    assert outcome == "already_answered"


async def test_received_alone_tells_the_sender_and_keeps_their_question(
    rt: Runtime, client: TestClient, clock: ManualClock, platform: RecordingDeliverer, scheduler: Scheduler
) -> None:
    check_id, token = await shared(rt)
    await client.post(f"/r/{token}", data=form(rt, token, answer="received"))
    await scheduler.run_once()
    [notice] = platform.to(SENDER.user_id)
    assert isinstance(notice, Info) and "not yet that it is clear" in notice.lines[0]
    assert (await follow_up(rt, check_id)).state == "scheduled"
    clock.advance(timedelta(hours=4))
    await scheduler.run_once()
    assert isinstance(platform.to(SENDER.user_id)[-1], FollowUpPrompt)  # arrival is not understanding


async def test_clarification_needs_what_is_unclear_then_reaches_the_sender(
    rt: Runtime, client: TestClient, platform: RecordingDeliverer, scheduler: Scheduler
) -> None:
    check_id, token = await shared(rt)
    resp = await client.post(f"/r/{token}", data=form(rt, token, answer="clarification"))
    body = await resp.text()
    assert resp.status == 400 and "<title>Error: Confirm receipt – ShareCheck</title>" in body
    assert '<a href="#unclear">Say what is unclear</a>' in body and 'aria-invalid="true"' in body
    assert 'value="Jo Bloggs"' in body  # what they typed is kept
    assert await answers(rt, check_id) == []
    resp = await client.post(f"/r/{token}", data=form(rt, token, answer="clarification", unclear="Which address?"))
    assert resp.status == 200
    assert (await follow_up(rt, check_id)).state == "clarification"
    await scheduler.run_once()
    [notice] = platform.to(SENDER.user_id)
    assert isinstance(notice, Info)
    assert "needs clarification: “Which address?”" in text_safety.render(notice.lines[0], text_safety.plain)


async def test_no_information_escalates_to_the_lead_and_offers_the_disagreement_route(
    rt: Runtime, client: TestClient, platform: RecordingDeliverer, scheduler: Scheduler
) -> None:
    check_id, token = await shared(rt)
    resp = await client.post(f"/r/{token}", data=form(rt, token, answer="no_information"))
    assert resp.status == 200
    fu = await follow_up(rt, check_id)
    assert fu.state == "not_received" and fu.escalated_at is not None
    await scheduler.run_once()
    to_sender = platform.to(SENDER.user_id)
    assert any(isinstance(m, Info) and "does NOT have the information" in m.lines[0] for m in to_sender)
    assert any(isinstance(m, FollowUpPrompt) and "disagreement" in m.title for m in to_sender)
    [escalation] = platform.to(LEAD)
    assert isinstance(escalation, Info) and "has NOT arrived" in escalation.lines[0]
    assert "Jo Bloggs" in escalation.lines[0]
    kinds = [e.kind for e in await events(rt, check_id)]
    at = kinds.index("follow_up_answered")
    assert kinds[at : at + 3] == ["follow_up_answered", "follow_up_escalated", "disagreement_offered"]


async def test_no_information_after_the_sender_closed_it_in_chat_is_not_escalated(
    rt: Runtime, client: TestClient, clock: ManualClock, platform: RecordingDeliverer, scheduler: Scheduler
) -> None:
    check_id, token = await shared(rt)
    clock.advance(timedelta(hours=5))
    await scheduler.run_once()  # the sender is asked in chat...
    fu = await follow_up(rt, check_id)
    closed = await rt.followups.answer(SENDER, fu.id, "confirmed")  # ...and closes the loop there
    assert closed.changed
    resp = await client.post(f"/r/{token}", data=form(rt, token, answer="no_information"))
    assert resp.status == 200
    fu = await follow_up(rt, check_id)
    assert fu.state == "confirmed" and fu.escalated_at is None  # the outcome settled in chat stands
    await scheduler.run_once()
    assert [m for m in platform.to(LEAD) if isinstance(m, Info | FollowUpPrompt)] == []
    late = [m for m in platform.to(SENDER.user_id) if isinstance(m, Info) and "do NOT have" in m.lines[0]]
    assert len(late) == 1 and "lead has not been told" in late[0].lines[0]
    kinds = [e.kind for e in await events(rt, check_id)]
    assert "follow_up_answered" in kinds
    assert "follow_up_escalated" not in kinds and "disagreement_offered" not in kinds


async def test_missing_fields_are_listed_in_an_error_summary(rt: Runtime, client: TestClient) -> None:
    check_id, token = await shared(rt)
    resp = await client.post(f"/r/{token}", data={"csrf": form(rt, token)["csrf"]})
    body = await resp.text()
    assert resp.status == 400
    assert 'role="alert"' in body and "There is a problem" in body
    for anchor in ('href="#name">Enter your name', 'href="#organisation">Enter your organisation', 'href="#answer-'):
        assert anchor in body
    assert await answers(rt, check_id) == []


async def test_expired_revoked_unknown_and_tampered_links_look_the_same(
    db_url: str, clock: ManualClock, tmp_path: Path
) -> None:
    async with receipt_runtime(db_url, clock) as rt, TestClient(TestServer(build_app(rt))) as client:
        _, expiring = await shared(rt)
        await rt.checks.start(SENDER)  # (a second check needs the first finished: it is)
        other = Actor("slack", "T1", "UOTHER")
        _, done = await finish(rt, other, {"case_reference": "CS-2024-0999"})
        revoked = token_of(done)
        with pytest.raises(ReceiptNotFound):
            await rt.receipts.revoke(SENDER, "CS-2024-0999")  # not theirs
        assert await rt.receipts.revoke(other, "CS-2024-0999") == 1
        with pytest.raises(ReceiptNotFound):
            await rt.receipts.revoke(other, "CS-2024-0999")  # already withdrawn
        tampered = expiring[:-1] + ("A" if expiring[-1] != "A" else "B")
        pages = []
        for token in (revoked, new_token(), tampered, "short", "a" * 200):
            resp = await client.get(f"/r/{token}")
            assert_secure_headers(resp.headers)
            pages.append((resp.status, await resp.text()))
        clock.advance(timedelta(days=14, seconds=1))
        resp = await client.get(f"/r/{expiring}")
        pages.append((resp.status, await resp.text()))
        assert {status for status, _ in pages} == {404}
        assert len({body for _, body in pages}) == 1 and "This link does not work" in pages[0][1]
        # a form opened before expiry cannot be sent after it
        late = await client.post(f"/r/{expiring}", data=form(rt, expiring, answer="understood"))
        assert late.status == 404
        async with rt.sessions() as s:
            assert [
                e.kind for e in await s.scalars(select(CheckEvent).where(CheckEvent.kind == "follow_up_answered"))
            ] == []
            assert await s.scalar(select(CheckEvent).where(CheckEvent.kind == "receipt_link_revoked")) is not None


# --- CSRF, rate limits, logs -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("csrf", "headers"),
    [
        (None, {}),
        ("0" * 64, {}),
        ("other", {}),  # a valid form of another link
        ("right", {"Sec-Fetch-Site": "cross-site"}),
    ],
)
async def test_a_form_without_its_own_csrf_token_is_refused_and_nothing_recorded(
    rt: Runtime, client: TestClient, csrf: str | None, headers: dict[str, str]
) -> None:
    check_id, token = await shared(rt)
    data = form(rt, token, answer="understood")
    if csrf is None:
        del data["csrf"]
    elif csrf == "other":
        data["csrf"] = csrf_token(rt.receipts.secret_key, hash_token(new_token()))
    elif csrf != "right":
        data["csrf"] = csrf
    resp = await client.post(f"/r/{token}", data=data, headers=headers)
    assert resp.status == 403
    assert_secure_headers(resp.headers)
    assert "Nothing has been recorded" in await resp.text()
    assert await answers(rt, check_id) == []
    async with rt.sessions() as s:
        assert (await s.scalar(select(ReceiptLink))).answered_at is None  # type: ignore[union-attr]
        assert list(await s.scalars(select(OutboxMessage))) == []


async def test_each_link_is_rate_limited(rt: Runtime, client: TestClient) -> None:
    _, token = await shared(rt)
    statuses = [(await client.get(f"/r/{token}")).status for _ in range(20)]
    assert statuses == [200] * 20
    resp = await client.get(f"/r/{token}")
    assert resp.status == 429 and int(resp.headers["Retry-After"]) >= 1
    assert_secure_headers(resp.headers)
    assert (await client.post(f"/r/{token}", data=form(rt, token, answer="understood"))).status == 429


async def test_each_address_is_rate_limited_across_links(rt: Runtime) -> None:
    app = build_app(rt)
    now = [0.0]
    app[RECEIPT_LIMITS] = ReceiptLimits(TokenBucket(5, 1.0, clock=lambda: now[0]), TokenBucket(20, 1 / 60))
    async with TestClient(TestServer(app)) as client:
        statuses = [(await client.get(f"/r/{new_token()}")).status for _ in range(6)]
        assert statuses == [404] * 5 + [429]
        now[0] += 2.0  # two tokens back
        assert [(await client.get(f"/r/{new_token()}")).status for _ in range(3)] == [404, 404, 429]


def test_token_bucket_refills_and_forgets_idle_keys() -> None:
    now = [0.0]
    bucket = TokenBucket(2, 0.5, max_keys=2, clock=lambda: now[0])
    assert [bucket.take("a"), bucket.take("a")] == [0.0, 0.0]
    assert bucket.take("a") == pytest.approx(2.0)
    now[0] = 2.0
    assert bucket.take("a") == 0.0
    bucket.take("b")
    bucket.take("c")  # evicts 'a', the least recently used
    assert "a" not in bucket._buckets


async def test_the_token_never_reaches_the_access_log(
    rt: Runtime, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    _, token = await shared(rt)
    with caplog.at_level(logging.INFO):  # as `sharecheck` runs (library debug logs echo SQL parameters)
        await client.get(f"/r/{token}")
        await client.post(f"/r/{token}", data=form(rt, token, answer="understood", next_step="Home visit"))
    logged = "\n".join(f"{r.getMessage()} {getattr(r, 'route', '')}" for r in caplog.records)
    assert "/r/{token}" in logged or "/r/[token]" in logged, "the requests are logged by route, not by path"
    for secret in (token, "Jo Bloggs", "Northshire Police", "Home visit"):
        assert secret not in logged


# --- configuration ---------------------------------------------------------------------------------


def test_the_secret_key_is_generated_once_beside_a_sqlite_database(tmp_path: Path) -> None:
    settings = make_settings(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    first = resolve_secret_key(settings)
    assert first == resolve_secret_key(settings) and len(first) == 64
    assert (tmp_path / "db.sqlite.secret-key").stat().st_mode & 0o777 == 0o600
    key = "set-by-the-administrator-32-bytes"
    assert resolve_secret_key(make_settings("sqlite+aiosqlite://", sharecheck_secret_key=key)) == key.encode()


def test_receipt_settings_parse() -> None:
    settings = make_settings("sqlite+aiosqlite://", sharecheck_receipt_ttl="P3D", sharecheck_organisation_name=" ")
    assert settings.sharecheck_receipt_ttl == timedelta(days=3) and settings.sharecheck_organisation_name is None
    assert make_settings("sqlite+aiosqlite://", sharecheck_receipt_ttl="3600").sharecheck_receipt_ttl == timedelta(
        hours=1
    )
    assert make_settings("sqlite+aiosqlite://").sharecheck_receipt_ttl == timedelta(days=14)


def test_serve_refuses_a_public_url_on_postgres_without_a_secret_key() -> None:
    from sharecheck.server import StartupRefused, check_safe_to_serve

    settings = make_settings("postgresql+asyncpg://x@127.0.0.1/db", sharecheck_public_url=PUBLIC_URL)
    with pytest.raises(StartupRefused, match="SHARECHECK_SECRET_KEY"):
        check_safe_to_serve(settings)
    check_safe_to_serve(make_settings("sqlite+aiosqlite://", sharecheck_public_url=PUBLIC_URL))


# --- the command line ------------------------------------------------------------------------------


async def test_cli_show_as_and_revoke(tmp_path: Path, clock: ManualClock) -> None:
    import asyncio

    from tests.support.cli import run

    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SHARECHECK_", "SLACK_", "MICROSOFT_"))}
    url = f"sqlite+aiosqlite:///{tmp_path / 'sc.db'}"
    env = clean | {"DATABASE_URL": url, "SHARECHECK_PUBLIC_URL": PUBLIC_URL}
    who = ["--platform", "slack", "--workspace", "T1", "--user", SENDER.user_id]
    shown = await asyncio.to_thread(run, ["show-as", *who, "Sam Patel"], env)
    assert shown.returncode == 0, shown.stderr
    # the CLI runs on the real clock: a long-lived link keeps the test independent of today's date
    async with receipt_runtime(url, clock, sharecheck_receipt_ttl=timedelta(days=36500)) as rt:
        _, token = await shared(rt)
        assert (await rt.receipts.view(token)).shared_by == f"Sam Patel, {ORGANISATION}"  # type: ignore[union-attr]
        revoked = await asyncio.to_thread(run, ["revoke", *who, CASE], env)
        assert revoked.returncode == 0 and "revoked 1 receipt link(s)" in revoked.stderr
        assert await rt.receipts.view(token) is None
        again = await asyncio.to_thread(run, ["revoke", *who, CASE], env)
        assert again.returncode == 1 and "No live receipt link of yours" in again.stderr


def test_the_browser_test_skips_without_chromium_but_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.support import browser

    monkeypatch.setattr(browser, "CHROMIUM", "/nonexistent/chromium")
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception, match="chromium"):
        browser.require_browser()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="under CI"):
        browser.require_browser()


async def test_two_answers_at_once_record_one(rt: Runtime) -> None:
    import asyncio

    check_id, token = await shared(rt)
    outcomes = await asyncio.gather(
        rt.receipts.answer(token, "understood", None, "Jo Bloggs", "Northshire Police"),
        rt.receipts.answer(token, "no_information", None, "Jo Bloggs", "Northshire Police"),
    )
    assert sorted(o for o, _ in outcomes) == ["already_answered", "recorded"]
    assert len(await answers(rt, check_id)) == 1
