"""Teams through Microsoft's own offline client: the Microsoft 365 Agents Playground, driven in Debian's chromium.

``sharecheck serve`` runs as it would for a newcomer (emulator mode, loopback), the Playground from the npm
registry (pinned, tests/system/playground/package-lock.json, installed with ``npm ci``) talks to it as Teams does
(Action.Execute invokes, its own validating connector), and Playwright presses the buttons in its web page: a whole
check, ``pending``, ``digest``, then the received-and-understood follow-up arriving and answered.

Everything stays on 127.0.0.1: the Playground's telemetry is off (``--disable-telemetry`` and
``APPLICATION_INSIGHTS_NO_STATSBEAT=true``), a preloaded script (playground/loopback.js) binds its servers to
127.0.0.1 and refuses any other connection in or out, and the browser's requests to any other host are aborted.
Screenshots go to tests/artifacts/ and, with SHARECHECK_REFRESH_DOCS=1, to docs/teams-playground-*.png.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from dialogs.content import AnswerKind, load_pack
from dialogs.engine import Engine
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, require_browser
from tests.support.flows import default_answer
from tests.support.teams import actions, find_action, step_of

pytestmark = pytest.mark.browser

HERE = Path(__file__).parent
PLAYGROUND = HERE / "playground"
CLI = PLAYGROUND / "node_modules" / "@microsoft" / "m365agentsplayground" / "cli.js"
PRELOAD = PLAYGROUND / "loopback.js"
REPO = HERE.parent.parent
DOCS = REPO / "docs"
ARTIFACTS = HERE.parent / "artifacts"
PACK = "children-england-2024"
PLAYGROUND_USER = "user-id-0"
"""The Playground's default user (Alex Wilber in its default configuration): made the default lead, for `digest`."""
CARD = "application/vnd.microsoft.card.adaptive"
NOW = datetime(2026, 11, 24, 10, tzinfo=UTC)
FOLLOW_UP_TITLE = "Did it arrive, and was it understood?"
STEP_WAIT = 30.0
"""Seconds to wait for the bot's answer to one press (a loaded 2-core machine answers in well under one)."""


def require_playground() -> None:
    missing = []
    if shutil.which("node") is None:
        missing.append("node (apt-get install nodejs npm)")
    if not CLI.exists():
        missing.append("the Agents Playground (cd tests/system/playground && npm ci)")
    if missing:
        reason = "the Playground test needs " + " and ".join(missing)
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason}; under CI it must run")
        pytest.skip(reason)
    require_browser()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"exited with {process.returncode} before listening:\n{log.read_text()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"nothing listening on {port} after {within} s:\n{log.read_text()[-3000:]}")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class Stack:
    bot_port: int
    playground_port: int
    playground_log: Path
    serve_log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.playground_port}/"

    def refused_outgoing(self) -> list[str]:
        lines = self.playground_log.read_text(errors="replace").splitlines()
        return [line for line in lines if line.startswith("[loopback] refused")]


