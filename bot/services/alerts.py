"""Alertmanager notifications into incidents, durably and idempotently, fast enough for an alert storm.

Receiving a notification is database work only, never Slack:

1. route it (`bot.alerts.routing`); no rule → nothing is written;
2. one atomic upsert of the group's row (keyed by sha256 of Alertmanager's groupKey) that also copies the
   previous status and firing fingerprints into `prev_*` columns and returns old and new state together,
   so what changed is known without a read-then-write race and without a lock: concurrent notifications
   of one group queue on the row (Postgres) or the database (SQLite), and each sees its predecessor;
3. only when something changed (new group, new episode, firing again within the refire window, new alerts
   firing, all resolved) a job — a durable timer of kind `alert_group`, due now — in the same transaction,
   with a key derived from the change, so a duplicate of the same change enqueues nothing.

The job does the Slack side (declare, post, status) in the timer worker: retried with backoff when it
raises, and idempotent where it matters (the declare key is `alert:{group id}:{episode}`). Alertmanager
only waits for the upsert; notifications arriving together share a commit (`GroupCommit`), so a storm of
thousands costs one small statement each (bench/alert_storm.py: 10,000 at concurrency 50, ~1,000/s).

The group's row, the change rules and the job payload are in `alert_groups`; `GroupCommit` is in
`group_commit`; this module is the service that ties them to routing and to Slack.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.alerts.messages import Change, alert_message, declare_summary, digest
from bot.alerts.routing import AlertmanagerConfig, Route, route, runbook_for
from bot.alerts.webhook import Notification
from bot.config import COMMANDER_ROLE, AppConfig
from bot.domain import DeclareRequest, DomainError, EventKind, Incident
from bot.integrations.slack import SlackFailure, SlackGateway
from bot.messages import Message
from bot.metrics import Metrics
from bot.services.alert_groups import (
    FIRING,
    JOB,
    RESOLVED,
    GroupState,
    Job,
    declare_key,
    detect,
    job_key,
    key_hash,
    upsert_statement,
)
from bot.services.group_commit import GroupCommit
from bot.services.incidents import IncidentService, utcnow
from bot.services.setup import CHANNEL_RETRY_FOR
from bot.store import NewEvent
from bot.store.models import AlertGroupRow
from bot.timers import (
    MAX_ATTEMPTS,
    RECORD_PRIORITY,
    RetryLater,
    Scheduler,
    Timer,
    add_timer,
    setup_priority,
)

log = logging.getLogger(__name__)

POST_STEP = "post the alert"
CHANNEL_WAIT = timedelta(seconds=5)
"""How long an alert for an incident whose channel is still being set up waits before it looks again."""


class AlertDeliveryFailed(Exception):
    """Slack refused the alert post; raised so the timer worker retries the job with backoff."""


class AlertService:
    def __init__(
        self,
        config: AppConfig,
        incidents: IncidentService,
        scheduler: Scheduler,
        sessions: async_sessionmaker[AsyncSession],
        slack: SlackGateway,
        metrics: Metrics,
        now: Callable[[], datetime] = utcnow,
        commander: Callable[[str], str | None] | None = None,
        start_paging: Callable[[AsyncSession, int, str, datetime], Awaitable[bool]] | None = None,
    ) -> None:
        self.start_paging = start_paging
        """Starts an incident's escalation in the webhook's commit that records it (Paging.start_in)."""
        self.commander = commander
        """Who commands an incident an alert declares (the first person its policy pages), if anyone."""
        self.config = config
        self.incidents = incidents
        self.scheduler = scheduler
        self.sessions = sessions
        self.slack = slack
        self.metrics = metrics
        self.now = now
        self._group_commit = GroupCommit(sessions)
        scheduler.on(JOB, self.run_job, lane=lambda timer: f"alert-group:{timer.payload.get('group_id')}")

    @property
    def rules(self) -> AlertmanagerConfig:
        return self.config.alertmanager

    # -- receiving: one transaction, no Slack ---------------------------------------------------------
    async def receive(self, notification: Notification) -> str:
        """Record the notification and queue the Slack work if it changed its group; returns what happened.

        Raises the database's errors (the webhook answers 503 so Alertmanager retries); a retry of a
        notification that did commit finds nothing changed and adds nothing.
        """
        matched = route(self.rules, notification)
        if matched is None:
            self.metrics.alert_notification("no_rule")
            log.info(
                "alert group %s (%s, %s): no rule matched; nothing done",
                notification.group_key,
                notification.alertname,
                notification.status,
            )
            return "no rule matched"
        state, change, queued = await self._group_commit.run(
            lambda session: self._record(session, notification, matched), key_hash(notification.group_key)
        )
        if change is None:
            self.metrics.alert_notification("unchanged")
            return f"unchanged (notification {state.notifications} of group {state.id})"
        if not queued:
            self.metrics.alert_notification("duplicate")
            return f"{change} already queued (group {state.id}, episode {state.episode})"
        self.scheduler.kick()
        self.metrics.alert_notification(change)
        log.info(
            "alert group %s (%s): %s, queued %s (rule %s)",
            state.id,
            notification.alertname,
            change,
            matched.action,
            matched.rule_index,
        )
        where = f"group {state.id}, episode {state.episode}, rule {matched.rule_index}"
        return f"{change}: queued {matched.action} ({where})"

    async def _record(
        self, session: AsyncSession, notification: Notification, matched: Route
    ) -> tuple[GroupState, Change | None, bool]:
        """The upsert, and the job if the notification changed the group; in the caller's transaction."""
        now = self.now()
        cutoff = now - self.rules.refire_window
        firing = sorted({alert.fingerprint for alert in notification.firing})
        state = await self._upsert(session, notification, matched, firing, now, cutoff)
        change = detect(state, cutoff)
        if change is None:
            return state, None, False
        job = self._job(state, change, matched, notification, now)
        if job.action == "declare" and change == "opened":
            await self._record_incident(session, job, now)
        # Due from *after* the upsert, which waited for any earlier notification of the group to commit:
        # the worker, which runs due jobs in due-time order, then runs a group's jobs in commit order.
        due = max(now, self.now())
        queued = await add_timer(
            session, JOB, due, now, job.to_json(), key=job_key(state, change), priority=self._priority(job)
        )
        return state, change, queued

    async def _record_incident(self, session: AsyncSession, job: Job, now: datetime) -> None:
        """Record the incident and start its paging in the webhook's own commit: in a storm of hundreds of
        groups nobody waits for a job to be claimed before they are paged. The job sets it up later."""
        reporter = self.slack.known_bot_user_id()
        if reporter is None:  # before Slack has said who the bot is, the job declares as it always did
            return
        try:
            request = self.incidents.validate_declare(self._request_as(job, reporter))
        except DomainError as exc:
            log.warning("alert group %s: the job will declare it (%s)", job.group_id, exc)
            return
        key = declare_key(job.group_id, job.episode)
        incident_id = await self.incidents.store.create_in(
            session, request, key, self.config.initial_status, COMMANDER_ROLE, now
        )
        if incident_id is not None and self.start_paging is not None:
            await self.start_paging(session, incident_id, request.severity, now)

    def _priority(self, job: Job) -> int:
        """A job that declares records an incident and starts its paging: right after pages, before any
        set-up. The others feed an incident: before the set-up of any less severe one."""
        if job.action == "declare" and job.change == "opened":
            return RECORD_PRIORITY
        ids = [s.id for s in self.config.severities]
        severity = job.severity or ""
        return setup_priority(ids.index(severity) if severity in ids else len(ids))

    async def _upsert(
        self,
        session: AsyncSession,
        notification: Notification,
        matched: Route,
        firing: list[str],
        now: datetime,
        cutoff: datetime,
    ) -> GroupState:
        connection = await session.connection()
        statement = upsert_statement(connection.dialect.name)
        params = {
            "key_hash": key_hash(notification.group_key),
            "group_key": notification.group_key,
            "action": matched.action,
            "status": notification.status,
            "firing": firing,
            "now": now,
            "resolved_at": now if notification.status == RESOLVED else None,
            "cutoff": cutoff,
        }
        result = (await connection.execute(statement, params)).one()
        return GroupState(
            id=result.id,
            episode=result.episode,
            status=result.status,
            prev_status=result.prev_status,
            firing=list(result.firing or []),
            prev_firing=None if result.prev_firing is None else list(result.prev_firing),
            notifications=result.notifications,
            resolved_at=result.resolved_at,
            incident_id=result.incident_id,
        )

    def _job(
        self, state: GroupState, change: Change, matched: Route, notification: Notification, now: datetime
    ) -> Job:
        resolved_for = (now - state.resolved_at).total_seconds() if change == "refired" else None
        new = len(state.new_fingerprints()) if change == "alerts_added" else 0
        return Job(
            group_id=state.id,
            episode=state.episode,
            change=change,
            action=matched.action,
            rule_index=matched.rule_index,
            severity=matched.severity,
            service=matched.service,
            title=matched.title,
            channel=matched.channel,
            alert=digest(notification, runbook_for(self.rules, notification), new),
            resolved_for_s=resolved_for,
        )

    # -- the job: Slack side ---------------------------------------------------------------------------
    async def run_job(self, timer: Timer) -> None:
        job = Job.from_json(timer.payload)
        incident = await self._incident_for(job)
        channel = incident.channel_id if incident is not None and incident.channel_id else job.channel
        note = self._note(job, incident)
        resolved_for = timedelta(seconds=job.resolved_for_s) if job.resolved_for_s is not None else None
        message = alert_message(job.alert, job.change, resolved_for=resolved_for, note=note)
        if channel is None and incident is not None and self._channel_coming(incident):
            raise RetryLater(CHANNEL_WAIT, f"{incident.reference} has no channel yet")
        if channel is None:
            # A declare group first seen resolved (its firing notification never reached us) declares
            # nothing; an incident whose channel could not be created has said so in its own flow.
            log.log(
                logging.INFO if job.change == RESOLVED else logging.WARNING,
                "alert group %s (%s, %s): nowhere to post it (%s)",
                job.group_id,
                job.alert.alertname,
                job.change,
                f"{incident.reference} has no channel" if incident else "no incident and no channel",
            )
        # The timeline first, then the post: whoever sees the post can already read the event (and a
        # retried job, after a failed post, does not record the alert twice).
        if incident is not None:
            await self._record_alert(timer, job, incident, message)
        if channel is not None:
            await self._post(timer, job, channel, message, incident)
        if incident is not None and job.change == RESOLVED:
            await self._settle(incident, job)

    async def _record_alert(self, timer: Timer, job: Job, incident: Incident, message: Message) -> None:
        kind = EventKind.ALERT_RESOLVED if job.change == RESOLVED else EventKind.ALERT_RECEIVED
        await self.incidents.store.append(
            incident.id,
            NewEvent(
                kind,
                None,
                message.text,
                {
                    "change": job.change,
                    "group_id": job.group_id,
                    "episode": job.episode,
                    "rule_index": job.rule_index,
                    "alert": job.alert.to_json(),
                },
            ),
            self.now(),
            once=f"alert-event:{job.group_id}:{job.episode}:{job.change}:{timer.id}",
        )

    def _channel_coming(self, incident: Incident) -> bool:
        """The incident's set-up is still creating its channel (it waits in a storm, or Slack refused)."""
        return (
            incident.status != self.config.resolved_status
            and self.now() - incident.created_at < CHANNEL_RETRY_FOR
        )

    def _note(self, job: Job, incident: Incident | None) -> str | None:
        if incident is None:
            if job.action == "attach" and job.change != RESOLVED:
                service = job.service or "this service"
                return f"No open incident of {service}; posted here (rule {job.rule_index})."
            return f"Rule {job.rule_index} ({job.action})."
        if incident.status == self.config.resolved_status:
            return f"{incident.reference} is resolved; reopen it if this is the same problem."
        return None

    async def _incident_for(self, job: Job) -> Incident | None:
        """The incident this job's alert belongs to, declaring it when the rule says so (once per episode)."""
        if job.action == "post":
            return None
        if job.action == "declare":
            key = declare_key(job.group_id, job.episode)
            incident = await self.incidents.store.by_key(key)
            if incident is None:
                if job.change == RESOLVED:
                    return None  # the group was first seen resolved: nothing was declared, nothing to do
                incident = (await self.incidents.declare(await self._request(job), key)).incident
            elif job.change != RESOLVED and (await self.incidents.declare_recorded(incident)).created:
                incident = await self.incidents.get(incident.id)  # recorded by the webhook, set up now
            await self._link(job, incident.id)
            return incident
        return await self._attached(job)

    async def _request(self, job: Job) -> DeclareRequest:
        return self._request_as(job, await self.slack.bot_user_id())

    def _request_as(self, job: Job, reporter: str) -> DeclareRequest:
        service = job.service if self.config.service(job.service) is not None else None
        return DeclareRequest(
            title=job.title,
            severity=job.severity or "",
            summary=declare_summary(job.alert),
            reporter=reporter,
            commander=self.commander(job.severity or "") if self.commander else None,
            service=service,
        )

    async def _attached(self, job: Job) -> Incident | None:
        """`attach`: the group's incident, else the newest open incident of its service (then remembered)."""
        group = await self._group(job.group_id)
        if group is not None and group.episode == job.episode and group.incident_id is not None:
            incident = await self.incidents.store.get(group.incident_id)
            if incident is not None and (
                job.change == RESOLVED or incident.status != self.config.resolved_status
            ):
                return incident
        if job.change == RESOLVED or not job.service:
            return None
        candidates = [i for i in await self.incidents.list_open() if i.service == job.service and not i.drill]
        if not candidates:
            return None
        incident = max(candidates, key=lambda i: i.id)
        await self._link(job, incident.id)
        return incident

    async def _group(self, group_id: int) -> AlertGroupRow | None:
        async with self.sessions() as session:
            return await session.get(AlertGroupRow, group_id)

    async def _link(self, job: Job, incident_id: int) -> None:
        """Remember the group's incident, unless the group has moved on to a newer episode meanwhile."""
        async with self.sessions() as session, session.begin():
            await session.execute(
                update(AlertGroupRow)
                .where(
                    AlertGroupRow.id == job.group_id,
                    AlertGroupRow.episode == job.episode,
                    or_(AlertGroupRow.incident_id.is_(None), AlertGroupRow.incident_id != incident_id),
                )
                .values(incident_id=incident_id)
            )

    async def _post(
        self, timer: Timer, job: Job, channel: str, message: Message, incident: Incident | None
    ) -> None:
        """Post, or record why not: on the timeline at the first and the last attempt, in the log at each.

        Raises while attempts remain so the worker retries with backoff; after the last one it gives up
        (the timeline still gets the alert event, so the post-mortem knows the alert fired).
        """
        try:
            await self.slack.post(channel, message)
            return
        except SlackFailure as failure:
            error = failure.error
        final = timer.attempts >= MAX_ATTEMPTS
        what = (
            f"could not post the {job.change.replace('_', ' ')} alert {job.alert.alertname} "
            f"to <#{channel}>: {error}"
        )
        log.warning(
            "alert group %s, attempt %s of %s: %s%s",
            job.group_id,
            timer.attempts,
            MAX_ATTEMPTS,
            what,
            "; giving up" if final else "; will retry",
        )
        self.metrics.integration_error("slack", POST_STEP)
        if incident is not None and (timer.attempts == 1 or final):
            await self.incidents.store.append(
                incident.id,
                NewEvent(
                    EventKind.INTEGRATION_FAILED,
                    None,
                    what + ("; gave up" if final else "; retrying"),
                    {"step": POST_STEP, "error": error, "channel": channel, "attempt": timer.attempts},
                ),
                self.now(),
            )
        if not final:
            raise AlertDeliveryFailed(what)

    async def _settle(self, incident: Incident, job: Job) -> None:
        """All alerts of the group ended: move the incident to `resolved_status` if it is earlier.

        Never touches a resolved incident, never moves a status backwards, and waits while another alert
        group attached to the same incident still fires. Resolving stays a human decision.
        """
        target = self.rules.resolved_status
        statuses = self.config.statuses
        if target is None or target not in statuses:
            return
        if target == self.config.resolved_status:
            log.warning(
                "alertmanager.resolved_status is the final status %r; incidents are resolved by people "
                "(`/incident resolve` asks for the resolution), so the status is left alone",
                target,
            )
            return
        current = await self.incidents.get(incident.id)
        if current.status == self.config.resolved_status or current.status not in statuses:
            return
        if statuses.index(current.status) >= statuses.index(target):
            return
        still_firing = await self._firing_groups(incident.id)
        if still_firing:
            log.info(
                "%s: alert group %s resolved, %s other group(s) still firing; status stays %s",
                incident.reference,
                job.group_id,
                still_firing,
                current.status,
            )
            return
        try:
            await self.incidents.set_status(incident.id, target, actor=await self.slack.bot_user_id())
        except DomainError as exc:  # someone changed it meanwhile
            log.info("%s: status not changed to %s: %s", incident.reference, target, exc)

    async def _firing_groups(self, incident_id: int) -> int:
        async with self.sessions() as session:
            count = await session.scalar(
                select(func.count())
                .select_from(AlertGroupRow)
                .where(AlertGroupRow.incident_id == incident_id, AlertGroupRow.status == FIRING)
            )
            return int(count or 0)
