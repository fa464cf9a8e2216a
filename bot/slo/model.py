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


def promql_number(value: float) -> str:
    """Readable constants in PromQL: 1 - 0.999 prints as 0.001, not 0.0010000000000000009."""
    return f"{round(value, 12):.12g}"


def promql_factor(value: float) -> str:
    """Full precision, so a rule fires exactly where the bot's alert state flips."""
    return repr(value).removesuffix(".0")


@dataclass(frozen=True)
class AlertSpec:
    """One of Sloth's `page_alert` / `ticket_alert`."""

    enabled: bool = True
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Alerting:
    """Sloth's `alerting:` block, kept as written so Alertmanager routes made for Sloth keep matching."""

    name: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    page: AlertSpec = AlertSpec()
    ticket: AlertSpec = AlertSpec()

    def alert(self, severity: str) -> AlertSpec:
        return self.page if severity == "page" else self.ticket


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
    alerting: Alerting | None = None
    """Sloth's alerting block; None for specs without one (the bot then names and labels the alerts)."""
    spec: str = "prometheus/v1"
    """The spec format it was read from, for `sloth_slo_info`."""
    objective_text: str = ""
    """The objective as its author wrote it in percent ("99.9"), for `sloth_slo_info`."""

    @property
    def id(self) -> str:
        return f"{self.service}/{self.name}"

    @property
    def budget(self) -> float:
        return 1.0 - self.objective

    @property
    def rule_budget(self) -> float:
        """The budget as the generated rules write it, so the bot compares what Prometheus compares."""
        return float(promql_number(self.budget))

    def alert_threshold(self, factor: float) -> float:
        """`factor * budget` in float64, the product Prometheus evaluates in `ratio > (factor * budget)`."""
        return float(promql_factor(factor)) * self.rule_budget

    def query(self, template: str, window: str) -> str:
        return template.replace(WINDOW_PLACEHOLDER, window)

    def bad_query(self, window: str) -> str:
        """Bad events over `window`; zero, not "no data", where the error series does not exist yet.

        A service that never failed has no `code="5xx"` series, so the bare error query is empty. Zero is
        taken from the total query (`0 * total`), so it carries the total's labels and appears only where
        there is traffic: no traffic still means no data.
        """
        assert self.error_query and self.total_query
        error, total = self.query(self.error_query, window), self.query(self.total_query, window)
        return f"(({error}) or (0 * ({total})))"

    def error_ratio_query(self, window: str) -> str:
        if self.ratio_query:
            return self.query(self.ratio_query, window)
        assert self.error_query and self.total_query
        return f"{self.bad_query(window)} / ({self.query(self.total_query, window)})"


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
    error_ratios: dict[str, float | None] = field(default_factory=dict)
    """window -> e(w), as Prometheus returned it (the alert state compares these, like the rules do)."""
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
