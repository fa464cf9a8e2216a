"""`POST /webhooks/alertmanager` end to end: the real Alertmanager 0.25 notifying the bot over HTTP, the bot
declaring, attaching and posting in the Slack stand-in; alert storms; everything a sender can get wrong.

The bot runs with the example config (`examples/incidentbot.yml`, its `alertmanager:` section), on SQLite
and on Postgres. Tests that need "later" (the refire window, retries) move the bot's clock by hand and
run the timer worker themselves; the others let the worker run on its own.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import AppConfig
from bot.domain import EventKind, Incident
from bot.oncall.schedules import on_call
from bot.services.alert_groups import JOB
from bot.services.group_commit import GroupCommit
from bot.standin import RunningStandin, eventually
from bot.standin.state import message_text
from bot.store import db
from bot.store.models import AlertGroupRow, DeliveryRow, IncidentRow, TimerRow
from bot.timers import DONE, FAILED, PENDING, RUNNING
from tests.fixtures_bot import ALICE, BotUnderTest, Clock, bot_settings, running_bot

if TYPE_CHECKING:
    from tests.fixtures_alertmanager import RunningAlertmanager

TOKEN = "alertmanager-webhook-token-0123"
HOOK = "/webhooks/alertmanager"
ALERTS_CHANNEL = "C0ALERTS00"
FIRING = " is firing — "
"""In the first post of a group (the pinned incident summary has :rotating_light: too)."""
BOT_USER = "U0BOT00000"
T0 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)


# -- payloads ---------------------------------------------------------------------------------------------


def fingerprint(labels: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(labels, sort_keys=True).encode()).hexdigest()[:16]


def notification(
    service: str,
    alertname: str = "HighErrorRate",
    *,
    instances: tuple[str, ...] = ("a:9090",),
    status: str = "firing",
    severity: str = "critical",
    summary: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A v4 webhook body as Alertmanager 0.25 sends it for group_by [alertname, service]."""
    common = {"alertname": alertname, "service": service, "severity": severity}
    alerts = []
    for instance in instances:
        labels = {**common, "instance": instance}
        alerts.append(
            {
                "status": status,
                "labels": labels,
                "annotations": {"summary": summary or f"{alertname} on {service}"},
                "startsAt": "2026-11-24T01:58:00Z",
                "endsAt": "2026-11-24T02:05:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
                "generatorURL": f"http://prometheus:9090/graph?g0.expr={alertname}",
                "fingerprint": fingerprint(labels),
            }
        )
    return {
        "version": "4",
        "groupKey": f'{{}}:{{alertname="{alertname}", service="{service}"}}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "incidentbot",
        "groupLabels": {"alertname": alertname, "service": service},
        "commonLabels": common,
        "commonAnnotations": {"summary": summary or f"{alertname} on {service}"},
        "externalURL": "http://alertmanager:9093",
        "alerts": alerts,
        **extra,
    }


def am_alert(
    alertname: str, service: str, instance: str, severity: str, runbook: str | None = None, **times: datetime
) -> dict[str, Any]:
    """An alert as Prometheus posts it to Alertmanager's API."""
    annotations = {"summary": f"{alertname} on {service}"}
    if runbook:
        annotations["runbook_url"] = runbook
    return {
        "labels": {"alertname": alertname, "service": service, "instance": instance, "severity": severity},
        "annotations": annotations,
        "generatorURL": f"http://prometheus:9090/graph?g0.expr={alertname}",
        **times,
    }


# -- the bot ----------------------------------------------------------------------------------------------


@pytest.fixture
async def alert_bot(
    database_url: str, standin: RunningStandin, app_config: AppConfig
) -> AsyncIterator[BotUnderTest]:
    """The bot with the webhook token set and its timer worker running on the real clock."""
    settings = bot_settings(database_url, standin, webhook_token=TOKEN)
    async with running_bot(settings, app_config, standin.workspace) as bot:
        yield bot


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
async def timed_bot(
    database_url: str, standin: RunningStandin, app_config: AppConfig, clock: Clock
) -> AsyncIterator[BotUnderTest]:
    """The bot on a hand-moved clock: the test fires due jobs itself (`scheduler.run_due`)."""
    settings = bot_settings(database_url, standin, webhook_token=TOKEN)
    async with running_bot(settings, app_config, standin.workspace, clock) as bot:
        yield bot


