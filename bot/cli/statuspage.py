"""`incidentbot statuspage show | post | maintenance add|list|cancel | export`: the public status page for
operators and scripts, straight on the database.

`post` is the trusted path (whoever can run it can read the database): it publishes at once, without the
Incident Commander's approval, and the timeline says it came from the CLI. `export` writes the static site,
so the page can be hosted somewhere that stays up when the bot or its cluster is down.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
import uuid
from pathlib import Path

from bot.cli.db import DatabaseUnavailable, Sessions, read_database
from bot.cli.parsers import incident_number
from bot.config import AppConfig, Settings, config_relative
from bot.domain import DomainError
from bot.integrations.slack import SlackGateway, make_client
from bot.services.incidents import utcnow
from bot.services.statuspage import StatusPageService
from bot.services.statuspage_push import PushQueue
from bot.services.subscriber_mail import SubscriberQueue
from bot.services.workflow_bus import configured_index, listen_for_workflows
from bot.statuspage.model import CLI, PublicDraft
from bot.statuspage.pages import Pages
from bot.statuspage.site import Snapshot, export, load_state
from bot.statuspage.store import StatusPageStore
from bot.statuspage.text import page_text
from bot.store import IncidentStore
from bot.timers import Scheduler, TimerStore

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class Failed(Exception):
    """The command ran and the check failed (exit 1): no such incident or maintenance."""


def _operator(args: argparse.Namespace) -> str:
    return (getattr(args, "operator", None) or getpass.getuser() or "cli")[:40]


def _service(sessions: Sessions, settings: Settings, config: AppConfig) -> StatusPageService:
    """The service on the database; with SLACK_BOT_TOKEN it also echoes in the incident channel."""
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    slack = SlackGateway(make_client(token, settings.slack_api_url)) if token else None
    directory = config.status_page.export_dir
    service = StatusPageService(
        config,
        StatusPageStore(sessions),
        IncidentStore(sessions),
        slack,
        utcnow,
        config_relative(settings.config, directory) if directory else None,
    )
    if config.status_page.atlassian is not None:  # the serving bot pushes what the CLI queues
        service.add_listener(PushQueue(Scheduler(TimerStore(sessions), utcnow), utcnow))
    if settings.subscription_secret is not None:  # the serving bot mails the subscribers
        service.add_listener(SubscriberQueue(Scheduler(TimerStore(sessions), utcnow), utcnow))
    service.pages.subscriptions = _offers_subscriptions(settings)
    # A change made here fires the same workflows as one made in Slack (the serving bot runs them).
    listen_for_workflows(sessions, configured_index(config, settings.config), utcnow)
    return service


def _offers_subscriptions(settings: Settings) -> bool:
    """As the serving bot decides it, so an export written here shows the same subscribe form."""
    return bool(settings.subscription_secret and settings.smtp_url and settings.mail_from)


async def _snapshot(sessions: Sessions, config: AppConfig, subscriptions: bool = False) -> Snapshot:
    state = await load_state(StatusPageStore(sessions), config.status_page, utcnow())
    pages = Pages(config.templates_dir)
    pages.subscriptions = subscriptions
    return Snapshot(state, pages)


def run(args: argparse.Namespace, settings: Settings, config: AppConfig) -> int:
    if not config.status_page.enabled:
        print("error: the status page is not enabled (status_page.enabled in the config)", file=sys.stderr)
        return EXIT_USAGE
    command = args.statuspage_command
    try:
        if command == "show":
            return _show(settings, config, args.format)
        if command == "export":
            return _export(settings, config, args.directory)
        if command == "post":
            return _post(args, settings, config)
        return _maintenance(args, settings, config)
    except DatabaseUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Failed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except DomainError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _show(settings: Settings, config: AppConfig, output: str) -> int:
    snapshot = read_database(settings, lambda sessions: _snapshot(sessions, config))
    if output == "json":
        document = snapshot.document("/api/v2/summary.json")
        assert document is not None
        print(json.dumps(json.loads(document.body), indent=2, ensure_ascii=False))
    else:
        sys.stdout.write(page_text(snapshot.state))
    return EXIT_OK


def _export(settings: Settings, config: AppConfig, directory: Path) -> int:
    if directory.exists() and not directory.is_dir():
        print(f"error: {directory} exists and is not a directory", file=sys.stderr)
        return EXIT_USAGE
    offered = _offers_subscriptions(settings)
    snapshot = read_database(settings, lambda sessions: _snapshot(sessions, config, offered))
    try:
        written = export(snapshot, directory)
    except OSError as exc:
        print(f"error: cannot write {directory}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(f"wrote {len(written)} files to {directory} (open {directory / 'index.html'})")
    return EXIT_OK


def _post(args: argparse.Namespace, settings: Settings, config: AppConfig) -> int:
    incident_id = incident_number(args.incident)
    if incident_id is None:
        raise DomainError(f"{args.incident!r} is not an incident number (12 or INC-12)")
    operator = _operator(args)

    async def post(sessions: Sessions) -> tuple[str, list[str]]:
        service = _service(sessions, settings, config)
        incident = await service.incidents.get(incident_id)
        if incident is None:
            raise Failed(f"there is no incident INC-{incident_id}")
        start = await service.default_draft(incident, args.status)
        components = {**start.components, **dict(args.component)}
        draft = PublicDraft(args.status, args.title or start.title, args.body, components)
        outcome = await service.post_trusted(incident_id, draft, operator, f"cli:{uuid.uuid4()}")
        notes = list(outcome.problems)
        if service.slack is None:
            notes.append("not echoed in Slack: SLACK_BOT_TOKEN is not set")
        return outcome.said, notes

    said, notes = read_database(settings, post)
    print(said)
    for note in notes:
        print(f"warning: {note}", file=sys.stderr)
    return EXIT_OK


def _maintenance(args: argparse.Namespace, settings: Settings, config: AppConfig) -> int:
    command, operator = args.maintenance_command, _operator(args)

    async def work(sessions: Sessions) -> str:
        service = _service(sessions, settings, config)
        if command == "add":
            added = await service.add_maintenance(
                args.title,
                args.body,
                args.component,
                args.start,
                args.end,
                operator,
                CLI,
                f"cli:{uuid.uuid4()}",
            )
            assert added is not None
            return f"scheduled maintenance #{added.id}: {added.title}, {service.window(added)}"
        if command == "cancel":
            if await service.store.get_maintenance(args.id) is None:
                raise Failed(f"there is no maintenance #{args.id}")
            cancelled = await service.cancel_maintenance(args.id, operator)
            return f"cancelled maintenance #{cancelled.id}: {cancelled.title}"
        found = await service.maintenances()
        lines = [
            "\t".join(
                [f"#{m.id}", m.status(service.now()), service.window(m), m.title, ",".join(m.components)]
            )
            for m in found
        ]
        return "\n".join(lines) if lines else "no maintenance scheduled"

    print(read_database(settings, work))
    return EXIT_OK
