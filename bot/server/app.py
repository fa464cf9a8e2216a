"""Composition root: one process serving Slack (HTTP or Socket Mode), /healthz and /metrics."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from sqlalchemy.ext.asyncio import AsyncEngine

import commands
from bot.changes.store import DeployStore
from bot.communication.outbox import OutboxStore
from bot.config import AppConfig, Settings, config_relative
from bot.drills.scenario import load_scenarios
from bot.integrations.hosted_statuspage import HostedStatuspage
from bot.integrations.pagers import build_providers
from bot.integrations.slack import Budget, SlackGateway, make_client, slack_error_of
from bot.metrics import Metrics
from bot.oncall.rota_store import RotaStore
from bot.oncall.store import PagingStore
from bot.postmortem.git_publish import GitPublisher
from bot.postmortem.store import ActionItemStore, PostmortemStore
from bot.runbooks.files import configured_runbooks
from bot.runbooks.messages import ACTION_OPEN as RUNBOOK_OPEN
from bot.runbooks.store import RunbookStore
from bot.server import inflight
from bot.server.deploy_webhook import add_deploy_routes
from bot.server.gauges import current_gauges
from bot.server.health import BackgroundProbe
from bot.server.oncall_routes import add_oncall_routes
from bot.server.provider_webhooks import add_provider_routes
from bot.server.slack_http import MAX_AGE_SECONDS, SIGNED_PREFIX, Refused, SlackGate
from bot.server.status_routes import add_status_routes
from bot.server.subscriber_routes import add_subscriber_routes
from bot.server.webhooks import add_webhook_routes
from bot.services.actions import ActionItems
from bot.services.alerts import AlertService
from bot.services.archive import ChannelArchiver
from bot.services.catalog import ServiceCatalog, deploys_from
from bot.services.catchup import Catchups
from bot.services.changes import ChangeTracking
from bot.services.command_transfer import CommandTransfer
from bot.services.communication import Communication, Mailer, build_mailer
from bot.services.drills import Drills
from bot.services.housekeeping import Housekeeping
from bot.services.incidents import IncidentService, utcnow
from bot.services.paging import Paging
from bot.services.postmortems import Postmortems
from bot.services.reminders import UpdateReminders
from bot.services.rollback import Rollbacks
from bot.services.rota import Rota
from bot.services.rota_handoffs import Handoffs
from bot.services.runbooks import RunbookService
from bot.services.slo import SLOService, SLOSnapshots
from bot.services.statuspage import StatusPageService
from bot.services.statuspage_push import PushQueue, StatusPagePush
from bot.services.subscriber_mail import SubscriberMail, SubscriberQueue
from bot.services.subscriptions import Subscriptions
from bot.services.welcome import Welcome
from bot.services.workflow_actions import WorkflowActions
from bot.services.workflow_bus import configured_index
from bot.services.workflows import Workflows
from bot.slo.prometheus import PrometheusClient
from bot.slo.specs import configured_slos
from bot.statuspage.hosted_links import HostedLinks
from bot.statuspage.store import StatusPageStore
from bot.statuspage.subscriber_notices import SubscriberNotices
from bot.statuspage.subscribers import SubscriberStore
from bot.statuspage.tokens import Signer
from bot.store import IncidentStore, db
from bot.templating import Templates
from bot.timers import Scheduler, TimerStore
from commands.deps import Deps

if TYPE_CHECKING:
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

log = logging.getLogger(__name__)
_SLACK_CHECK_TTL = 30.0
SHUTDOWN_GRACE_SECONDS = 8.0
FORGET_EVERY = 500


@dataclass
class Runtime:
    settings: Settings
    config: AppConfig
    engine: AsyncEngine
    slack: SlackGateway
    metrics: Metrics
    incidents: IncidentService
    bolt: AsyncApp
    slo: SLOService
    prometheus: PrometheusClient | None
    scheduler: Scheduler
    reminders: UpdateReminders
    paging: Paging
    rota: Rota
    handoffs: Handoffs
    alerts: AlertService
    actions: ActionItems
    postmortems: Postmortems
    housekeeping: Housekeeping
    statuspage: StatusPageService
    subscriptions: Subscriptions
    workflows: Workflows
    rollbacks: Rollbacks
    catalog: ServiceCatalog
    changes: ChangeTracking
    drills: Drills
    subscriber_mail: SubscriberMail | None = None
    """Public updates e-mailed to the status page's subscribers (None: no INCIDENTBOT_SUBSCRIPTION_SECRET)."""
    socket: AsyncSocketModeHandler | None = None
    """The Socket Mode connection, when SLACK_APP_TOKEN is set and `serve` runs."""
    prometheus_probe: BackgroundProbe | None = None
    """Asks Prometheus in the background, so /healthz never waits for it."""
    requests_seen: int = 0
    _slack_check: tuple[float, str | None] = field(default=(0.0, None))
    _warming: asyncio.Task[None] | None = None
    _exporting: asyncio.Task[None] | None = None
    _measuring_uptime: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Background work: the durable-timer worker (escalations, reminders, queued jobs), the probes; and
        who the bot is, asked once now so the first alert webhooks can record their incidents themselves."""
        self.scheduler.start()
        if self.prometheus_probe is not None:
            self.prometheus_probe.start()
        self._warming = asyncio.create_task(self._warm_up(), name="incidentbot-warm-up")
        if self.statuspage.export_dir is not None:
            self._exporting = asyncio.create_task(
                self.statuspage.keep_export_current(), name="incidentbot-status-export"
            )
        if self.statuspage.site.sli is not None:
            self._measuring_uptime = asyncio.create_task(
                self.statuspage.keep_sli_current(), name="incidentbot-status-uptime"
            )

    async def _warm_up(self) -> None:
        try:
            await self.slack.bot_user_id()
        except Exception as exc:  # Slack away at start: the first declare asks again
            log.info("could not ask Slack who the bot is yet: %s", exc)

    async def close(self) -> None:
        """Finish acked work and the timer being fired, within Docker's default 10 s stop timeout."""
        for task in (self._exporting, self._measuring_uptime):
            if task is not None:
                task.cancel()
        await asyncio.gather(inflight.drain(SHUTDOWN_GRACE_SECONDS), self.scheduler.stop())
        if self.prometheus_probe is not None:
            await self.prometheus_probe.close()
        for provider in self.paging.providers:
            await provider.close()
        if self.prometheus is not None:
            self.prometheus.close()
        await self.engine.dispose()

    async def _socket_connected(self) -> bool:
        return self.socket is not None and await self.socket.client.is_connected()

    async def _slack_error(self) -> str | None:
        checked_at, error = self._slack_check
        if time.monotonic() - checked_at > _SLACK_CHECK_TTL or error:
            error = await self.slack.ping()
            self._slack_check = (time.monotonic(), error)
        if self.settings.socket_mode and not error and not await self._socket_connected():
            error = "the Socket Mode connection to Slack is down (reconnecting)"
        return error

    async def _prometheus_check(self) -> dict[str, Any]:
        if self.prometheus_probe is None:
            return _check(None, configured=False)
        return {**await self.prometheus_probe.report(), "configured": True}

    async def health(self) -> dict[str, Any]:
        """`unhealthy` when the database is gone (nothing can be recorded), `degraded` when Slack is.

        The checks run side by side: one after another, a hanging Slack (3 s) and database would outlast
        the Docker health check's 4 s and get a merely degraded bot restarted. Prometheus is asked in the
        background (`BackgroundProbe`): its last answer and age are reported at once."""
        database_error, slack_error, prometheus = await asyncio.gather(
            db.ping(self.engine), self._slack_error(), self._prometheus_check()
        )
        checks = {
            "database": _check(database_error),
            "slack": _check(slack_error),
            "prometheus": prometheus,
        }
        if database_error:
            status = "unhealthy"
        elif slack_error or not prometheus["ok"]:
            status = "degraded"
        else:
            status = "healthy"
        return {"status": status, "checks": checks}