async def post(
    bot: BotUnderTest,
    body: dict[str, Any] | bytes,
    token: str | None = TOKEN,
    session: aiohttp.ClientSession | None = None,
    **headers: str,
) -> tuple[int, dict[str, Any]]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    sent = {"Content-Type": "application/json", **headers}
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    own = session is None
    session = session or aiohttp.ClientSession()
    try:
        async with session.post(bot.url + HOOK, data=data, headers=sent) as response:
            return response.status, await response.json(content_type=None)
    finally:
        if own:
            await session.close()


async def groups(bot: BotUnderTest) -> list[AlertGroupRow]:
    async with bot.runtime.alerts.sessions() as session:
        return list((await session.scalars(select(AlertGroupRow).order_by(AlertGroupRow.id))).all())


async def alert_incidents(bot: BotUnderTest) -> list[Incident]:
    async with bot.runtime.alerts.sessions() as session:
        ids = (
            await session.scalars(
                select(IncidentRow.id).where(IncidentRow.declare_key.like("alert:%")).order_by(IncidentRow.id)
            )
        ).all()
    return [await bot.incident(i) for i in ids]


async def jobs(bot: BotUnderTest, *statuses: str) -> list[TimerRow]:
    async with bot.runtime.alerts.sessions() as session:
        statement = select(TimerRow).where(TimerRow.kind == JOB)
        if statuses:
            statement = statement.where(TimerRow.status.in_(statuses))
        return list((await session.scalars(statement)).all())


async def drained(bot: BotUnderTest) -> bool:
    return not await jobs(bot, PENDING, RUNNING)


def texts(bot: BotUnderTest, channel: str | None) -> list[str]:
    return [message_text(m) for m in bot.workspace.messages(channel or "")]


def posts_with(bot: BotUnderTest, channel: str | None, marker: str) -> list[str]:
    return [t for t in texts(bot, channel) if marker in t]


async def events(bot: BotUnderTest, incident_id: int, kind: EventKind) -> list[Any]:
    return [e for e in await bot.runtime.incidents.store.timeline(incident_id) if e.kind == kind]


def metric(bot: BotUnderTest, outcome: str) -> float:
    value = bot.runtime.metrics.registry.get_sample_value(
        "incidentbot_alert_notifications_total", {"outcome": outcome}
    )
    return value or 0.0


# -- the real Alertmanager --------------------------------------------------------------------------------


