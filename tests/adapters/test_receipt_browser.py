"""End to end in headless Chromium: a recipient opens the receipt link served by a real AppRunner and answers.

Screenshots at phone and desktop widths are kept under tests/artifacts/ (docs/ holds a copy for docs/receipt-links.md).
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from sqlalchemy import select

from bot.clock import ManualClock
from bot.db.models import CheckEvent, FollowUp
from bot.runtime import Runtime
from bot.scheduler import Scheduler
from dialogs.messages import Info
from sharecheck.web import build_app
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, require_browser
from tests.support.deliverers import RecordingDeliverer
from tests.support.receipts import SENDER, finish, receipt_runtime, token_of

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).parent.parent / "artifacts"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}


@pytest.fixture
async def served(sqlite_url: str, clock: ManualClock) -> AsyncIterator[tuple[Runtime, str]]:
    require_browser()
    # bind first, so the public URL the link is made with is where the server really listens
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    async with receipt_runtime(sqlite_url, clock, sharecheck_public_url=base) as runtime:
        runner = web.AppRunner(build_app(runtime))
        await runner.setup()
        await web.SockSite(runner, sock).start()
        try:
            yield runtime, base
        finally:
            await runner.cleanup()


async def test_a_recipient_answers_in_a_real_browser(served: tuple[Runtime, str]) -> None:
    from playwright.async_api import async_playwright

    runtime, base = served
    await runtime.receipts.set_display_name(SENDER, "Sam Patel")
    check_id, done = await finish(runtime, SENDER, {})
    url = f"{base}/r/{token_of(done)}"
    assert done.covering_note is not None and url in done.covering_note
    ARTIFACTS.mkdir(exist_ok=True)
    problems: list[str] = []

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            desktop = await browser.new_page(viewport=DESKTOP)
            desktop.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
            response = await desktop.goto(url)
            assert response is not None and response.status == 200
            assert await desktop.title() == "Confirm receipt – ShareCheck"
            # the stylesheet is allowed by its CSP hash (a mismatch would leave the page unstyled)
            button = desktop.get_by_role("button", name="Send answer")
            assert await button.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(0, 112, 60)"
            await desktop.screenshot(path=str(ARTIFACTS / "receipt-desktop.png"), full_page=True)

            phone = await browser.new_page(viewport=PHONE, is_mobile=True, has_touch=True)
            phone.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
            await phone.goto(url)
            width = await phone.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["width"], "the page scrolls sideways on a phone"
            await phone.screenshot(path=str(ARTIFACTS / "receipt-phone.png"), full_page=True)

            # keyboard order follows the page: skip link, name, organisation, then the answers
            order = []
            for _ in range(4):
                await phone.keyboard.press("Tab")
                order.append(await phone.evaluate("document.activeElement.id || document.activeElement.className"))
            assert order == ["skip", "name", "organisation", "answer-understood"]

            # nothing chosen: the error summary lists what to fix, and the title says so
            await phone.get_by_role("button", name="Send answer").click()
            assert (await phone.title()).startswith("Error: ")
            summary = phone.get_by_role("alert")
            assert "Enter your name" in await summary.inner_text()

            await phone.get_by_label("Your name").fill("Jo Bloggs")
            await phone.get_by_label("Your organisation and role").fill("Northshire Police, MASH")
            answers = phone.get_by_role("group", name="Your answer")
            await answers.get_by_label("Received and understood").check()
            await phone.get_by_label("Our next step (optional)").fill("Strategy discussion today")
            await phone.get_by_role("button", name="Send answer").click()
            await phone.get_by_role("heading", name="Answer sent").wait_for()
            await phone.screenshot(path=str(ARTIFACTS / "receipt-phone-answered.png"), full_page=True)

            await desktop.reload()
            assert "already been answered" in await desktop.inner_text("main")
        finally:
            await browser.close()

    # (the 400 of the error summary and the missing favicon are reported as console errors too; fine)
    assert [p for p in problems if "Content Security Policy" in p or "Refused" in p] == []
    async with runtime.sessions() as s:
        event = await s.scalar(
            select(CheckEvent).where(CheckEvent.check_id == check_id, CheckEvent.kind == "follow_up_answered")
        )
        fu = await s.scalar(select(FollowUp).where(FollowUp.check_id == check_id))
    assert event is not None and event.data["recipient_name"] == "Jo Bloggs"
    assert event.data["note"] == "Strategy discussion today"
    assert fu is not None and fu.state == "confirmed"
    platform = RecordingDeliverer()
    await Scheduler(runtime, {"slack": platform}).run_once()
    [notice] = platform.to(SENDER.user_id)
    assert isinstance(notice, Info) and "Jo Bloggs" in notice.lines[0]
