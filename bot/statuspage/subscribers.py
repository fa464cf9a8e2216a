"""E-mail subscribers of the public status page: who asked, what they chose, and whether they confirmed.

Double opt-in: a subscription is `pending` until the address's owner follows the signed link mailed to
it; only `confirmed` subscribers are ever mailed an update. A request for an address that is already
subscribed is treated exactly like one for a new address (its choice waits for a confirmation too), so
nothing the form answers, or how, tells whether an address is subscribed.

Confirmation mails are capped, so the form cannot be used to flood an inbox or the relay: one per address
per `COOLDOWN`, and at most `HOURLY_CAP` in all per hour. A request over a cap is answered the same way and
sends nothing.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from bot.store import db
from bot.store.models import SubscriberRow
from bot.timers import NewTimer

PENDING, CONFIRMED, UNSUBSCRIBED = "pending", "confirmed", "unsubscribed"
COOLDOWN = timedelta(minutes=5)
HOURLY_CAP = 500
EMAIL_MAX = 254
_ADDRESS = re.compile(r"^[^@\s<>()\[\],;:\"]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}$")


class BadAddress(ValueError):
    """What is wrong with the address typed in the form (shown next to it)."""


def normalize_email(raw: str) -> str:
    """The address as stored: trimmed and lowercased (mail providers treat addresses case-insensitively in
    practice, and one person must not hold two subscriptions by changing case)."""
    address = raw.strip().lower()
    if not address:
        raise BadAddress("Enter your e-mail address.")
    if len(address) > EMAIL_MAX or not _ADDRESS.match(address) or ".." in address:
        raise BadAddress("That does not look like an e-mail address (name@example.com).")
    if not address.isascii():
        raise BadAddress("Please use an address in plain Latin letters (name@example.com).")
    return address


@dataclass(frozen=True)
class Subscriber:
    id: int
    email: str
    status: str
    all_components: bool
    components: tuple[str, ...]
    confirmed_at: datetime | None

    def wants(self, affected: Sequence[str]) -> bool:
        """Whether a notice about `affected` components is for this subscriber (one about no component in
        particular is for everyone, as on Atlassian's Statuspage)."""
        return self.all_components or not affected or bool(set(self.components) & set(affected))


def _subscriber(row: SubscriberRow) -> Subscriber:
    return Subscriber(
        row.id,
        row.email,
        row.status,
        row.all_components,
        tuple(row.components or ()),
        row.confirmed_at,
    )


@dataclass(frozen=True)
class Requested:
    """A confirmation to mail: to whom, and the nonce its link carries."""

    subscriber_id: int
    nonce: str


class SubscriberStore(db.Store):
    async def request(
        self,
        email: str,
        components: Sequence[str] | None,
        now: datetime,
        mail: Callable[[Requested], NewTimer],
        cooldown: timedelta = COOLDOWN,
        hourly_cap: int = HOURLY_CAP,
    ) -> Requested | None:
        """Record the request (`components` None: all of them) and, unless a cap says no, queue the
        confirmation mail (the `mail` timer) in the same transaction. None when nothing is sent."""
        chosen = sorted(set(components or ()))
        async with self._tx() as session:
            await db.insert_new(
                session,
                SubscriberRow,
                "email",
                email=email,
                status=PENDING,
                all_components=components is None,
                components=chosen,
                requested_all=components is None,
                requested_components=chosen,
                created_at=now,
            )
            row = await session.scalar(
                select(SubscriberRow).where(SubscriberRow.email == email).with_for_update()
            )
            assert row is not None
            row.requested_all = components is None
            row.requested_components = chosen
            if row.confirm_sent_at is not None and now - row.confirm_sent_at < cooldown:
                return None
            sent_lately = await session.scalar(
                select(func.count())
                .select_from(SubscriberRow)
                .where(SubscriberRow.confirm_sent_at > now - timedelta(hours=1))
            )
            if (sent_lately or 0) >= hourly_cap:
                return None
            requested = Requested(row.id, secrets.token_urlsafe(12))
            row.confirm_nonce = requested.nonce
            row.confirm_sent_at = now
            await mail(requested).add(session, now)
            return requested

    async def get(self, subscriber_id: int) -> Subscriber | None:
        async with self.sessions() as session:
            row = await session.get(SubscriberRow, subscriber_id)
            return _subscriber(row) if row else None

    async def by_email(self, email: str) -> Subscriber | None:
        async with self.sessions() as session:
            row = await session.scalar(select(SubscriberRow).where(SubscriberRow.email == email))
            return _subscriber(row) if row else None

    async def pending_request(self, requested: Requested) -> Subscriber | None:
        """The address and the choice to confirm, while `requested` is the latest request (else None: a
        newer request mails its own link, an unsubscribe cancelled it)."""
        async with self.sessions() as session:
            row = await session.get(SubscriberRow, requested.subscriber_id)
            if row is None or row.confirm_nonce != requested.nonce:
                return None
            chosen = tuple(row.requested_components or ())
            return Subscriber(row.id, row.email, row.status, row.requested_all, chosen, row.confirmed_at)

    async def confirm(self, subscriber_id: int, nonce: str, now: datetime) -> Subscriber | None:
        """Activate the subscription with the choice it was asked with; None when the link is not the
        latest one (a newer request was made, or the address unsubscribed since)."""
        async with self._tx() as session:
            row = await session.get(SubscriberRow, subscriber_id, with_for_update=True)
            if (
                row is None
                or row.confirm_nonce is None
                or not secrets.compare_digest(row.confirm_nonce, nonce)
            ):
                return None
            if row.status != CONFIRMED:
                row.confirmed_at = now
            row.status = CONFIRMED
            row.all_components = row.requested_all
            row.components = list(row.requested_components or [])
            row.unsubscribed_at = None
            return _subscriber(row)

    async def unsubscribe(self, subscriber_id: int, now: datetime) -> Subscriber | None:
        """Stop every mail to the subscriber at once (the notices being sent skip it); also makes its
        pending confirmation links stale. Idempotent."""
        async with self._tx() as session:
            row = await session.get(SubscriberRow, subscriber_id, with_for_update=True)
            if row is None:
                return None
            if row.status != UNSUBSCRIBED:
                row.status = UNSUBSCRIBED
                row.unsubscribed_at = now
            row.confirm_nonce = None
            return _subscriber(row)

    async def confirmed_after(self, after_id: int, limit: int) -> list[Subscriber]:
        """Confirmed subscribers by id, a page at a time (the fan-out of a notice reads them so)."""
        async with self.sessions() as session:
            rows = await session.scalars(
                select(SubscriberRow)
                .where(SubscriberRow.status == CONFIRMED, SubscriberRow.id > after_id)
                .order_by(SubscriberRow.id)
                .limit(limit)
            )
            return [_subscriber(row) for row in rows.all()]

    async def counts(self) -> dict[str, int]:
        async with self.sessions() as session:
            rows: Any = await session.execute(
                select(SubscriberRow.status, func.count()).group_by(SubscriberRow.status)
            )
            return {status: count for status, count in rows.all()}