async def test_alertmanager_groups_become_incidents_with_the_alert_and_the_runbook(
    alert_bot: BotUnderTest, start_alertmanager: Callable[..., RunningAlertmanager]
) -> None:
    bot = alert_bot
    am = await asyncio.to_thread(start_alertmanager, bot.url + HOOK, TOKEN, group_by=["alertname", "service"])
    started = datetime.now(UTC)
    firing = [
        am_alert(
            "HighErrorRate",
            "checkout",
            "a:9090",
            "critical",
            "https://runbooks/high-errors",
            startsAt=started,
        ),
        am_alert(
            "HighErrorRate",
            "checkout",
            "b:9090",
            "critical",
            "https://runbooks/high-errors",
            startsAt=started,
        ),
        am_alert("HighLatency", "api", "gw-1", "critical", startsAt=started),  # runbook from the config
        am_alert("QueueBacklog", "messaging", "mq-1", "warning", startsAt=started),  # attach: no incident
        am_alert("CertExpiresSoon", "api", "gw-1", "info", startsAt=started),  # post to #alerts
    ]
    await asyncio.to_thread(am.post_alerts, firing)

    async def two_incidents_ready() -> list[Incident] | None:
        found = await alert_incidents(bot)
        ready = len(found) == 2 and all(posts_with(bot, i.channel_id, FIRING) for i in found)
        return found if ready else None

    found = await eventually(two_incidents_ready, timeout=20)
    api, checkout = sorted(found, key=lambda i: i.service or "")
    assert (checkout.severity, checkout.service, checkout.reporter) == ("SEV1", "checkout", BOT_USER)
    on_call_now = on_call(bot.runtime.config.oncall.schedules[0], checkout.created_at)
    assert on_call_now is not None and checkout.commander == on_call_now.user  # not the bot
    assert checkout.title == "HighErrorRate on checkout: HighErrorRate on checkout"
    assert (api.severity, api.service, api.title) == ("SEV2", "api", "HighLatency: HighLatency on api")
    assert checkout.channel_id and api.channel_id and checkout.announcement_ts
    [post_text] = posts_with(bot, checkout.channel_id, FIRING)
    assert "*HighErrorRate* is firing — 2 alerts" in post_text
    assert "<https://runbooks/high-errors|Runbook>" in post_text
    assert "<http://prometheus:9090/graph?g0.expr=HighErrorRate|Source>" in post_text
    assert f"<{am.url}|Alertmanager>" in post_text
    assert "instance=a:9090" in post_text and "instance=b:9090" in post_text
    [api_post] = posts_with(bot, api.channel_id, FIRING)
    assert "<https://runbooks.example.org/high-latency|Runbook>" in api_post
    [received] = await eventually(
        lambda: events(bot, checkout.id, EventKind.ALERT_RECEIVED)
    )  # after the post
    assert received.data["change"] == "opened" and received.data["alert"]["firing"] == 2
    # Recorded before it was announced: whoever sees the post can already read the event (no race).
    [posted] = [
        c
        for c in bot.workspace.calls_to("chat.postMessage")
        if c.args.get("channel") == checkout.channel_id and FIRING in str(c.args.get("text"))
    ]
    assert received.occurred_at.timestamp() <= posted.at

    alerts_channel = await eventually(
        lambda: len(texts(bot, ALERTS_CHANNEL)) >= 2 and texts(bot, ALERTS_CHANNEL)
    )
    backlog = next(t for t in alerts_channel if "QueueBacklog" in t)
    assert "No open incident of messaging; posted here" in backlog
    assert any("CertExpiresSoon" in t and "Rule 3 (post)" in t for t in alerts_channel)
    assert len(await groups(bot)) == 4

    # All of checkout's alerts end: "resolved" in its channel, the incident moves to monitoring.
    ended = datetime.now(UTC) - timedelta(seconds=1)
    await asyncio.to_thread(
        am.post_alerts,
        [{**alert, "startsAt": started, "endsAt": ended} for alert in firing[:2]],
    )
    monitoring = await eventually(
        lambda: _status_is(bot, checkout.id, "monitoring"), timeout=15, message="checkout moved to monitoring"
    )
    assert monitoring.status == "monitoring"
    assert posts_with(bot, checkout.channel_id, "*HighErrorRate* resolved")
    [resolved_event] = await events(bot, checkout.id, EventKind.ALERT_RESOLVED)
    assert resolved_event.data["change"] == "resolved"
    [status_event] = await events(bot, checkout.id, EventKind.STATUS_CHANGED)
    assert (status_event.actor, status_event.data) == (
        BOT_USER,
        {"from": "investigating", "to": "monitoring"},
    )
    assert (await bot.incident(api.id)).status == "investigating"
    assert len(await alert_incidents(bot)) == 2  # one incident per group, however many notifications


async def _status_is(bot: BotUnderTest, incident_id: int, status: str) -> Incident | None:
    incident = await bot.incident(incident_id)
    return incident if incident.status == status else None


async def test_a_refire_within_the_window_returns_to_the_incident_and_after_it_opens_a_new_one(
    timed_bot: BotUnderTest, clock: Clock, start_alertmanager: Callable[..., RunningAlertmanager]
) -> None:
    bot = timed_bot
    am = await asyncio.to_thread(start_alertmanager, bot.url + HOOK, TOKEN, group_by=["alertname", "service"])
    seen = 0

    async def alertmanager_says(status: str) -> AlertGroupRow:
        """Wait until Alertmanager has delivered a notification with `status`, then run the jobs."""
        nonlocal seen

        async def delivered() -> AlertGroupRow | None:
            rows = await groups(bot)
            if rows and rows[0].notifications > seen and rows[0].status == status:
                return rows[0]
            return None

        row = await eventually(delivered, timeout=15, message=f"Alertmanager sent {status}")
        seen = row.notifications
        await bot.runtime.scheduler.run_due()
        [row] = await groups(bot)
        return row

    async def fire() -> None:
        alert = am_alert("HighErrorRate", "payments", "p-1", "critical", startsAt=datetime.now(UTC))
        await asyncio.to_thread(am.post_alerts, [alert])

    async def resolve() -> None:
        now = datetime.now(UTC)
        alert = am_alert(
            "HighErrorRate",
            "payments",
            "p-1",
            "critical",
            startsAt=now - timedelta(seconds=30),
            endsAt=now - timedelta(seconds=1),
        )
        await asyncio.to_thread(am.post_alerts, [alert])

    await fire()
    await alertmanager_says("firing")
    [first] = await alert_incidents(bot)
    await resolve()
    await alertmanager_says("resolved")
    assert (await bot.incident(first.id)).status == "monitoring"

    clock.advance(minutes=5)  # within the 15 min window of the example config
    await fire()
    row = await alertmanager_says("firing")
    assert row.episode == 1 and row.incident_id == first.id
    assert [i.id for i in await alert_incidents(bot)] == [first.id]
    [again] = posts_with(bot, first.channel_id, ":repeat:")
    assert "*HighErrorRate* is firing again 5 min after it resolved — 1 alert" in again
    assert [e.data["change"] for e in await events(bot, first.id, EventKind.ALERT_RECEIVED)] == [
        "opened",
        "refired",
    ]

    await resolve()
    await alertmanager_says("resolved")
    clock.advance(minutes=16)  # past the window: a new episode, a new incident
    await fire()
    row = await alertmanager_says("firing")
    first_again, second = await alert_incidents(bot)
    assert first_again.id == first.id and second.id != first.id
    assert (row.episode, row.incident_id) == (2, second.id)
    assert second.channel_id and posts_with(bot, second.channel_id, "*HighErrorRate* is firing — 1 alert")
    assert len(posts_with(bot, first.channel_id, ":repeat:")) == 1  # nothing more in the old incident


