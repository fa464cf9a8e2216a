"""The one internal SLO model that Sloth and OpenSLO specs both load into, and the status computed for it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

WINDOW_PLACEHOLDER = "{{.window}}"
BURN_WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")


def prom_duration(delta: timedelta) -> str:
    """Prometheus duration text for a window: 5m, 1h, 30d."""
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@dataclass(frozen=True)
class SLO:
    service: str
    name: str
    objective: float
    """Target as a fraction, e.g. 0.995 for 99.5 %."""
    period: timedelta = timedelta(days=30)
    error_query: str | None = None
    """PromQL for bad events over `{{.window}}` (a rate or an increase, see `counts_are_rates`)."""
    total_query: str | None = None
    ratio_query: str | None = None
    """PromQL for the error ratio over `{{.window}}`, when the spec gives only a ratio (Sloth `sli.raw`)."""
    counts_are_rates: bool = True
    """True when error/total queries are per-second rates (multiply by the window for event counts)."""
    description: str = ""
    source: str = ""
    """File the spec came from, for error messages."""
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.service}/{self.name}"

    @property
    def budget(self) -> float:
        return 1.0 - self.objective

    def query(self, template: str, window: str) -> str:
        return template.replace(WINDOW_PLACEHOLDER, window)

    def error_ratio_query(self, window: str) -> str:
        if self.ratio_query:
            return self.query(self.ratio_query, window)
        assert self.error_query and self.total_query
        return f"({self.query(self.error_query, window)}) / ({self.query(self.total_query, window)})"


AlertState = str  # "page" | "ticket" | "ok" | "no data"


@dataclass(frozen=True)
class SLOStatus:
    slo: SLO
    at: datetime
    error: str | None = None
    """Why there are no figures: "Prometheus unreachable (…)", "bad query: …"; None when evaluated."""
    error_ratio: float | None = None
    """e(T) over the whole period; None means no data."""
    burn_rates: dict[str, float | None] = field(default_factory=dict)
    """window -> e(w) / (1 - objective); None = no data for that window."""
    total_events: float | None = None
    bad_events: float | None = None
    alert: AlertState = "no data"
    budget_history: list[float | None] = field(default_factory=list)
    """Budget remaining at evenly spaced points over the period, oldest first (for a sparkline)."""

    @property
    def sli(self) -> float | None:
        return None if self.error_ratio is None else 1.0 - self.error_ratio

    @property
    def budget_remaining(self) -> float | None:
        """1 - e(T)/(1 - objective); negative once the budget is overspent."""
        return None if self.error_ratio is None else 1.0 - self.error_ratio / self.slo.budget

    @property
    def budget_events_remaining(self) -> float | None:
        if self.total_events is None or self.bad_events is None:
            return None
        return self.total_events * self.slo.budget - self.bad_events

    @property
    def current_burn(self) -> float | None:
        return self.burn_rates.get("1h")

    @property
    def time_to_exhaustion(self) -> timedelta | None:
        """remaining · T / burn at the current (1 h) burn; None when not burning or no data."""
        remaining, burn = self.budget_remaining, self.current_burn
        if remaining is None or burn is None or burn <= 0:
            return None
        return max(timedelta(0), self.slo.period * (remaining / burn))

    @property
    def has_data(self) -> bool:
        return self.error is None and self.error_ratio is not None
