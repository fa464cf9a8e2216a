"""Uptime from an SLI: a component with `uptime_slo` gets each day's figure from Prometheus, as 1 − the
SLO's error ratio over that day in the page's time zone (raw counters, the same math as `/incident slo`),
instead of the time its public updates held it down. Better when the public updates lag the truth.

Past days are asked for once and kept; today is asked again at each refresh. Prometheus away: the
figures already known stay, and the rest of the page is unaffected.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.slo.model import SLO, prom_duration
from bot.slo.prometheus import PrometheusClient, PrometheusError

log = logging.getLogger(__name__)
REFRESH_EVERY = timedelta(minutes=10)


class SliUptime:
    def __init__(self, prometheus: PrometheusClient, slos: dict[str, SLO], zone: ZoneInfo, days: int) -> None:
        self.prometheus = prometheus
        self.slos = slos
        """Component id -> the SLO whose SLI is its uptime."""
        self.zone = zone
        self.days = days
        self.figures: dict[str, dict[date, float | None]] = {c: {} for c in slos}
        self.generation = 0
        """Bumped when a figure changes, so the page is rendered again."""
        self._away = False
        self._final: set[tuple[str, date]] = set()

    async def refresh(self, now: datetime) -> bool:
        """Ask for what is missing (and today); True when a figure changed."""
        today = now.astimezone(self.zone).date()
        wanted = [
            (component, today - timedelta(days=offset))
            for component in self.slos
            for offset in range(self.days)
            if (component, today - timedelta(days=offset)) not in self._final
        ]
        try:
            found = await asyncio.gather(*(self._day(self.slos[c], day, now) for c, day in wanted))
        except PrometheusError as exc:
            if not self._away:
                log.warning(
                    "status page uptime: Prometheus did not answer (%s); keeping the figures known", exc
                )
            self._away = True
            return False
        self._away = False
        changed = False
        for (component, day), (value, final) in zip(wanted, found, strict=True):
            changed |= self.figures[component].get(day, -1.0) != value
            self.figures[component][day] = value
            if final:
                self._final.add((component, day))
        cutoff = today - timedelta(days=self.days)
        for days in self.figures.values():
            for old in [d for d in days if d <= cutoff]:
                del days[old]
        self._final = {(c, d) for c, d in self._final if d > cutoff}
        if changed:
            self.generation += 1
        return changed

    async def _day(self, slo: SLO, day: date, now: datetime) -> tuple[float | None, bool]:
        """The day's uptime, and whether the day is over (its figure final)."""
        start = datetime.combine(day, time(), self.zone)
        midnight = datetime.combine(day + timedelta(days=1), time(), self.zone)
        end = min(midnight, now)
        if end - start < timedelta(minutes=1):
            return None, False
        ratio = await self.prometheus.query(slo.error_ratio_query(prom_duration(end - start)), end)
        return (None if ratio is None else min(1.0, max(0.0, 1 - ratio))), end == midnight