def _check(error: str | None, **facts: Any) -> dict[str, Any]:
    return {"ok": error is None, **facts, **({"error": error} if error else {})}


async def build_runtime(
    settings: Settings, config: AppConfig, now: Callable[[], datetime] = utcnow
) -> Runtime:
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else ""
    client = make_client(token, settings.slack_api_url)
    engine = db.make_engine(settings.database_url)
    metrics = Metrics()
    slack = SlackGateway(client)
    count, seconds = settings.channel_budget()
    slack.budgets["conversations.create"] = Budget(count, seconds + 1)  # a second of margin
    templates = Templates(config)
    sessions = db.make_sessionmaker(engine)
    store = IncidentStore(sessions)
    scheduler = Scheduler(TimerStore(sessions), now)
    housekeeping = Housekeeping(sessions, config.retention, scheduler, now)
    prometheus = (
        PrometheusClient(settings.prometheus_url, **settings.prometheus_client_options())
        if settings.prometheus_url
        else None
    )
    slo = SLOService(configured_slos(config.slos, settings.config), prometheus, store, now)
    reminders = UpdateReminders(config, store, scheduler, slack, now)
    providers = build_providers(config.paging, os.environ)
    rota_store = RotaStore(sessions)
    rota = Rota(config, rota_store, scheduler, slack, store.claim_many, now)
    paging = Paging(config, store, PagingStore(sessions), scheduler, slack, providers, metrics, now, rota)
    hooks = [paging, reminders, SLOSnapshots(slo, slack)]
    incidents = IncidentService(config, store, slack, templates, metrics, now, hooks, scheduler)
    paging.refresh_summary = incidents.refresh_summary
    runbooks = RunbookService(
        config,
        configured_runbooks(config.runbooks, settings.config),
        RunbookStore(sessions),
        incidents,
        slack,
        prometheus,
        now,
    )
    action_items = ActionItemStore(sessions)
    handoffs = Handoffs(config, rota, rota_store, store, action_items, scheduler, slack, now)
    rota.on_change.append(handoffs.replan)
    actions = ActionItems(config, action_items, store, scheduler, slack, now, os.environ)
    directory = config_relative(settings.config, config.postmortems.directory)
    git = config.postmortems.git
    postmortems = Postmortems(
        config,
        PostmortemStore(sessions),
        action_items,
        store,
        scheduler,
        slack,
        templates,
        directory,
        now,
        GitPublisher(git, directory / ".git-work", os.environ) if git else None,
    )
    incidents.hooks.append(postmortems)
    welcome = Welcome(config, store, slack, now, RUNBOOK_OPEN)
    welcome.runbooks = runbooks.matching
    incidents.hooks.append(welcome)
    mailer, mail_problem = build_mailer(settings)
    communication = Communication(
        config,
        store,
        OutboxStore(sessions),
        scheduler,
        slack,
        mailer,
        mail_problem,
        now,
        incidents.refresh_summary,
    )
    incidents.hooks.append(communication)
    archiver = ChannelArchiver(config, store, scheduler, slack, now)
    incidents.hooks.append(archiver)
    alerts = AlertService(
        config,
        incidents,
        scheduler,
        sessions,
        slack,
        metrics,
        now,
        commander=paging.first_responder,
        start_paging=paging.start_in,
    )
    export_dir = config.status_page.export_dir
    statuspage = StatusPageService(
        config,
        StatusPageStore(sessions),
        store,
        slack,
        now,
        config_relative(settings.config, export_dir) if export_dir else None,
        slo.slos,
        prometheus,
    )
    statuspage.add_listener(communication)
    catalog = ServiceCatalog(
        config, store, scheduler, slack, paging, communication, slo, now, incidents.refresh_summary
    )
    incidents.hooks.append(catalog)
    statuspage.at_risk = catalog.at_risk_components
    welcome.public_url = config.status_page.page_url if config.status_page.enabled else None
    push = config.status_page.atlassian
    if push is not None and settings.statuspage_api_key is None:
        log.warning(
            "status_page.atlassian is set but INCIDENTBOT_STATUSPAGE_API_KEY is not: nothing is pushed"
        )
    elif push is not None and settings.statuspage_api_key is not None:
        hosted = HostedStatuspage(push.api_url, settings.statuspage_api_key.get_secret_value(), push.page_id)
        links = HostedLinks(sessions)
        StatusPagePush(push, hosted, links, statuspage.store, store, scheduler, slack, now)
        statuspage.add_listener(PushQueue(scheduler, now))
    subscriptions, subscriber_mail = _subscribers(settings, statuspage, store, scheduler, mailer, now)
    workflow_actions = WorkflowActions(
        config, incidents, slack, templates, paging, communication, actions, os.environ
    )
    workflow_actions.runbooks, workflow_actions.statuspage = runbooks, statuspage
    index = configured_index(config, settings.config)
    workflows = Workflows(config, index, store, scheduler, slack, workflow_actions, now)
    rollbacks = Rollbacks(config, incidents, runbooks, paging, scheduler, slack, prometheus, now)
    workflow_actions.register("rollback", rollbacks.action)
    deploys = DeployStore(sessions)
    rollbacks.deploys = deploys
    changes = ChangeTracking(config, deploys, incidents, slack, rollbacks, scheduler, now)
    incidents.hooks.append(changes)
    changes.dependencies, changes.dependents = catalog.dependencies, catalog.dependents
    catalog.recent_deploys = deploys_from(deploys, config, now)
    scenarios = load_scenarios(config_relative(settings.config, config.drills.directory))
    drills = Drills(config, scenarios, incidents, slack, scheduler, now, directory)
    incidents.hooks.append(drills)
    runbooks.drill_result = drills.step_result
    await drills.plan_reminders()
    await incidents.list_open()  # marks the channels of drills still open (a restart forgets nothing)
    secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else None
    bolt_logger = logging.getLogger("incidentbot.bolt")
    bolt_logger.addFilter(_ignore_token_warning)
    bolt = AsyncApp(
        client=client,
        signing_secret=secret,
        request_verification_enabled=not settings.socket_mode,
        process_before_response=False,
        logger=bolt_logger,
    )
    deps = Deps(
        config=config,
        incidents=incidents,
        slack=slack,
        metrics=metrics,
        slo=slo,
        reminders=reminders,
        paging=paging,
        rota=rota,
        runbooks=runbooks,
        actions=actions,
        postmortems=postmortems,
        statuspage=statuspage,
        communication=communication,
        welcome=welcome,
        transfers=CommandTransfer(config, store, incidents, slack, now),
        catchups=Catchups(config, store, actions, communication, now),
        archiver=archiver,
        workflows=workflows,
        rollbacks=rollbacks,
        catalog=catalog,
        changes=changes,
        drills=drills,
    )
    commands.register_all(bolt, deps)
    return Runtime(
        settings=settings,
        config=config,
        engine=engine,
        slack=slack,
        metrics=metrics,
        incidents=incidents,
        bolt=bolt,
        slo=slo,
        prometheus=prometheus,
        scheduler=scheduler,
        reminders=reminders,
        paging=paging,
        rota=rota,
        handoffs=handoffs,
        alerts=alerts,
        actions=actions,
        postmortems=postmortems,
        housekeeping=housekeeping,
        statuspage=statuspage,
        subscriptions=subscriptions,
        subscriber_mail=subscriber_mail,
        workflows=workflows,
        rollbacks=rollbacks,
        catalog=catalog,
        changes=changes,
        drills=drills,
        prometheus_probe=BackgroundProbe("Prometheus", prometheus.ping) if prometheus else None,
    )