@contextmanager
def serve_with_playground(work: Path, settings: dict[str, str]) -> Iterator[Stack]:
    """``sharecheck serve`` (emulator mode, loopback, SQLite in ``work``, plus ``settings``) and the Playground
    pointed at it, both stopped after; their logs are copied to tests/artifacts/."""
    require_playground()
    bot_port, playground_port = free_port(), free_port()
    # no Slack, no app id, nothing from the developer's own environment or .env (cwd is the temp directory)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "MICROSOFT_", "SHARECHECK_"))}
    for name in ("DATABASE_URL", "HOST", "PORT"):
        env.pop(name, None)
    serve_env = env | {
        "HOST": "127.0.0.1",
        "PORT": str(bot_port),
        "DATABASE_URL": f"sqlite+aiosqlite:///{work / 'sharecheck.db'}",
        "SHARECHECK_TEAMS_EMULATOR": "true",
        **settings,
    }
    serve_log = work / "serve.log"
    playground_log = work / "playground.log"
    with serve_log.open("wb") as serve_out, playground_log.open("wb") as playground_out:
        serve = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve"], cwd=work, env=serve_env, stdout=serve_out, stderr=subprocess.STDOUT
        )
        node = shutil.which("node")
        assert node is not None  # require_playground() checked
        playground = subprocess.Popen(
            [
                node,
                "--require",
                str(PRELOAD),
                str(CLI),
                "--app-endpoint",
                f"http://127.0.0.1:{bot_port}/api/messages",
                "--channel-id",
                "msteams",
                "--port",
                str(playground_port),
                "--service-url",
                f"http://127.0.0.1:{playground_port}/_connector",
                "--disable-telemetry",
            ],
            cwd=work,
            env=env | {"APPLICATION_INSIGHTS_NO_STATSBEAT": "true"},
            stdout=playground_out,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for_port(bot_port, serve, serve_log)
            wait_for_port(playground_port, playground, playground_log)
            yield Stack(bot_port, playground_port, playground_log, serve_log)
        finally:
            stop(playground)
            stop(serve)
            ARTIFACTS.mkdir(exist_ok=True)
            shutil.copy(serve_log, ARTIFACTS / "playground-serve.log")
            shutil.copy(playground_log, ARTIFACTS / "playground.log")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    settings = {
        "SHARECHECK_CONTENT_PACK": PACK,
        "SHARECHECK_WORKING_HOURS": "always",
        "SHARECHECK_CONFIRM_AFTER": "20",  # the follow-up comes 20 s after the check: `pending` shows it waiting
        "SHARECHECK_SCHEDULER_INTERVAL": "1",
        "SHARECHECK_DEFAULT_LEAD": f"teams:{PLAYGROUND_USER}",
    }
    with serve_with_playground(tmp_path_factory.mktemp("playground"), settings) as running:
        yield running


@dataclass
class Exchange:
    """One activity between the bot and the Playground, from the Playground's own log stream."""

    name: str
    outgoing: bool
    """Sent by the bot (a message, an update) rather than by the Playground to the bot."""
    status: int
    request: dict[str, Any]
    response: Any


@dataclass
class Traffic:
    exchanges: list[Exchange] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    """Addresses the page tried to reach off this machine (aborted)."""

    def take(self, payload: str | bytes) -> None:
        try:
            frame = json.loads(payload)
        except ValueError:
            return
        log = frame.get("log") if isinstance(frame, dict) else None
        if not isinstance(log, dict) or not log.get("activityName"):
            return
        response = log.get("response") or {}
        self.exchanges.append(
            Exchange(
                name=str(log["activityName"]),
                outgoing=log.get("from") == "User Application",
                status=int(response.get("statusCode", 0)),
                request=(log.get("request") or {}).get("body") or {},
                response=response.get("body"),
            )
        )

    def cards(self) -> list[dict[str, Any]]:
        """Every card the Playground accepted from the bot, in order: messages sent, and invoke answers."""
        found: list[dict[str, Any]] = []
        for ex in self.exchanges:
            if ex.outgoing and 200 <= ex.status < 300:
                found.extend(a["content"] for a in ex.request.get("attachments") or () if a.get("contentType") == CARD)
            elif ex.name == "invoke" and ex.status == 200 and isinstance(ex.response, dict):
                value = ex.response.get("value")
                if isinstance(value, dict) and value.get("type") == "AdaptiveCard":
                    found.append(value)
        return found

    def summary(self) -> list[str]:
        """What the Playground accepted and refused: one line per kind of exchange and status."""
        seen: dict[str, int] = {}
        for ex in self.exchanges:
            key = f"{'bot -> playground' if ex.outgoing else 'playground -> bot'} {ex.name} {ex.status}"
            if ex.status >= 400:
                key += f" {json.dumps(ex.response)[:160]}"
            seen[key] = seen.get(key, 0) + 1
        return [f"{n} x {key}" for key, n in seen.items()]


class Playground:
    """The Playground's page: type into its chat box, press buttons on the latest card, wait for answers."""

    def __init__(self, page: Any, traffic: Traffic) -> None:
        self.page = page
        self.traffic = traffic

    def wait_until(self, ready: Callable[[], Any], what: str, within: float = STEP_WAIT) -> Any:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            found = ready()
            if found:
                return found
            self.page.wait_for_timeout(100)  # lets Playwright deliver the page's websocket frames
        raise AssertionError(f"{what}: not seen within {within} s; exchanges: {self.traffic.summary()}")

    def say(self, text: str) -> int:
        """Type a message to the bot; returns how many cards there were before, to wait for the answer after."""
        before = len(self.traffic.cards())
        box = self.page.locator("[data-lexical-editor=true]")
        box.click()
        self.page.keyboard.type(text)
        self.page.keyboard.press("Enter")
        return before

    def card_after(self, before: int, what: str, test: Callable[[dict[str, Any]], bool] = lambda _: True) -> Any:
        def found() -> dict[str, Any] | None:
            later = [c for c in self.traffic.cards()[before:] if test(c)]
            return later[-1] if later else None

        return self.wait_until(found, what)

    def shown(self, text: str) -> Any:
        """The newest card on the page that shows ``text`` (other messages may arrive meanwhile: a digest, a notice)."""
        found = self.page.locator(".ac-adaptiveCard").filter(has_text=text).last
        found.wait_for()
        return found


def text_of(card: dict[str, Any]) -> str:
    return json.dumps(card, ensure_ascii=False)


def title_of(card: dict[str, Any]) -> str:
    """A step card's title: what tells it from the card before it (the progress line is the same all through a
    section)."""
    return next(
        str(b["text"])
        for b in card["body"]
        if b.get("type") == "TextBlock" and b.get("size") == "Medium" and b.get("weight") == "Bolder"
    )


def answer_in_page(playground: Playground, engine: Engine, card: dict[str, Any]) -> None:
    """Answer the step on screen as a practitioner would: the default answer of the test flows, by its labels."""
    step = engine.pack.step(str(step_of(card)))
    revision = find_action(card, "cancel")["data"]["revision"]
    answer = default_answer(step, engine.start(NOW).state.model_copy(update={"revision": revision}))
    if step.id == "immediate_danger":
        answer = answer.model_copy(update={"choices": ("no",)})
    # this very card, by its title (the Playground's log can run ahead of its rendering)
    shown = playground.shown(title_of(card))

    def press(title: str) -> None:
        shown.get_by_role("button", name=title, exact=True).first.click()

    if step.kind is AnswerKind.RECIPIENT:
        assert answer.recipient is not None
        shown.get_by_label("Organisation").fill(answer.recipient.organisation or "")
        shown.get_by_label("Role (no names needed)").fill(answer.recipient.role or "")
        press("Continue")
        return
    if not step.effective_choices():
        shown.locator("input[type=text], textarea").first.fill(answer.text or "")
        press("Continue")
        return
    on_card = [a["data"]["sc_choice"] for a in actions(card) if "sc_choice" in a.get("data", {})]
    choice = answer.choices[0]
    if on_card:  # one button per choice
        pick = choice if choice in on_card else on_card[0]
        press(next(a["title"] for a in actions(card) if a.get("data", {}).get("sc_choice") == pick))
        return
    [choice_set] = [b for b in card["body"] if b.get("type") == "Input.ChoiceSet"]
    labels = {c["value"]: c["title"] for c in choice_set["choices"]}
    shown.get_by_text(labels.get(choice, next(iter(labels.values()))), exact=True).first.click()
    press("Continue")


def of_the_check(card: dict[str, Any]) -> bool:
    """A step of the check or its summary (not a digest or notice that arrived meanwhile)."""
    return step_of(card) is not None or "Decision recorded" in text_of(card)


def screenshot(playground: Playground, name: str) -> None:
    """Into tests/artifacts/; into docs/ too with SHARECHECK_REFRESH_DOCS=1 (so a test run leaves the tree clean)."""
    ARTIFACTS.mkdir(exist_ok=True)
    playground.page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
    if os.environ.get("SHARECHECK_REFRESH_DOCS") == "1":
        shutil.copy(ARTIFACTS / f"{name}.png", DOCS / f"{name}.png")


@contextmanager
def open_playground(stack: Stack) -> Iterator[Playground]:
    """The Playground's page in headless chromium, every request off this machine aborted."""
    from playwright.sync_api import Route, sync_playwright

    traffic = Traffic()

    def route(r: Route) -> None:
        if urlparse(r.request.url).hostname == "127.0.0.1":
            r.continue_()
        else:  # its page asks an Office CDN for fonts and an animation: never off this machine
            traffic.blocked.append(r.request.url)
            r.abort()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.route("**/*", route)
        page.on("websocket", lambda ws: ws.on("framereceived", traffic.take))
        page.goto(stack.url)
        try:
            yield Playground(page, traffic)
        finally:
            ARTIFACTS.mkdir(exist_ok=True)
            (ARTIFACTS / "playground-exchanges.txt").write_text("\n".join(traffic.summary()) + "\n")
            browser.close()


@pytest.fixture(scope="module")
def playground(stack: Stack) -> Iterator[Playground]:
    with open_playground(stack) as page:
        yield page


@pytest.fixture(scope="module")
def finished(playground: Playground) -> dict[str, Any]:
    """A whole check through the page; returns the summary card."""
    engine = Engine(load_pack(PACK))
    # the Playground installs the app on every page load: the welcome card, with its start button
    welcome = playground.card_after(0, "the welcome card", lambda c: "Hello, I'm ShareCheck" in text_of(c))
    assert find_action(welcome, "start")["title"] == "Start a check"
    card = playground.card_after(playground.say("share-check"), "the first step", lambda c: step_of(c) is not None)
    steps = 0
    while step_of(card) is not None:
        steps += 1
        assert steps < 60, "the check never ended"
        before = len(playground.traffic.cards())
        if steps == 4:
            playground.shown(title_of(card))
            screenshot(playground, "teams-playground-check")
        answer_in_page(playground, engine, card)
        card = playground.card_after(before, f"the answer to step {step_of(card)}", of_the_check)
    return card


def test_a_whole_check_then_pending_and_digest_in_the_playground(
    stack: Stack, playground: Playground, finished: dict[str, Any]
) -> None:
    summary = finished
    assert "Decision recorded: Share" in text_of(summary), text_of(summary)[:500]
    shown = playground.shown("Decision recorded: Share")
    shown.scroll_into_view_if_needed()
    screenshot(playground, "teams-playground-summary")
    # the notes to copy are one press away, under the headline
    shown.get_by_role("button", name="Case notes to copy").click()
    shown.get_by_text("Copy this into the case notes").wait_for()
    screenshot(playground, "teams-playground-summary-notes")

    # the summary's own button: the list comes as a new message (the invoke is answered with a message), and the
    # summary stays on the page to copy from
    before = len(playground.traffic.cards())
    shown.get_by_role("button", name="What is still open", exact=True).click()
    pending = playground.card_after(before, "pending", lambda c: "Still open for you" in text_of(c))
    assert "CS-2024-0113" in text_of(pending), "the follow-up waiting for the check just done"
    playground.shown("Decision recorded: Share")
    typed = playground.card_after(playground.say("pending"), "pending", lambda c: "Still open for you" in text_of(c))
    assert "CS-2024-0113" in text_of(typed)

    digest = playground.card_after(playground.say("digest"), "digest", lambda c: "Information sharing" in text_of(c))
    assert "This period" in text_of(digest) or "Nothing this period" in text_of(digest)

    refused = [ex for ex in playground.traffic.exchanges if ex.status >= 400 and ex.name != "message"]
    assert not refused, [(ex.name, ex.status, ex.response) for ex in refused]
    assert stack.refused_outgoing() == [], "the Playground tried to leave this machine"
    assert all(urlparse(url).hostname != "127.0.0.1" for url in playground.traffic.blocked)


def test_the_follow_up_arrives_and_is_answered_in_the_playground(
    stack: Stack, playground: Playground, finished: dict[str, Any]
) -> None:
    def arrived() -> dict[str, Any] | None:
        for ex in playground.traffic.exchanges:
            if ex.outgoing and FOLLOW_UP_TITLE in json.dumps(ex.request):
                assert 200 <= ex.status < 300, f"the Playground refused the follow-up: {ex.status} {ex.response}"
                return next(a["content"] for a in ex.request["attachments"])
        return None

    follow_up = playground.wait_until(arrived, "the received-and-understood follow-up", within=90)
    assert "CS-2024-0113" in text_of(follow_up)
    shown = playground.shown("ShareCheck follow-up")  # its header: `pending` quotes the title too
    shown.scroll_into_view_if_needed()
    screenshot(playground, "teams-playground-follow-up")
    before = len(playground.traffic.cards())
    shown.get_by_role("button", name="Not yet: remind me", exact=True).click()
    outcome = playground.card_after(before, "the follow-up's answer", lambda c: "I will ask again later" in text_of(c))
    assert not actions(outcome), "answered: no buttons left to press twice"
    assert "CS-2024-0113" in text_of(outcome)
    pending = playground.card_after(playground.say("pending"), "pending", lambda c: "Still open for you" in text_of(c))
    assert "CS-2024-0113" in text_of(pending)
