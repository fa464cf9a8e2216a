"""The real Alertmanager fixture delivers what production would: one notification per group, the bearer
token, a payload `parse_notification` accepts, and the resolved notification once an alert ends."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest
from aiohttp import web

from bot.alerts.webhook import InvalidNotification, Notification, parse_notification
from bot.standin.serving import serving

if TYPE_CHECKING:
    from tests.fixtures_alertmanager import RunningAlertmanager

TOKEN = "alertmanager-webhook-token-0123"
WAIT = 8.0
"""Seconds to wait for one notification; with group_wait/group_interval at 1 s they come in about 1 s."""


@dataclass
class Delivery:
    headers: dict[str, str]
    notification: Notification


@dataclass
class Receiver:
    url: str
    deliveries: asyncio.Queue[Delivery | str] = field(default_factory=asyncio.Queue)
    """Parsed notifications, or the reason a body was refused."""

    async def next(self) -> Delivery:
        got = await asyncio.wait_for(self.deliveries.get(), timeout=WAIT)
        assert isinstance(got, Delivery), f"Alertmanager sent a body parse_notification refused: {got}"
        return got


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A webhook endpoint on 127.0.0.1 that parses every body it gets and queues it."""
    box = Receiver("")

    async def hook(request: web.Request) -> web.Response:
        try:
            notification = parse_notification(await request.read())
        except InvalidNotification as exc:
            await box.deliveries.put(exc.reason)
            return web.Response(status=400, text=exc.reason)
        await box.deliveries.put(Delivery(dict(request.headers), notification))
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/webhooks/alertmanager", hook)
    async with serving(app) as url:
        box.url = f"{url}/webhooks/alertmanager"
        yield box


def alert(service: str, instance: str, **times: datetime) -> dict[str, object]:
    return {
        "labels": {
            "alertname": "HighErrorRate",
            "service": service,
            "instance": instance,
            "severity": "critical",
        },
        "annotations": {
            "summary": f"5xx above 2% on {service}",
            "runbook_url": "https://runbooks/high-errors",
        },
        **times,
    }


async def test_one_notification_per_group_then_resolved(
    start_alertmanager: Callable[..., RunningAlertmanager], receiver: Receiver
) -> None:
    am = await asyncio.to_thread(start_alertmanager, receiver.url, TOKEN, group_by=["alertname", "service"])
    # startsAt "now": an alert older than group_wait makes Alertmanager flush its group at once, possibly
    # before the group's second alert is in — two notifications instead of one.
    started = datetime.now(UTC)
    firing = [
        alert("checkout", "a:9090", startsAt=started),
        alert("checkout", "b:9090", startsAt=started),
        alert("payments", "c:9090", startsAt=started),
    ]
    await asyncio.to_thread(am.post_alerts, firing)

    first, second = await receiver.next(), await receiver.next()
    by_service = {d.notification.label("service"): d for d in (first, second)}
    assert set(by_service) == {"checkout", "payments"}
    for delivery in (first, second):
        assert delivery.headers["Authorization"] == f"Bearer {TOKEN}"
        assert delivery.headers["Content-Type"] == "application/json"
        assert delivery.headers["User-Agent"].startswith("Alertmanager/")
    checkout = by_service["checkout"].notification
    assert checkout.status == "firing"
    assert checkout.group_labels == {"alertname": "HighErrorRate", "service": "checkout"}
    assert checkout.group_key == '{}:{alertname="HighErrorRate", service="checkout"}'
    assert sorted(a.labels["instance"] for a in checkout.firing) == ["a:9090", "b:9090"]
    assert "instance" not in checkout.common_labels
    assert checkout.alertname == "HighErrorRate"
    assert checkout.runbook_url == "https://runbooks/high-errors"
    assert checkout.summary == "5xx above 2% on checkout"
    assert checkout.external_url == am.url
    assert all(a.ends_at is None and a.fingerprint for a in checkout.alerts)
    # Unchanged groups are not notified again on the next group_interval ticks (only after repeat_interval).
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(receiver.deliveries.get(), timeout=1.5)

    ended = datetime.now(UTC) - timedelta(seconds=1)
    await asyncio.to_thread(am.post_alerts, [alert("payments", "c:9090", startsAt=started, endsAt=ended)])
    resolved = await receiver.next()
    payments = resolved.notification
    assert payments.status == "resolved"
    assert payments.group_key == by_service["payments"].notification.group_key
    assert [a.status for a in payments.alerts] == ["resolved"]
    assert payments.firing == []
    ends_at = payments.resolved[0].ends_at
    assert ends_at is not None and abs(ends_at - ended) < timedelta(seconds=1)
    assert resolved.headers["Authorization"] == f"Bearer {TOKEN}"