def _subscribers(
    settings: Settings,
    statuspage: StatusPageService,
    incidents: IncidentStore,
    scheduler: Scheduler,
    mailer: Mailer | None,
    now: Callable[[], datetime],
) -> tuple[Subscriptions, SubscriberMail | None]:
    """E-mail subscribers of the status page: offered with INCIDENTBOT_SUBSCRIPTION_SECRET and a mailer."""
    sessions = incidents.sessions
    secret = settings.subscription_secret.get_secret_value() if settings.subscription_secret else ""
    signer = Signer(secret) if secret else None
    store = SubscriberStore(sessions)
    subscriptions = Subscriptions(statuspage, store, scheduler, mailer, signer, now)
    if signer is None or not statuspage.enabled:
        return subscriptions, None
    mail = SubscriberMail(
        statuspage, store, SubscriberNotices(sessions), incidents, scheduler, mailer, signer, now
    )
    statuspage.add_listener(SubscriberQueue(scheduler, now))
    return subscriptions, mail


def _ignore_token_warning(record: logging.LogRecord) -> bool:
    """Bolt reads SLACK_BOT_TOKEN itself and warns that our client (with its retry handlers) wins."""
    return "will be unused" not in record.getMessage()


SOCKET_KINDS = {"events_api": "event", "interactive": "interactive", "slash_commands": "command"}
"""Socket Mode envelope types, named as `_request_kind` names the same requests over HTTP."""