# -- storms -----------------------------------------------------------------------------------------------

SERVICES = ["checkout", "payments", "orchestrator", "pms", "messaging", "database", "cache", "api"]


async def test_an_alert_storm_makes_exactly_one_incident_per_group_and_loses_nothing(
    alert_bot: BotUnderTest,
) -> None:
    """2,000 notifications over 20 groups at concurrency 50; five groups keep gaining alerts."""
    bot = alert_bot
    group_count, per_group, concurrency = 20, 100, 50
    growing = range(5)
    bodies = []
    for i in range(per_group):
        for g in range(group_count):
            service = SERVICES[g % len(SERVICES)]
            instances = ("a", "b", "c")[: 1 + i % 3] if g in growing else ("a",)
            bodies.append(notification(service, f"StormAlert{g:02d}", instances=instances))
    semaphore = asyncio.Semaphore(concurrency)
    statuses: list[int] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:

        async def send(body: dict[str, Any]) -> None:
            async with semaphore:
                status, answer = await post(bot, body, session=session)
                statuses.append(status)
                assert status == 200, answer

        await asyncio.gather(*(send(body) for body in bodies))
    assert statuses.count(200) == group_count * per_group

    await eventually(lambda: drained(bot), timeout=60, message="alert jobs drained")
    rows = await groups(bot)
    incidents = await alert_incidents(bot)
    assert len(rows) == group_count and len(incidents) == group_count
    assert sum(row.notifications for row in rows) == group_count * per_group
    assert {row.incident_id for row in rows} == {i.id for i in incidents}
    assert await jobs(bot, FAILED) == []
    for incident in incidents:
        changes = [e.data["change"] for e in await events(bot, incident.id, EventKind.ALERT_RECEIVED)]
        assert changes[0] == "opened" and changes.count("opened") == 1
        assert len(posts_with(bot, incident.channel_id, "is firing — ")) == 1
        grows = any(f"StormAlert{g:02d}" in incident.title for g in growing)
        # a growing group gains alerts at most once per new set of fingerprints: {b}, {c}, {b, c}
        assert (1 <= len(changes) <= 4) if grows else changes == ["opened"]
    outcomes = ("opened", "alerts_added", "unchanged", "duplicate")
    assert sum(metric(bot, o) for o in outcomes) == group_count * per_group
    assert metric(bot, "opened") == group_count


async def test_a_repeated_notification_changes_nothing_and_queues_nothing(timed_bot: BotUnderTest) -> None:
    bot = timed_bot
    body = notification("checkout")
    assert await post(bot, body) == (
        200,
        {"status": "ok", "result": "opened: queued declare (group 1, episode 1, rule 0)"},
    )
    for attempt in range(3):
        assert await post(bot, body) == (
            200,
            {"status": "ok", "result": f"unchanged (notification {attempt + 2} of group 1)"},
        )
    assert len(await jobs(bot)) == 1
    await bot.runtime.scheduler.run_due()
    assert [job.status for job in await jobs(bot)] == [DONE]
    [incident] = await alert_incidents(bot)
    assert len(posts_with(bot, incident.channel_id, FIRING)) == 1


# -- attach, post, status rules ---------------------------------------------------------------------------


