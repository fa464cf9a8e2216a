"""What the load report is computed from, read the same way by the CLI and the monthly summary: the
pages in the window, the rota as it was (swaps and overrides included), drills left out, and each
person's own time zone."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.oncall.load import LoadReport, build, rota_users
from bot.oncall.rota import effective
from bot.oncall.rota_store import RotaStore
from bot.oncall.settings import OnCallConfig

AskZone = Callable[[str], Awaitable[str | None]]


async def load_report(
    store: RotaStore,
    oncall: OnCallConfig,
    since: datetime,
    until: datetime,
    default_zone: ZoneInfo,
    slack_zone: AskZone | None = None,
    include_drills: bool = False,
) -> LoadReport:
    pieces = await store.pieces(since)
    schedules = [effective(schedule, pieces) for schedule in oncall.schedules]
    pages = await store.pages_between(since, until)
    drills = set() if include_drills else await store.drill_incidents({page.incident_id for page in pages})
    people = dict.fromkeys([*rota_users(schedules), *(page.target for page in pages)])
    zones = {user: await person_zone(oncall, user, default_zone, slack_zone) for user in people}
    return build(schedules, pages, since, until, zones, oncall.load, drills)


async def person_zone(
    oncall: OnCallConfig, user: str, default_zone: ZoneInfo, slack_zone: AskZone | None
) -> ZoneInfo:
    """`oncall.people`, else the zone the person set in Slack, else their first schedule's, else the
    config's: night pages are counted in the sleeper's time, not the server's."""
    if user in oncall.people:
        return ZoneInfo(oncall.people[user].timezone)
    told = await slack_zone(user) if slack_zone else None
    if told:
        try:
            return ZoneInfo(told)
        except (KeyError, ValueError):
            pass
    for schedule in oncall.schedules:
        if any(user in layer.users for layer in schedule.layers):
            return schedule.zone
    return default_zone
