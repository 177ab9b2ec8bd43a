"""The ``sharecheck`` command line (also ``python -m sharecheck``)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bot.secret_key import SecretKeyRefused
from bot.settings import Settings
from dialogs.content import PackError

log = logging.getLogger("sharecheck")


def _date(value: str) -> datetime:
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        try:
            return datetime.fromisoformat(value).astimezone(UTC)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a date: {value!r} (use YYYY-MM-DD)") from None
    return datetime.combine(parsed, time(0, 0), tzinfo=UTC)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sharecheck", description="ShareCheck: guided, recorded safeguarding information-sharing decisions."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the web server (Slack, Teams, health, metrics)")
    serve.add_argument("--host", help="override HOST")
    serve.add_argument("--port", type=int, help="override PORT")
    serve.add_argument("--no-scheduler", action="store_true", help="do not run the scheduler in this process")

    chat = sub.add_parser("chat", help="do a share-check in the terminal")
    chat.add_argument("--pack", help="content pack id (default: SHARECHECK_CONTENT_PACK)")
    chat.add_argument("--user", help="your user id for the record (default: your login name)")
    chat.add_argument("--reconsider", metavar="CASE_REF", help="reopen your 'do not share' decision for this case")

    inbox = sub.add_parser("inbox", help="what is waiting for you in the terminal: messages, and questions to answer")
    inbox.add_argument("--user", help="your user id (default: your login name)")

    disagree = sub.add_parser(
        "disagree", help="start the professional disagreement route about a share you recorded in the terminal"
    )
    disagree.add_argument("--user", help="your user id (default: your login name)")
    disagree.add_argument("case_reference", metavar="CASE_REF")

    db = sub.add_parser("db", help="database administration")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help="apply migrations")

    export = sub.add_parser("export", help="export decision records for audit")
    export.add_argument("--since", type=_date, required=True, help="first day (YYYY-MM-DD, UTC)")
    export.add_argument("--until", type=_date, help="day after the last (YYYY-MM-DD, UTC)")
    export.add_argument("--format", choices=("csv", "json"), default="csv")
    export.add_argument("--platform", help="only this platform (slack, teams, console)")
    export.add_argument("--workspace", help="only this workspace (Slack team id, Teams tenant id)")
    export.add_argument("--out", type=Path, help="write to this file instead of standard output")
    export.add_argument("--lead", help="only what this lead's scope covers (needs --platform and --workspace)")

    sub.add_parser("packs", help="list the content packs")

    scheduler = sub.add_parser("scheduler", help="run the scheduler alone (follow-ups, digests)")
    scheduler.add_argument("--once", action="store_true", help="process what is due now, then exit")

    leads = sub.add_parser("leads", help="who is the safeguarding lead for whom")
    leads_sub = leads.add_subparsers(dest="leads_command", required=True)
    add = leads_sub.add_parser("add", help="make someone a lead")
    add.add_argument("--platform", required=True, choices=("slack", "teams", "console"))
    add.add_argument("--workspace", required=True, help="Slack team id, Teams tenant id, or 'local' for the console")
    add.add_argument("--lead", required=True, help="the lead's user id")
    scope = add.add_mutually_exclusive_group(required=True)
    scope.add_argument("--all", action="store_true", help="for everyone in the workspace")
    scope.add_argument("--user", action="append", help="for this practitioner (repeatable)")
    scope.add_argument("--channel", action="append", help="for this channel or team (repeatable)")
    remove = leads_sub.add_parser("remove", help="remove every assignment of a lead")
    remove.add_argument("--platform", required=True, choices=("slack", "teams", "console"))
    remove.add_argument("--workspace", required=True)
    remove.add_argument("--lead", required=True)
    listing = leads_sub.add_parser("list", help="list the assignments")
    listing.add_argument(
        "--history", action="store_true", help="the trail of every role and lead change instead, oldest first"
    )
    listing.add_argument("--platform", choices=("slack", "teams", "console"), help="only this platform")
    listing.add_argument("--workspace", help="only this workspace (and unscoped settings entries)")

    admins = sub.add_parser("admins", help="who the ShareCheck administrators are")
    admins_sub = admins.add_subparsers(dest="admins_command", required=True)
    for verb, text in (("add", "make someone an administrator"), ("remove", "end someone's administrator role")):
        change = admins_sub.add_parser(verb, help=text)
        change.add_argument("--platform", required=True, choices=("slack", "teams", "console"))
        change.add_argument("--workspace", required=True, help="Slack team id, Teams tenant id, or 'local'")
        change.add_argument("--user", required=True, help="their user id")
    admins_list = admins_sub.add_parser("list", help="the administrators (SHARECHECK_ADMINS and those added)")
    admins_list.add_argument("--platform", choices=("slack", "teams", "console"), help="only this platform")

    digest = sub.add_parser("digest", help="a lead's digest now")
    digest.add_argument("--lead", required=True, help="the lead's user id")
    digest.add_argument("--platform", choices=("slack", "teams", "console"), help="needed if the lead is on several")
    digest.add_argument("--workspace", help="needed if the lead is in several workspaces")
    digest.add_argument("--dry-run", action="store_true", help="print it here instead of sending it")

    audit = sub.add_parser("audit", help="the tamper-evident audit trail")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_sub.add_parser("verify", help="recompute every hash chain; exit 1 if anything was changed")
    verify.add_argument("--platform", help="only this platform (slack, teams, console)")
    verify.add_argument("--workspace", help="only this workspace (Slack team id, Teams tenant id)")
    audit_sub.add_parser("seal", help="seal new events into their workspace chains now (the scheduler does it too)")

    purge = sub.add_parser("purge", help="remove free text from records finished before the retention period")
    mode = purge.add_mutually_exclusive_group(required=True)
    mode.add_argument("--dry-run", action="store_true", help="say what would be removed; change nothing")
    mode.add_argument("--apply", action="store_true", help="remove it")

    revoke = sub.add_parser("revoke", help="withdraw a practitioner's receipt link for a case")
    _actor_arguments(revoke)
    revoke.add_argument("case_reference", metavar="CASE_REF")

    show_as = sub.add_parser("show-as", help="how a practitioner is named to recipients on receipt pages")
    _actor_arguments(show_as)
    show_as.add_argument("display_name", nargs="?", help="for example 'Sam Patel, Early Help'; omit to clear")

    manifest = sub.add_parser("manifest", help="the app manifest for a chat platform, filled in from settings")
    manifest.add_argument("platform", choices=("slack", "teams"))
    manifest.add_argument("--out", type=Path, help="where to write it (Teams: the upload-ready zip)")
    return parser


def _actor_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--platform", required=True, choices=("slack", "teams", "console"))
    parser.add_argument("--workspace", help="Slack team id or Teams tenant id ('local' for the console, the default)")
    parser.add_argument("--user", help="the practitioner's user id (console: default your login name, as in chat)")


def _actor_of(parser: argparse.ArgumentParser, args: argparse.Namespace) -> tuple[str, str, str]:
    """(platform, workspace, user) for revoke and show-as: the console has one workspace and login names."""
    if args.platform == "console":
        if args.workspace not in (None, "local"):
            parser.error("console users are all in workspace 'local'")
        return "console", "local", args.user or getpass.getuser()
    if not args.workspace or not args.user:
        parser.error(f"--workspace and --user are required for --platform {args.platform}")
    return str(args.platform), str(args.workspace), str(args.user)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command in ("revoke", "show-as"):
        args.platform, args.workspace, args.user = _actor_of(parser, args)
    from bot.logging_setup import configure_logging

    try:
        settings = Settings()
    except ValidationError as exc:
        # never the rejected values: a setting refused may be a secret (a key that is too short)
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])).upper()}: {e['msg']}"
            for e in exc.errors(include_url=False, include_input=False)
        )
        print(f"sharecheck: invalid settings: {problems}", file=sys.stderr)
        return 2
    # serve and scheduler: readable on a terminal, JSON lines for a log collector; the other commands talk to a
    # person at a terminal, in JSON only if asked
    log_format = settings.sharecheck_log_format
    if args.command not in ("serve", "scheduler") and log_format == "auto":
        log_format = "text"
    configure_logging(logging.INFO, log_format=log_format)
    try:
        return _dispatch(args, settings)
    except (PackError, SecretKeyRefused) as exc:
        print(f"sharecheck: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "db":
        from bot.db.migrate import upgrade

        upgrade(settings.database_url)
        print("database is up to date")
        return 0
    if args.command == "packs":
        from dialogs.content import available_packs, load_pack

        for pack_id in available_packs():
            pack = load_pack(pack_id)
            marker = " (default)" if pack_id == settings.sharecheck_content_pack else ""
            print(f"{pack.id} {pack.version}{marker}: {pack.title}")
        return 0
    if args.command == "scheduler":
        from sharecheck.server import run_scheduler

        return asyncio.run(run_scheduler(settings, once=args.once))
    if args.command == "leads":
        return asyncio.run(_leads(settings, args))
    if args.command == "admins":
        return asyncio.run(_admins(settings, args))
    if args.command == "digest":
        return asyncio.run(_digest(settings, args))
    if args.command == "chat":
        return asyncio.run(_chat(settings, args.pack, args.user or getpass.getuser(), args.reconsider))
    if args.command == "inbox":
        return asyncio.run(_inbox(settings, args.user or getpass.getuser()))
    if args.command == "disagree":
        return asyncio.run(_disagree(settings, args.user or getpass.getuser(), args.case_reference))
    if args.command == "export":
        return asyncio.run(_export(settings, args))
    if args.command in ("revoke", "show-as"):
        return asyncio.run(_receipts(settings, args))
    if args.command == "manifest":
        return _manifest(settings, args.platform, args.out)
    if args.command == "audit":
        return asyncio.run(_audit(settings, args))
    if args.command == "purge":
        return asyncio.run(_purge(settings, args.apply))
    if args.command == "serve":
        from sharecheck.server import serve

        if args.host:
            settings.host = args.host
        if args.port:
            settings.port = args.port
        return serve(settings, scheduler=not args.no_scheduler)
    raise AssertionError(args.command)  # pragma: no cover


def _manifest(settings: Settings, platform: str, out: Path | None) -> int:
    if platform == "slack":
        from adapters.slack.manifest import slack_manifest

        text = slack_manifest(settings)
        if settings.sharecheck_public_url is None and settings.slack_app_token is None:
            print("sharecheck: SHARECHECK_PUBLIC_URL is unset: replace the example URLs before use", file=sys.stderr)
        if out:
            out.write_text(text, encoding="utf-8")
            print(f"wrote the slack manifest to {out}", file=sys.stderr)
        else:
            sys.stdout.write(text)
        return 0
    if platform == "teams":
        from adapters.teams.manifest import ManifestError, write_package

        try:
            path = write_package(settings, out or Path("sharecheck-teams.zip"))
        except ManifestError as exc:
            print(f"sharecheck: {exc}", file=sys.stderr)
            return 2
        print(f"wrote {path}: upload it in Teams (Apps, Manage your apps, Upload an app)", file=sys.stderr)
        return 0
    raise AssertionError(platform)  # pragma: no cover


async def _chat(settings: Settings, pack_id: str | None, user: str, reconsider: str | None = None) -> int:
    from adapters.console import CONSOLE, ConsoleChat, ConsoleInbox
    from bot.conversation import Conversation
    from bot.runtime import open_runtime

    async with open_runtime(settings) as runtime:
        if pack_id:
            runtime.packs.engine(pack_id)  # unknown or broken packs fail before the conversation starts
        conversation = Conversation(runtime, CONSOLE)
        inbox = ConsoleInbox(conversation, user, sys.stdin, sys.stdout)
        chat = ConsoleChat(conversation, user, sys.stdin, sys.stdout, inbox)
        return await chat.run(pack_id, reconsider)


async def _inbox(settings: Settings, user: str) -> int:
    from adapters.console import CONSOLE, ConsoleInbox
    from bot.conversation import Conversation
    from bot.runtime import open_runtime

    async with open_runtime(settings) as runtime:
        inbox = ConsoleInbox(Conversation(runtime, CONSOLE), user, sys.stdin, sys.stdout)
        if await inbox.run() and not inbox.shown:
            print("Nothing is waiting for you.")
        return 0


async def _disagree(settings: Settings, user: str, case_reference: str) -> int:
    from adapters.console import render_info
    from bot.checks.models import Actor
    from bot.followups.models import FollowUpNotFound
    from bot.runtime import open_runtime

    async with open_runtime(settings) as runtime:
        try:
            result = await runtime.followups.start_disagreement(
                Actor("console", "local", user), case_reference=case_reference
            )
        except FollowUpNotFound as exc:
            print(f"sharecheck: {exc}", file=sys.stderr)
            return 2
        print(render_info(result.reply, user))
        return 0


async def _export(settings: Settings, args: argparse.Namespace) -> int:
    from bot.runtime import open_runtime
    from bot.services.export import ExportFilter, export_records, to_csv, to_json

    if args.lead and not (args.platform and args.workspace):
        print("sharecheck: --lead needs --platform and --workspace", file=sys.stderr)
        return 2
    async with open_runtime(settings) as runtime:
        digests = runtime.digests

        async def lead_scope(session: Any) -> Any:
            return await digests.scope(session, args.platform, args.workspace, args.lead)

        records = await export_records(
            runtime.sessions,
            ExportFilter(since=args.since, until=args.until, platform=args.platform, workspace_id=args.workspace),
            scope=lead_scope if args.lead else None,
        )
    text = to_json(records) if args.format == "json" else to_csv(records)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
        print(f"wrote {len(records)} records to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


async def _leads(settings: Settings, args: argparse.Namespace) -> int:
    from bot.runtime import open_runtime

    by = f"cli:{getpass.getuser()}"
    async with open_runtime(settings) as runtime:
        now = runtime.clock.now()
        if args.leads_command == "list" and args.history:
            from bot.services.role_trail import history

            events = await history(runtime.sessions, args.platform, args.workspace)
            for event in events:
                scope = f" ({event.scope} {event.scope_value})".replace(" )", ")") if event.scope else ""
                when = event.at.isoformat(timespec="seconds")
                what = f"{event.kind} {event.subject}{scope} by {event.actor}"
                print(f"{when} {event.platform} {event.workspace_id}: {what}")
            if not events:
                print("no role or lead changes recorded")
            return 0
        if args.leads_command == "list":
            for row in await runtime.leads.list(args.platform):
                if args.workspace in (None, row.workspace_id):
                    scope = row.scope if row.scope == "workspace" else f"{row.scope} {row.scope_value}"
                    print(f"{row.platform} {row.workspace_id}: {row.lead_id} leads {scope}")
            for ref in runtime.leads.defaults:
                if args.platform in (None, ref.platform) and args.workspace in (None, ref.workspace_id):
                    where = ref.workspace_id or "any workspace, while it is the platform's only one"
                    print(f"{ref.platform} {where}: {ref.user_id} is the default lead (SHARECHECK_DEFAULT_LEAD)")
            return 0
        if args.leads_command == "remove":
            removed = await runtime.leads.remove(args.platform, args.workspace, args.lead, now, by=by)
            print(f"removed {removed} assignment(s)")
            return 0
        targets = (
            [("workspace", "")]
            if args.all
            else [("user", u) for u in args.user or []] + [("channel", c) for c in args.channel or []]
        )
        for scope, value in targets:
            added = await runtime.leads.assign(args.platform, args.workspace, args.lead, scope, value, now, by=by)
            print(("added" if added else "already there") + f": {args.lead} leads {scope} {value}".rstrip())
        return 0


async def _admins(settings: Settings, args: argparse.Namespace) -> int:
    from bot.runtime import open_runtime
    from bot.services.roles import BootstrapAdmin

    async with open_runtime(settings) as runtime:
        roles = runtime.roles
        if args.admins_command == "list":
            for ref in settings.admin_refs:
                if args.platform in (None, ref.platform):
                    where = ref.workspace_id or "any workspace, while it is the platform's only one"
                    print(f"{ref.platform} {where}: {ref.user_id} (SHARECHECK_ADMINS)")
            for row in await roles.all_admins(args.platform):
                print(f"{row.platform} {row.workspace_id}: {row.user_id} (added by {row.granted_by})")
            return 0
        by = f"cli:{getpass.getuser()}"
        if args.admins_command == "add":
            added = await roles.grant(args.platform, args.workspace, args.user, by)
            print(f"{args.user} is {'now' if added else 'already'} an administrator in {args.workspace}")
            return 0
        try:
            removed = await roles.revoke(args.platform, args.workspace, args.user, by)
        except BootstrapAdmin as exc:
            print(f"sharecheck: {exc}", file=sys.stderr)
            return 2
        if not removed:
            print(f"sharecheck: {args.user} is not an administrator in {args.workspace}", file=sys.stderr)
            return 1
        print(f"{args.user} is no longer an administrator in {args.workspace}")
        return 0


async def _digest(settings: Settings, args: argparse.Namespace) -> int:
    from adapters.console import render_digest
    from bot.delivery import PULLED_PLATFORMS
    from bot.runtime import open_runtime

    async with open_runtime(settings) as runtime:
        places = [
            (p, w)
            for p, w, lead in await runtime.digests.leads()
            if lead == args.lead and args.platform in (None, p) and args.workspace in (None, w)
        ]
        if len(places) != 1:
            found = ", ".join(f"{p} {w}" for p, w in places) or "nowhere"
            print(f"sharecheck: {args.lead} is a lead in {found}; name --platform and --workspace", file=sys.stderr)
            return 2
        platform, workspace = places[0]
        digest = await runtime.digests.build(platform, workspace, args.lead, runtime.packs.pack())
        if args.dry_run:
            print(render_digest(digest))
            return 0
        await runtime.digests.send_now(platform, workspace, args.lead, digest)
        where = "it waits in their `sharecheck inbox`" if platform in PULLED_PLATFORMS else "the scheduler delivers it"
        print(f"queued the digest for {args.lead}; {where}", file=sys.stderr)
        return 0


async def _audit(settings: Settings, args: argparse.Namespace) -> int:
    from bot.runtime import open_runtime
    from bot.services import role_trail
    from bot.services.audit import seal_pending, verify

    async with open_runtime(settings) as runtime:
        if args.audit_command == "seal":
            sealed = await seal_pending(runtime.sessions, runtime.clock.now())
            print(f"sealed {sealed} event(s)")
            return 0
        report = await verify(runtime.sessions, platform=args.platform, workspace_id=args.workspace)
        roles_problems = await role_trail.verify(runtime.sessions)
        roles_count, roles_head = await role_trail.head(runtime.sessions)
    for finding in report.findings:
        print(finding.line())
    for line in roles_problems:
        print(line)
    for platform, workspace, count, head in report.heads:
        print(f"chain {platform} {workspace}: {count} sealed event(s), head {head}")
    print(f"role trail: {roles_count} event(s), head {roles_head}")
    summary = f"{report.records} record(s), {report.events} event(s), {report.sealed} sealed"
    if roles_problems:
        print(f"role trail NOT intact: {len(roles_problems)} problem(s)")
        return 1
    if report.intact:
        print(f"audit trail intact: {summary}")
        return 0
    print(f"audit trail NOT intact: {len(report.findings)} problem(s) in {summary}")
    return 1


async def _purge(settings: Settings, apply: bool) -> int:
    from bot.runtime import open_runtime
    from bot.services.retention import purge

    async with open_runtime(settings) as runtime:
        report = await purge(
            runtime.sessions, runtime.packs, runtime.clock.now(), settings.sharecheck_retention, apply=apply
        )
    verb = "removed" if apply else "would remove"
    cutoff = report.cutoff.date().isoformat()
    print(f"{report.records} record(s) finished before {cutoff} (retention {settings.sharecheck_retention.days} days)")
    for name, count in sorted(report.removed.items()):
        print(f"  {verb} {count} x {name}")
    if not report.removed:
        print("  nothing to remove")
    if not apply:
        print("dry run: nothing was changed; run 'sharecheck purge --apply' to remove it")
    return 0


async def _receipts(settings: Settings, args: argparse.Namespace) -> int:
    from bot.checks.models import Actor
    from bot.runtime import open_runtime
    from bot.services.receipts import ReceiptNotFound

    actor = Actor(args.platform, args.workspace, args.user)
    async with open_runtime(settings) as runtime:
        if args.command == "show-as":
            await runtime.receipts.set_display_name(actor, args.display_name)
            shown = args.display_name or "(the organisation only)"
            print(f"receipt pages will name {args.user} as: {shown}", file=sys.stderr)
            return 0
        try:
            count = await runtime.receipts.revoke(actor, args.case_reference)
        except ReceiptNotFound as exc:
            print(f"sharecheck: {exc}", file=sys.stderr)
            return 1
        print(f"revoked {count} receipt link(s) for case {args.case_reference}", file=sys.stderr)
        return 0