async def test_warnings_attach_to_the_open_incident_of_their_service_and_status_waits_for_every_group(
    timed_bot: BotUnderTest, clock: Clock
) -> None:
    bot = timed_bot
    run_due = bot.runtime.scheduler.run_due
    critical = notification("checkout", "HighErrorRate")
    warning = notification("checkout", "HighLatency", severity="warning", instances=("a", "b"))
    await post(bot, critical)
    await run_due()
    [incident] = await alert_incidents(bot)
    await post(bot, warning)
    await run_due()
    assert posts_with(bot, incident.channel_id, "*HighLatency* is firing — 2 alerts")
    assert (
        "<https://runbooks.example.org/high-latency|Runbook>"
        in posts_with(bot, incident.channel_id, "HighLatency")[0]
    )
    assert texts(bot, ALERTS_CHANNEL) == []
    assert {row.incident_id for row in await groups(bot)} == {incident.id}

    # The critical group resolves while the warning still fires: the status waits.
    await post(bot, notification("checkout", "HighErrorRate", status="resolved"))
    await run_due()
    assert posts_with(bot, incident.channel_id, "*HighErrorRate* resolved")
    assert (await bot.incident(incident.id)).status == "investigating"
    await post(bot, notification("checkout", "HighLatency", severity="warning", status="resolved"))
    await run_due()
    assert (await bot.incident(incident.id)).status == "monitoring"

    # People resolve the incident; the warning fires again: it is not put into a resolved incident.
    await bot.runtime.incidents.resolve(incident.id, "Rolled back the deploy", ALICE)
    clock.advance(minutes=2)
    await post(bot, warning)
    await run_due()
    [in_alerts] = texts(bot, ALERTS_CHANNEL)
    assert "*HighLatency* is firing again 2 min after it resolved" in in_alerts
    assert "No open incident of checkout; posted here" in in_alerts
    # …and its "resolved" never touches the resolved incident's status.
    await post(bot, notification("checkout", "HighLatency", severity="warning", status="resolved"))
    await run_due()
    assert (await bot.incident(incident.id)).status == "resolved"

    # An info alert only goes to #alerts, and never declares.
    await post(bot, notification("api", "CertExpiresSoon", severity="info"))
    await run_due()
    assert any("CertExpiresSoon" in t and "Rule 3 (post)" in t for t in texts(bot, ALERTS_CHANNEL))
    assert len(await alert_incidents(bot)) == 1


async def test_an_alert_slack_refuses_is_retried_and_the_failure_is_on_the_timeline(
    timed_bot: BotUnderTest, clock: Clock
) -> None:
    bot = timed_bot
    bot.workspace.fail_next(
        "chat.postMessage", "fatal_error", when=lambda args: FIRING in str(args.get("text"))
    )
    await post(bot, notification("api", "HighLatency"))
    await bot.runtime.scheduler.run_due()
    [incident] = await alert_incidents(bot)
    assert incident.channel_id and posts_with(bot, incident.channel_id, FIRING) == []
    [failed] = await events(bot, incident.id, EventKind.INTEGRATION_FAILED)
    assert (
        "could not post the opened alert HighLatency" in failed.text
        and "fatal_error; retrying" in failed.text
    )
    [job] = await jobs(bot, PENDING)
    assert job.attempts == 1 and "fatal_error" in (job.last_error or "")

    clock.advance(seconds=6)  # the worker's first backoff is 5 s
    await bot.runtime.scheduler.run_due()
    assert [job.status for job in await jobs(bot)] == [DONE]
    assert len(posts_with(bot, incident.channel_id, FIRING)) == 1
    assert len(await events(bot, incident.id, EventKind.ALERT_RECEIVED)) == 1
    assert [i.id for i in await alert_incidents(bot)] == [incident.id]  # the retry did not declare again


# -- what a sender can get wrong --------------------------------------------------------------------------