def _request_kind(body: str) -> str:
    if body.startswith("{"):
        return "event"
    return "interactive" if body.startswith("payload=") else "command"


async def _seen_before(runtime: Runtime, key: str) -> bool:
    """The replay claim of a signed request; every `FORGET_EVERY` requests, claims older than a
    signature can be valid are deleted, so the table holds about ten minutes of requests."""
    runtime.requests_seen += 1
    if runtime.requests_seen % FORGET_EVERY == 0:
        before = utcnow() - timedelta(seconds=2 * MAX_AGE_SECONDS)
        await runtime.incidents.store.forget_claims(SIGNED_PREFIX, before)
    return not await runtime.incidents.claim(key)


def make_web_app(runtime: Runtime) -> web.Application:
    secret = runtime.settings.slack_signing_secret
    gate = SlackGate(
        secret.get_secret_value() if secret else None,
        lambda key: _seen_before(runtime, key),
    )

    async def slack_events(request: web.Request) -> web.Response:
        started = time.perf_counter()
        raw = await request.read()
        try:
            act = await gate.check(raw, request.headers)
        except Refused as refused:
            level = logging.WARNING if refused.status == 400 else logging.INFO
            log.log(level, "refused a Slack request (%s bytes): %s", len(raw), refused.reason)
            return web.json_response({"ok": False, "error": refused.reason}, status=refused.status)
        if not act:
            return web.Response(status=200)
        bolt_request = await to_bolt_request(request)
        runtime.metrics.slack_requests.labels(_request_kind(bolt_request.raw_body)).inc()
        response = await to_aiohttp_response(await runtime.bolt.async_dispatch(bolt_request))
        runtime.metrics.ack_seconds.observe(time.perf_counter() - started)
        return response

    async def healthz(request: web.Request) -> web.Response:
        report = await runtime.health()
        return web.json_response(report, status=503 if report["status"] == "unhealthy" else 200)

    async def metrics(request: web.Request) -> web.Response:
        try:
            sessions = runtime.incidents.store.sessions
            runtime.metrics.set_state(await current_gauges(sessions, runtime.config, utcnow()))
        except Exception:  # the database is away: serve the counters anyway, /healthz says why
            log.warning("/metrics: could not count incidents and follow-ups", exc_info=True)
        return web.Response(
            body=runtime.metrics.exposition(), headers={"Content-Type": runtime.metrics.content_type}
        )

    app = web.Application(client_max_size=1024 * 1024)
    if not runtime.settings.socket_mode:
        app.router.add_post("/slack/events", slack_events)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    if runtime.config.status_page.enabled:
        add_status_routes(app, runtime.statuspage.site)
        add_subscriber_routes(app, runtime.subscriptions)
    add_oncall_routes(app, runtime.rota)
    token = runtime.settings.webhook_token
    add_webhook_routes(app, runtime.alerts, token.get_secret_value() if token else None, runtime.metrics)
    github = runtime.settings.github_webhook_secret
    add_deploy_routes(
        app,
        runtime.changes,
        token.get_secret_value() if token else None,
        github.get_secret_value() if github else None,
    )
    pagerduty_secret = runtime.settings.pagerduty_webhook_secret
    add_provider_routes(
        app,
        runtime.paging,
        pagerduty_secret.get_secret_value() if pagerduty_secret else None,
        token.get_secret_value() if token else None,
    )
    return app


