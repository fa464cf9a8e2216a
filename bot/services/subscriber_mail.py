"""Public updates (and scheduled maintenance) e-mailed to the status page's confirmed subscribers.

Why three steps, each a durable job: the publication must not wait for ten thousand mails, and a crash must
neither lose nor repeat them. The listener (`SubscriberQueue`, told after each publication's commit) only
queues a fan-out job keyed by the update, so a replayed publication queues nothing new. The fan-out renders
the notice once, then walks the confirmed subscribers a page at a time, writing one mail row per subscriber
whose components the notice concerns (the unique pair notice/subscriber is each mail's idempotency key),
and starts `LANES` senders. Each sender mails its share, a batch per SMTP connection, at a priority below
the incident flow's own jobs (pages, set-ups, the audiences' mail), records what went out, and hands its
worker slot back every `SLICE`.

Each mail carries the subscriber's own unsubscribe link, in the body and in `List-Unsubscribe` with
`List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058), and is threaded under the subscriber's
earlier mails about the same incident (Message-ID, In-Reply-To, References).

Private incidents never get a public update (the status page refuses one), so they never reach here; the
fan-out checks again all the same, since a leak to the public cannot be taken back.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from bot.communication.mails import PersonalCopies
from bot.communication.transport import ConnectionLost, MailFailure
from bot.services.communication import GIVE_UP_AFTER, Mailer, retry_delay
from bot.services.statuspage import StatusPageService
from bot.statuspage.model import Maintenance, Publication
from bot.statuspage.state import label
from bot.statuspage.subscriber_notices import (
    FAILED,
    SENT,
    SKIPPED,
    UNSUBSCRIBE_URL,
    Addressee,
    NewNotice,
    SubscriberNotice,
    SubscriberNotices,
)
from bot.statuspage.subscribers import SubscriberStore
from bot.statuspage.tokens import Signer
from bot.store import IncidentStore
from bot.timers import DEFAULT_PRIORITY, RetryLater, Scheduler, Timer

log = logging.getLogger(__name__)
FANOUT, SEND = "subscribers.fanout", "subscribers.send"
PRIORITY = DEFAULT_PRIORITY + 5
"""After the incident flow's jobs and the audiences' mail: a subscriber can wait seconds, a page cannot."""
PAGE = 1000
"""Subscribers read (and mail rows written) per transaction of the fan-out."""
LANES = 2
"""Senders per notice. Mail is CPU work for this process (rendering, MIME, SMTP): two senders keep the
relay busy, while more would only crowd the event loop that answers Slack (the bench's ack latency)."""
BATCH = 50
"""Mails per SMTP connection."""
SLICE = timedelta(seconds=2)
"""A sender hands its worker slot back after this long: ten thousand mails never hold a slot for a minute."""
NO_MAILER = "INCIDENTBOT_SMTP_URL or INCIDENTBOT_MAIL_FROM is not set"
RECORD_EVERY = 25
"""Sent mails are recorded in groups, not one commit each; a crash repeats at most this many."""


def update_key(update_id: int) -> str:
    return f"update:{update_id}"


def maintenance_key(maintenance: Maintenance) -> str:
    return f"maintenance:{maintenance.id}:{'cancelled' if maintenance.cancelled_at else 'scheduled'}"


class SubscriberQueue:
    """A `StatusPageListener` that only queues the fan-out job (in the CLI too: the serving bot sends)."""

    def __init__(self, scheduler: Scheduler, now: Callable[[], datetime]) -> None:
        self.scheduler = scheduler
        self.now = now

    async def on_published(self, publication: Publication) -> None:
        key = update_key(publication.update.id)
        await self._queue(key, {"update": publication.update.id})

    async def on_maintenance(self, maintenance: Maintenance) -> None:
        await self._queue(maintenance_key(maintenance), {"maintenance": maintenance.id})

    async def _queue(self, key: str, payload: dict[str, int]) -> None:
        await self.scheduler.schedule(FANOUT, self.now(), payload, key=f"{FANOUT}:{key}", priority=PRIORITY)


class SubscriberMail:
    def __init__(
        self,
        statuspage: StatusPageService,
        subscribers: SubscriberStore,
        notices: SubscriberNotices,
        incidents: IncidentStore,
        scheduler: Scheduler,
        mailer: Mailer | None,
        signer: Signer,
        now: Callable[[], datetime],
    ) -> None:
        self.statuspage = statuspage
        self.section = statuspage.section
        self.subscribers = subscribers
        self.notices = notices
        self.incidents = incidents
        self.scheduler = scheduler
        self.mailer = mailer
        self.signer = signer
        self.now = now
        scheduler.on(FANOUT, self.fanout)
        scheduler.on(SEND, self.send)

    # -- the notice and its fan-out ----------------------------------------------------------------------
    async def fanout(self, timer: Timer) -> None:
        """Write a mail row per concerned subscriber, a page per transaction, then start the senders; run
        again after a crash it adds only what is missing, and once the senders exist it does nothing."""
        notice = await self._notice(timer.payload)
        if notice is None or await self.scheduler.store.has_key(self._sender_key(notice.id, LANES - 1)):
            return  # the last sender is started last: with it, the fan-out was complete
        after, queued = 0, 0
        while batch := await self.subscribers.confirmed_after(after, PAGE):
            chosen = [s.id for s in batch if s.wants(notice.components)]
            queued += await self.notices.add_mails(notice.id, chosen)
            after = batch[-1].id
        log.info("subscribers: %s mails queued for %s", queued, notice.key)
        for lane in range(LANES):
            payload = {"notice": notice.id, "lane": lane, "lanes": LANES}
            key = self._sender_key(notice.id, lane)
            await self.scheduler.schedule(SEND, self.now(), payload, key=key, priority=PRIORITY)

    @staticmethod
    def _sender_key(notice_id: int, lane: int) -> str:
        return f"{SEND}:{notice_id}:{lane}"

    async def _notice(self, payload: dict[str, object]) -> SubscriberNotice | None:
        if "update" in payload:
            return await self._update_notice(int(str(payload["update"])))
        if "maintenance" in payload:
            return await self._maintenance_notice(int(str(payload["maintenance"])))
        return None

    async def _update_notice(self, update_id: int) -> SubscriberNotice | None:
        key = update_key(update_id)
        stored = await self.notices.notice(key)
        if stored is not None:
            return stored
        update = await self.statuspage.store.get(update_id)
        if update is None or update.state != "published":
            return None
        incident = await self.incidents.get(update.incident_id)
        public = await self.statuspage.store.incident(update.incident_id)
        if incident is None or incident.private or public is None:
            log.error("subscribers: update %s is not of a public incident; nobody is told", update_id)
            return None
        names = self.statuspage.names()
        index = next(i for i, u in enumerate(public.updates) if u.id == update.id)
        affected = public.affected(index, names)
        concerned = set(public.component_statuses()) | {a.code for a in affected}
        context = {
            "kind": "update",
            "heading": update.title,
            "status": label(update.status),
            "body": update.body,
            "affected": [(a.name, label(a.new_status)) for a in affected],
            "when": self.statuspage.local(update.display_at or update.created_at),
            "link": self.statuspage.url_of(incident.id),
        }
        subject = f"[{self.section.title}] {update.title}: {label(update.status)}"
        return await self._store(key, incident.id, sorted(concerned), subject, context)

    async def _maintenance_notice(self, maintenance_id: int) -> SubscriberNotice | None:
        maintenance = await self.statuspage.store.get_maintenance(maintenance_id)
        if maintenance is None:
            return None
        key = maintenance_key(maintenance)
        stored = await self.notices.notice(key)
        if stored is not None:
            return stored
        names = self.statuspage.names()
        status = "Maintenance cancelled" if maintenance.cancelled_at else "Scheduled maintenance"
        context = {
            "kind": "maintenance",
            "heading": maintenance.title,
            "status": status,
            "body": f"{maintenance.body}\n\nWhen: {self.statuspage.window(maintenance)}".strip(),
            "affected": [(names.get(c, c), label("under_maintenance")) for c in maintenance.components],
            "when": self.statuspage.local(maintenance.cancelled_at or maintenance.created_at),
            "link": self.section.page_url,
        }
        subject = f"[{self.section.title}] {status}: {maintenance.title}"
        return await self._store(key, None, list(maintenance.components), subject, context)

    async def _store(
        self,
        key: str,
        incident_id: int | None,
        components: Sequence[str],
        subject: str,
        context: dict[str, Any],
    ) -> SubscriberNotice:
        context |= {
            "title": self.section.title,
            "page_url": self.section.page_url,
            "unsubscribe_url": UNSUBSCRIBE_URL,
        }
        text, html = self.statuspage.pages.subscriber_mail("update", **context)
        new = NewNotice(key, incident_id, components, subject, text, html, secrets.token_hex(6))
        return await self.notices.add(new, self.now())

    # -- sending ------------------------------------------------------------------------------------------
    async def send(self, timer: Timer) -> None:
        """One lane's share of a notice, `BATCH` mails per SMTP connection, until none is pending; after
        `SLICE` the job hands its worker slot back (due again at once), so a page due meanwhile goes first."""
        payload = timer.payload
        notice = await self.notices.get(int(payload["notice"]))
        if notice is None:
            return
        lane, lanes = int(payload["lane"]), int(payload["lanes"])
        copies = self._copies(self.mailer, notice) if self.mailer is not None else None
        started = time.monotonic()
        after, waiting, error = 0, [], "not sent"
        while batch := await self.notices.to_send(notice.id, lane, lanes, after, BATCH):
            after = batch[-1].mail_id
            await self.notices.finish([m.mail_id for m in batch if not m.subscribed], SKIPPED, self.now())
            todo = [m for m in batch if m.subscribed]
            if not todo:
                continue
            if self.mailer is None or copies is None:
                await self._retry_or_give_up(notice, todo, NO_MAILER)
                return
            left, problem, broken = await self._send_batch(self.mailer, notice, copies, todo)
            error = problem or error
            if broken:  # the server is away: this batch and the rest wait together
                await self._retry_or_give_up(notice, left, error)
                return
            waiting += left
            if time.monotonic() - started > SLICE.total_seconds() and not waiting:
                raise RetryLater(timedelta(0), "hands its worker slot back; continues at once")
        if waiting:
            await self._retry_or_give_up(notice, waiting, error)

    async def _send_batch(
        self, mailer: Mailer, notice: SubscriberNotice, copies: PersonalCopies, todo: list[Addressee]
    ) -> tuple[list[Addressee], str | None, bool]:
        """Send over one connection; returns the mails not done (a temporary refusal, or all the rest when
        the connection broke), the last error and whether it broke. Done ones are recorded."""
        if not todo:
            return [], None, False
        threads = await self.notices.threads(notice, [m.subscriber_id for m in todo])
        done: set[int] = set()
        sent: list[int] = []
        error: str | None = None
        broken = False
        try:
            async with mailer.transport.connection() as connection:
                for mail in todo:
                    message = self._copy(mailer, notice, copies, mail, threads.get(mail.subscriber_id, []))
                    try:
                        await connection.send_bytes(mailer.sender, [mail.email], message)
                    except ConnectionLost:
                        raise
                    except MailFailure as failure:
                        error = failure.error
                        if not failure.temporary:
                            log.warning("subscriber %s refused for good: %s", mail.subscriber_id, error)
                            await self.notices.finish([mail.mail_id], FAILED, self.now(), error)
                            done.add(mail.mail_id)
                        continue
                    sent.append(mail.mail_id)
                    done.add(mail.mail_id)
                    if len(sent) >= RECORD_EVERY:
                        await self.notices.finish(sent, SENT, self.now())
                        sent = []
        except MailFailure as failure:
            error, broken = failure.error, True
        await self.notices.finish(sent, SENT, self.now())
        return [m for m in todo if m.mail_id not in done], error, broken

    async def _retry_or_give_up(self, notice: SubscriberNotice, left: list[Addressee], error: str) -> None:
        ids = [m.mail_id for m in left]
        if not ids:
            return
        if self.now() - notice.created_at >= GIVE_UP_AFTER:
            log.error(
                "subscribers: %s mails of %s not sent for a day, given up: %s", len(ids), notice.key, error
            )
            await self.notices.finish(ids, FAILED, self.now(), error)
            return
        await self.notices.attempt_failed(ids, error)
        delay = retry_delay(max(m.attempts for m in left) + 1)
        log.warning("subscribers: %s mails of %s wait %s: %s", len(ids), notice.key, delay, error)
        raise RetryLater(max(delay, timedelta(seconds=1)), error)

    def _copies(self, mailer: Mailer, notice: SubscriberNotice) -> PersonalCopies:
        return PersonalCopies.build(
            mail_from=mailer.sender,
            subject=notice.subject,
            text=notice.text,
            html=notice.html,
            slot=UNSUBSCRIBE_URL,
            written_at=notice.created_at,
            headers={"List-Unsubscribe-Post": "List-Unsubscribe=One-Click", "Precedence": "bulk"},
        )

    def _copy(
        self,
        mailer: Mailer,
        notice: SubscriberNotice,
        copies: PersonalCopies,
        mail: Addressee,
        thread: list[str],
    ) -> bytes:
        """The subscriber's copy: their own unsubscribe link (body and `List-Unsubscribe`), threaded under
        their earlier mails about the incident."""
        url = f"{self.section.url}/status/unsubscribe?token={self.signer.unsubscribe(mail.subscriber_id)}"
        earlier = [self._message_id(mailer, tag, mail.subscriber_id) for tag in thread]
        references = list(dict.fromkeys([earlier[0], earlier[-1]])) if earlier else []
        return copies.copy(
            to=mail.email,
            message_id=self._message_id(mailer, notice.tag, mail.subscriber_id),
            link=url,
            in_reply_to=earlier[-1] if earlier else None,
            references=" ".join(references) or None,
            headers={"List-Unsubscribe": f"<{url}>"},
        )

    @staticmethod
    def _message_id(mailer: Mailer, tag: str, subscriber_id: int) -> str:
        """Fixed by the notice and the subscriber: a resend after a crash is the same message."""
        return f"<status.{tag}.{subscriber_id}@{mailer.domain}>"