async def test_bad_requests_are_refused_with_the_reason_and_write_nothing(alert_bot: BotUnderTest) -> None:
    bot = alert_bot
    good = notification("checkout")

    status, body = await post(bot, good, token=None)
    assert status == 401 and body["error"].startswith("missing bearer token")
    status, body = await post(bot, good, token=None, Authorization=f"Basic {TOKEN}")
    assert status == 401 and body["error"].startswith("missing bearer token")
    assert await post(bot, good, token="not-the-token") == (
        401,
        {"status": "error", "error": "wrong bearer token"},
    )

    status, body = await post(bot, b'{"version": "4", "groupKey": ')
    assert status == 400 and body["error"].startswith("invalid JSON: ")
    missing = {k: v for k, v in good.items() if k != "groupKey"}
    assert await post(bot, missing) == (400, {"status": "error", "error": "groupKey: Field required"})
    status, body = await post(bot, {**good, "version": "3"})
    assert status == 400 and "only webhook payload version '4'" in body["error"]

    huge = json.dumps({**good, "padding": "x" * (10 * 1024 * 1024)}).encode()
    status, body = await post(bot, huge)
    assert status == 413 and "the limit is 1,048,576 bytes" in body["error"]

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: refused while reading
        for _ in range(40):
            yield b" " * 65536

    async with (
        aiohttp.ClientSession() as session,
        session.post(bot.url + HOOK, data=chunks(), headers={"Authorization": f"Bearer {TOKEN}"}) as response,
    ):
        assert response.status == 413

    assert await groups(bot) == []
    assert (metric(bot, "unauthorized"), metric(bot, "invalid"), metric(bot, "too_large")) == (3, 3, 2)

    # Fields Alertmanager may add in later releases are ignored.
    status, body = await post(bot, {**good, "newField": {"x": 1}, "alerts": [{**good["alerts"][0], "y": 2}]})
    assert (status, body["status"]) == (200, "ok")
    assert len(await groups(bot)) == 1


async def test_webhooks_are_refused_when_no_token_is_configured(bot: BotUnderTest) -> None:
    assert bot.runtime.settings.webhook_token is None
    assert await post(bot, notification("checkout")) == (
        401,
        {"status": "error", "error": "webhooks are disabled: set INCIDENTBOT_WEBHOOK_TOKEN"},
    )


async def test_a_database_error_answers_503_so_alertmanager_retries(alert_bot: BotUnderTest) -> None:
    bot = alert_bot
    async with bot.runtime.engine.begin() as connection:
        await connection.execute(text("ALTER TABLE alert_groups RENAME TO alert_groups_away"))
    status, body = await post(bot, notification("checkout"))
    assert (status, body) == (
        503,
        {"status": "error", "error": "database unavailable; Alertmanager will retry"},
    )
    async with bot.runtime.engine.begin() as connection:
        await connection.execute(text("ALTER TABLE alert_groups_away RENAME TO alert_groups"))
    status, body = await post(bot, notification("checkout"))  # Alertmanager's retry
    assert status == 200 and body["result"].startswith("opened: queued declare")
    assert metric(bot, "unavailable") == 1
    await eventually(lambda: alert_incidents(bot))


async def test_no_rule_matched_is_answered_2xx_and_recorded_nowhere(
    database_url: str, standin: RunningStandin, app_config: AppConfig
) -> None:
    rules = app_config.alertmanager.model_copy(update={"rules": app_config.alertmanager.rules[:1]})
    config = app_config.model_copy(update={"alertmanager": rules})
    settings = bot_settings(database_url, standin, webhook_token=TOKEN)
    async with running_bot(settings, config, standin.workspace) as bot:
        assert await post(bot, notification("api", severity="info")) == (
            200,
            {"status": "ok", "result": "no rule matched"},
        )
        assert await groups(bot) == [] and await jobs(bot) == []
        assert metric(bot, "no_rule") == 1
        async with bot.runtime.alerts.sessions() as session:
            assert await session.scalar(select(func.count()).select_from(IncidentRow)) == 0


async def test_group_commit_shares_transactions_but_a_failing_work_fails_alone(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """The writer behind the webhook: works queued together commit together; one that raises is rolled
    back and reported to its caller only, the others commit."""
    group_commit = GroupCommit(sessions)

    def claiming(key: str, fail: bool = False) -> Callable[[AsyncSession], Awaitable[str]]:
        async def work(session: AsyncSession) -> str:
            await db.claim(session, key)
            if fail:
                raise ValueError(f"{key} is broken")
            return key

        return work

    results = await asyncio.gather(
        *(group_commit.run(claiming(key, fail=key == "k3")) for key in ("k1", "k2", "k3", "k4")),
        return_exceptions=True,
    )
    assert results[:2] == ["k1", "k2"] and results[3] == "k4"
    assert isinstance(results[2], ValueError) and str(results[2]) == "k3 is broken"
    async with sessions() as session:
        keys = (await session.scalars(select(DeliveryRow.key).order_by(DeliveryRow.key))).all()
    assert keys == ["k1", "k2", "k4"]