class SocketModeRefused(Exception):
    """Slack will not open a socket for this app token; the SDK would retry every 10 s, forever, in vain."""


async def _socket_url(runtime: Runtime, app_token: str) -> str:
    """A fresh wss:// URL, asked for here so a refusal stops the start instead of looping in the SDK."""
    try:
        response = await runtime.slack.client.apps_connections_open(app_token=app_token)
    except SlackApiError as exc:
        error = slack_error_of(exc)
        raise SocketModeRefused(
            f"Slack refused SLACK_APP_TOKEN for Socket Mode (apps.connections.open: {error}). "
            "It must be an app-level token (xapp-…) with the connections:write scope, "
            "from the app's Basic Information page — not the bot token (xoxb-…)."
        ) from None
    return str(response["url"])


async def _connect_socket_mode(runtime: Runtime) -> AsyncSocketModeHandler:
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    class MeteredHandler(AsyncSocketModeHandler):
        """Counted and timed like requests to /slack/events, so /metrics tells the same in both modes."""

        async def handle(self, client: Any, req: Any) -> None:
            started = time.perf_counter()
            runtime.metrics.slack_requests.labels(SOCKET_KINDS.get(req.type, req.type)).inc()
            try:
                await super().handle(client, req)
            finally:
                runtime.metrics.ack_seconds.observe(time.perf_counter() - started)

    app_token = runtime.settings.slack_app_token.get_secret_value()  # type: ignore[union-attr]
    # On reconnects the handler asks for new URLs through Bolt's client: the bot's own, at slack_api_url.
    handler = MeteredHandler(runtime.bolt, app_token)
    try:
        handler.client.wss_uri = await _socket_url(runtime, app_token)
        await handler.connect_async()
    except BaseException:
        await handler.close_async()
        raise
    return handler


async def serve(runtime: Runtime, stop: asyncio.Event) -> None:
    """Serve until `stop` is set (signal handler or test); whatever fails on the way out is cleaned up."""
    runner = web.AppRunner(make_web_app(runtime), access_log=None)
    await runner.setup()
    socket_handler: AsyncSocketModeHandler | None = None
    runtime.start()
    try:
        await runtime.housekeeping.start()  # hourly pruning, in a serving process only
        await runtime.handoffs.start()  # each schedule's next shift change, the monthly load summary
        site = web.TCPSite(runner, runtime.settings.host, runtime.settings.port)
        await site.start()
        if runtime.settings.socket_mode:
            socket_handler = runtime.socket = await _connect_socket_mode(runtime)
            log.info("connected to Slack in Socket Mode")
        log.info("incidentbot listening on http://%s:%s", runtime.settings.host, runtime.settings.port)
        # The ~130,000 objects of the started bot leave the collector's view: a full collection over them
        # stalled every request in flight for ~50 ms.
        gc.freeze()
        await stop.wait()
    finally:
        if socket_handler is not None:
            await socket_handler.close_async()
        await runner.cleanup()
        await runtime.close()
