"""The receipt page, ``GET|POST /r/{token}``: server-rendered, no JavaScript, for recipients with no account.

Security, in the order a request meets it:
- rate limits per client address (behind SHARECHECK_TRUSTED_PROXIES, the client they name; IPv6 per /64)
  and per token (in-process token buckets; see bot/ratelimit.py);
- an unknown, expired or revoked token gets one and the same 404 page (no oracle);
- the form carries an HMAC of the token's hash under SHARECHECK_SECRET_KEY (CSRF: a page on another
  site cannot read it), and a cross-site fetch (Sec-Fetch-Site) is refused too; either failure is a 403
  with nothing recorded;
- every response has a strict CSP (no scripts, images or frames; only this page's own stylesheet, by
  hash), no referrer, no caching, no framing, no sniffing;
- nothing personal is logged, and the token is cut out of the access log.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from bot.conversation.receipt import ReceiptDesk, ReceiptForm, ReceiptPage
from bot.ratelimit import TokenBucket, request_client_key
from bot.runtime import Runtime
from bot.services.receipts import NAME_MAX, NOTE_MAX, ORGANISATION_MAX, hash_token
from bot.web import RUNTIME, accept_bodies

TEMPLATES = Path(__file__).parent / "templates"
CSS = (TEMPLATES / "receipt.css").read_text(encoding="utf-8").strip()
CSS_HASH = base64.b64encode(hashlib.sha256(CSS.encode()).digest()).decode()
SECURITY_HEADERS = {
    # the page needs nothing but its own inline stylesheet and to post its form to itself
    "Content-Security-Policy": (
        f"default-src 'none'; style-src 'sha256-{CSS_HASH}'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "X-Robots-Tag": "noindex, nofollow",
}
PER_ADDRESS = (60, 1.0)
"""A burst of 60 requests, then one a second: far above a person, far below a scan."""
PER_TOKEN = (20, 1 / 60)
"""A burst of 20 requests on one link, then one a minute: a few visits and corrections are plenty."""
FIELD_IDS = {
    "name": "name",
    "organisation": "organisation",
    "answer": "answer-understood",
    "next_step": "next-step",
    "unclear": "unclear",
}

_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]), auto_reload=False)
_TEMPLATE = _env.get_template("receipt.html")

log = logging.getLogger(__name__)


@dataclass
class ReceiptLimits:
    per_address: TokenBucket
    per_token: TokenBucket

    @classmethod
    def default(cls) -> ReceiptLimits:
        return cls(TokenBucket(*PER_ADDRESS), TokenBucket(*PER_TOKEN))


RECEIPT_LIMITS = web.AppKey("receipt_limits", ReceiptLimits)


class _RedactReceiptTokens(logging.Filter):
    """The token is a bearer secret: aiohttp's access log would otherwise write every link out."""

    pattern = re.compile(r"/r/[^\s\"?]+")

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and "/r/" in record.msg:
            record.msg = self.pattern.sub("/r/[token]", record.msg)
        if record.args and isinstance(record.args, tuple):
            record.args = tuple(self.pattern.sub("/r/[token]", a) if isinstance(a, str) else a for a in record.args)
        return True


_REDACT = _RedactReceiptTokens()


def mount_receipts(app: web.Application, runtime: Runtime) -> None:
    access = logging.getLogger("aiohttp.access")
    if _REDACT not in access.filters:
        access.addFilter(_REDACT)
    app[RECEIPT_LIMITS] = ReceiptLimits.default()
    app[RECEIPT_DESK] = ReceiptDesk(runtime)
    app.router.add_get("/r/{token}", receipt_get)
    app.router.add_post("/r/{token}", receipt_post)
    accept_bodies(app, "/r/{token}", "application/x-www-form-urlencoded")  # the page's form, as browsers post it


def csrf_token(secret: bytes, token_hash: str) -> str:
    """Bound to one link and the server's key: valid forever for that link, useless for any other."""
    return hmac.new(secret, b"receipt-form\0" + token_hash.encode(), hashlib.sha256).hexdigest()


def render(page: str, status: int = 200, **context: Any) -> web.Response:
    titles = {
        "open": "Confirm receipt",
        "answered": "Answer recorded",
        "gone": "Link not valid",
        "forbidden": "Answer not sent",
        "limited": "Too many attempts",
    }
    context.setdefault("errors", {})
    context.setdefault("form", {})
    body = _TEMPLATE.render(page=page, title=titles[page], css=Markup(CSS), **context)  # noqa: S704 - our own file
    response = web.Response(text=body, status=status, content_type="text/html", charset="utf-8")
    response.headers.update(SECURITY_HEADERS)
    return response


def _limited(request: web.Request) -> web.Response | None:
    limits = request.app[RECEIPT_LIMITS]
    settings = request.app[RUNTIME].settings
    # behind a trusted proxy, the client its forwarding header names (bot/ratelimit.py); IPv6 per /64
    client = request_client_key(request, settings.trusted_proxies, settings.sharecheck_forwarded_header)
    wait = max(
        limits.per_address.take(f"addr:{client}"),
        limits.per_token.take("tok:" + hash_token(request.match_info["token"])),
    )
    if wait <= 0:
        return None
    response = render("limited", status=429)
    response.headers["Retry-After"] = str(max(1, round(wait)))
    return response


RECEIPT_DESK = web.AppKey("receipt_desk", ReceiptDesk)


def _show(runtime: Runtime, shown: ReceiptPage) -> web.Response:
    """The conversation's answer as HTML: 404 for a link that is not valid, 400 for a form sent back."""
    if shown.page == "gone" or shown.view is None:
        return render("gone", status=404)
    if shown.page == "answered":
        return render("answered", view=shown.view, just_sent=shown.just_sent)
    view = shown.view
    return render(
        "open",
        status=400 if shown.errors else 200,
        view=view,
        csrf=csrf_token(runtime.receipts.secret_key, view.token_hash),
        choices=runtime.followups.content.receipt.choices,
        errors=shown.errors,
        form=shown.form,
        field_ids=FIELD_IDS,
        limits={"name": NAME_MAX, "organisation": ORGANISATION_MAX, "note": NOTE_MAX},
    )


async def receipt_get(request: web.Request) -> web.Response:
    limited = _limited(request)
    if limited is not None:
        return limited
    shown = await request.app[RECEIPT_DESK].open(request.match_info["token"])
    return _show(request.app[RUNTIME], shown)


async def receipt_post(request: web.Request) -> web.Response:
    limited = _limited(request)
    if limited is not None:
        return limited
    runtime = request.app[RUNTIME]
    token = request.match_info["token"]
    try:
        posted = await request.post()
    except ValueError:  # not valid UTF-8, or a form no browser sends: nothing a page of ours posted
        return render("forbidden", status=400)
    csrf = posted.get("csrf")
    expected = csrf_token(runtime.receipts.secret_key, hash_token(token))
    cross_site = request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none")
    if cross_site or not isinstance(csrf, str) or not hmac.compare_digest(csrf.strip().encode(), expected.encode()):
        return render("forbidden", status=403)
    form = ReceiptForm.model_validate({name: posted.get(name) for name in ReceiptForm.model_fields})
    return _show(runtime, await request.app[RECEIPT_DESK].answer(token, form))
