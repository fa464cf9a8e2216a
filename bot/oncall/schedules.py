"""On-call schedules as pure time arithmetic: layered rotations plus overrides, no Slack, no storage.

The model follows Grafana OnCall, trimmed to what a team writes by hand in YAML:

- a schedule has layers; a LATER layer in the list is HIGHER and wins wherever it is active, so a
  weekend or business-hours layer is written after the 24/7 rotation it covers;
- rotations are counted in local calendar days from `start` at the `handoff` time, so a weekly
  hand-off stays "Monday 09:00 Berlin time" across DST (that shift then lasts 167 or 169 real hours);
- overrides beat every layer, and the latest-declared override wins where two overlap.

Every public function takes and returns aware UTC datetimes; local time only exists inside, where
the schedule's zone turns calendar dates into instants.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from math import lcm
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BeforeValidator, Field, field_validator, model_validator

from bot.settings import Strict, known_zone

OVERRIDE = "override"
"""`Shift.source` of a shift that comes from an override (layer shifts carry the layer's name)."""

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]*$")

_CHUNK = timedelta(days=28)
"""How much timeline `next_handoff` paints at a time; most answers lie in the first chunk."""
_MAX_LOOKAHEAD = timedelta(days=3 * 366)
"""Give up looking for a different person after this long past the last schedule change."""


def _weekday(value: Any) -> str:
    """Accept `mon` or `monday` in any case; keep the short name so a dumped config reloads."""
    text = str(value).strip().lower()
    if text in WEEKDAYS:
        return text
    if text in _FULL_WEEKDAYS:
        return WEEKDAYS[_FULL_WEEKDAYS.index(text)]
    raise ValueError(f"unknown weekday {value!r} (use {', '.join(WEEKDAYS)})")


def _clock(value: Any) -> time:
    """Parse "HH:MM"; YAML 1.1 turns an unquoted 18:00 into the integer 1080, so say how to quote it."""
    if isinstance(value, time):
        return value
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 24 * 60:
        quoted = f'"{value // 60:02d}:{value % 60:02d}"'
        raise ValueError(
            f"{value} is not a time of day; YAML reads an unquoted {quoted[1:-1]} as the number {value},"
            f" so write it in quotes: {quoted}"
        )
    match = _HHMM.match(str(value).strip()) if isinstance(value, str) else None
    if not match:
        raise ValueError(f'{value!r} is not a time of day as "HH:MM" (e.g. "09:00", "17:30")')
    return time(int(match.group(1)), int(match.group(2)))


Weekday = Annotated[str, BeforeValidator(_weekday)]
ClockTime = Annotated[time, BeforeValidator(_clock)]


class ActiveWindow(Strict):
    """Local times a layer covers; each window starts on one of `days` and ends at `to`."""

    days: list[Weekday] = Field(default_factory=lambda: list(WEEKDAYS), min_length=1)
    from_: ClockTime = Field(time(0), alias="from")
    to: ClockTime = time(0)
    """At or before `from` means the next day: fri 18:00→08:00 is Friday night, 00:00→00:00 a whole day."""

    @property
    def overnight(self) -> bool:
        return self.to <= self.from_


class Layer(Strict):
    name: str = Field(min_length=1)
    users: list[Annotated[str, Field(min_length=1)]] = Field(min_length=1)
    """Slack user ids, in rotation order."""
    rotation: Literal["weekly", "daily", "custom"]
    length_days: int | None = Field(None, ge=1)
    """Shift length for `rotation: custom`."""
    handoff: ClockTime = time(9, 0)
    """Local time of day at which one shift ends and the next begins."""
    handoff_day: Weekday | None = None
    """Weekly rotations only; Monday when omitted. A `start` on another weekday gives a short first shift."""
    start: date
    """The first user's first shift begins at `handoff` on this date (the rotation's epoch)."""
    active: ActiveWindow | None = None
    until: date | None = None
    """The layer stops at `handoff` on this date, so a layer starting that day takes over seamlessly."""

    @model_validator(mode="after")
    def _rotation_fields(self) -> Layer:
        if self.rotation == "custom" and self.length_days is None:
            raise ValueError("rotation custom needs length_days (how many days each shift lasts)")
        if self.rotation != "custom" and self.length_days is not None:
            raise ValueError(f"length_days is only for rotation custom (a {self.rotation} shift is fixed)")
        if self.handoff_day is not None and self.rotation != "weekly":
            raise ValueError(
                f"handoff_day is only for weekly rotations; a {self.rotation} rotation hands off"
                " every shift length from start"
            )
        if self.until is not None and self.until <= self.start:
            raise ValueError(f"until ({self.until}) must be after start ({self.start})")
        return self

    @property
    def shift_days(self) -> int:
        if self.rotation == "custom":
            assert self.length_days is not None  # the validator requires it
            return self.length_days
        return 7 if self.rotation == "weekly" else 1

    @property
    def first_handoff_date(self) -> date:
        """The first full-length boundary: `start`, or for weekly the first `handoff_day` on or after it."""
        if self.rotation != "weekly":
            return self.start
        wanted = WEEKDAYS.index(self.handoff_day or "mon")
        return self.start + timedelta(days=(wanted - self.start.weekday()) % 7)

    @property
    def period_days(self) -> int:
        """Days after which the layer's pattern of users (and active windows) repeats."""
        return lcm(self.shift_days * len(self.users), 7 if self.active else 1)


class Override(Strict):
    user: str = Field(min_length=1)
    from_: datetime = Field(alias="from")
    to: datetime
    """Aware datetimes, or naive ones read in the schedule's zone (both the same kind)."""

    @model_validator(mode="after")
    def _ordered(self) -> Override:
        if _is_aware(self.from_) != _is_aware(self.to):
            raise ValueError("override from and to must both carry an offset or both have none")
        if self.to <= self.from_:
            raise ValueError(f"override to ({self.to}) must be after from ({self.from_})")
        return self

    def span(self, zone: ZoneInfo) -> tuple[datetime, datetime]:
        return _in_zone(self.from_, zone), _in_zone(self.to, zone)


class Schedule(Strict):
    id: str
    name: str = Field(min_length=1)
    timezone: str
    layers: list[Layer] = Field(min_length=1)
    """Lowest first: a later layer wins wherever it is active."""
    overrides: list[Override] = []
    """Beat every layer; a later override wins where two overlap."""
    channel: str | None = None
    """The team's Slack channel: hand-off summaries, swaps and overrides are announced there."""
    usergroup: str | None = None
    """A Slack user group id (S…) whose members the bot keeps equal to who is on call."""

    @field_validator("id")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not _SLUG.match(value):
            raise ValueError(f"schedule id {value!r} must be a slug: lowercase letters, digits, - or _")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return known_zone(value)

    @field_validator("layers")
    @classmethod
    def _layer_names(cls, value: list[Layer]) -> list[Layer]:
        names = [layer.name for layer in value]
        if OVERRIDE in {name.lower() for name in names}:
            raise ValueError(f"layer name {OVERRIDE!r} is reserved for overrides")
        dupes = sorted({name for name in names if names.count(name) > 1})
        if dupes:
            raise ValueError(f"duplicate layer name {', '.join(dupes)}")
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def check_unique(schedules: Iterable[Schedule]) -> None:
    """Raise when two schedules share an id, since `/oncall <id>` must name exactly one."""
    ids = [schedule.id for schedule in schedules]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ValueError(f"duplicate schedule id {', '.join(dupes)}")


@dataclass(frozen=True)
class Shift:
    user: str
    start: datetime
    end: datetime
    source: str
    """`OVERRIDE` or the name of the layer the shift comes from."""

    @property
    def is_override(self) -> bool:
        return self.source == OVERRIDE


@dataclass(frozen=True)
class OnCallSummary:
    schedule_id: str
    name: str
    now: Shift | None
    next: Shift | None


@dataclass(frozen=True, eq=False)
class _Piece:
    """One layer shift cut to an active window, or one override; identity marks where a shift ends."""

    start: datetime
    end: datetime
    user: str
    source: str


def on_call(schedule: Schedule, at: datetime) -> Shift | None:
    """Who is on call at `at`; `end` is the next instant the answer could change.

    That is the winning layer's next hand-off (even to the same person), the end of its active window,
    a higher layer or an override starting, or the override ending — whichever comes first.
    """
    at = _utc(at, "at")
    reach = timedelta(days=max(layer.shift_days for layer in schedule.layers) + 1)
    covering = [span for span in _override_spans(schedule) if span[0] <= at < span[1]]
    # A layer piece lies within one shift (< reach); an override piece within its override.
    lo = min([at - reach, *(start for start, _ in covering)])
    hi = max([at + reach, *(end for _, end in covering)])
    return next((s for s in _timeline(schedule, lo, hi) if s.start <= at < s.end), None)


def next_handoff(schedule: Schedule, at: datetime) -> Shift | None:
    """The first shift after `at` whose user differs from the one on call at `at` (None: nobody, ever).

    Consecutive shifts of the same person and gaps are skipped: the question is "who takes over from
    me, and when", which a hand-off to myself does not answer.
    """
    at = _utc(at, "at")
    current = on_call(schedule, at)
    user = current.user if current else None
    limit = _search_limit(schedule, at)
    lo = at
    while lo < limit:
        hi = min(lo + _CHUNK, limit)
        change = next((s for s in _timeline(schedule, lo, hi) if s.user != user), None)
        if change:
            # The chunk may cut the shift short; asking at its start gives the real end.
            return on_call(schedule, change.start)
        lo = hi
    return None


def shifts(schedule: Schedule, start: datetime, end: datetime) -> list[Shift]:
    """The final timeline within [start, end), cut to that range; uncovered time is simply absent.

    Adjacent shifts of the same user from the same source are merged, so a one-person rotation reads
    as one shift and a week with a weekend layer reads as three.
    """
    start, end = _utc(start, "start"), _utc(end, "end")
    if end <= start:
        return []
    merged: list[Shift] = []
    for shift in _timeline(schedule, start, end):
        last = merged[-1] if merged else None
        if last and (last.end, last.user, last.source) == (shift.start, shift.user, shift.source):
            merged[-1] = replace(last, end=shift.end)
        else:
            merged.append(shift)
    return merged


def summarize(schedule: Schedule, at: datetime) -> OnCallSummary:
    return OnCallSummary(schedule.id, schedule.name, on_call(schedule, at), next_handoff(schedule, at))


# --- painting the timeline -------------------------------------------------------------------------


def _timeline(schedule: Schedule, lo: datetime, hi: datetime) -> list[Shift]:
    """Paint layers bottom-up, then overrides, over [lo, hi); one Shift per visible piece.

    A boundary survives only where the winning piece changes, so a lower layer's hand-off hidden under
    a weekend layer or an override never shows up as an `end`.
    """
    zone = schedule.zone
    sources = [_layer_pieces(layer, zone, lo, hi) for layer in schedule.layers]
    sources += [
        [_Piece(start, end, override.user, OVERRIDE)]
        for override, (start, end) in zip(schedule.overrides, _override_spans(schedule), strict=True)
        if start < hi and end > lo
    ]
    starts = [[piece.start for piece in pieces] for pieces in sources]
    cuts = sorted(
        {lo, hi} | {t for pieces in sources for p in pieces for t in (p.start, p.end) if lo < t < hi}
    )
    painted: list[Shift] = []
    previous: _Piece | None = None
    for left, right in pairwise(cuts):
        winner = _winner(sources, starts, left)
        if winner is not None and winner is previous:
            painted[-1] = replace(painted[-1], end=right)
        elif winner is not None:
            painted.append(Shift(winner.user, left, right, winner.source))
        previous = winner
    return painted


def _winner(sources: Sequence[list[_Piece]], starts: Sequence[list[datetime]], at: datetime) -> _Piece | None:
    for pieces, piece_starts in zip(reversed(sources), reversed(starts), strict=True):
        index = bisect.bisect_right(piece_starts, at) - 1
        if index >= 0 and at < pieces[index].end:
            return pieces[index]
    return None


def _layer_pieces(layer: Layer, zone: ZoneInfo, lo: datetime, hi: datetime) -> list[_Piece]:
    """The layer's shifts overlapping [lo, hi), cut to its active windows; sorted, never overlapping."""
    rotation = _rotation(layer, zone, lo, hi)
    if layer.active is None:
        return rotation
    windows = _windows(layer.active, zone, lo, hi)
    return [
        _Piece(max(p.start, w_start), min(p.end, w_end), p.user, p.source)
        for p in rotation
        for w_start, w_end in windows
        if w_start < p.end and p.start < w_end
    ]


def _rotation(layer: Layer, zone: ZoneInfo, lo: datetime, hi: datetime) -> list[_Piece]:
    """The layer's shifts overlapping [lo, hi): local calendar days at `handoff`, cut at `until`."""
    first = layer.first_handoff_date
    offset = 1 if first != layer.start else 0  # a short first shift runs up to the first full hand-off
    spans = [(layer.start, first, 0)] if offset else []
    step = layer.shift_days
    # One shift early: `lo`'s local date may still belong to the previous shift (hand-off later that day).
    index = max(0, (lo.astimezone(zone).date() - first).days // step - 1)
    while (day := first + timedelta(days=index * step)) <= hi.astimezone(zone).date():
        spans.append((day, day + timedelta(days=step), index + offset))
        index += 1
    stop = _local(layer.until, layer.handoff, zone) if layer.until else None
    pieces = []
    for begin_day, end_day, number in spans:
        begin, end = _local(begin_day, layer.handoff, zone), _local(end_day, layer.handoff, zone)
        end = min(end, stop) if stop else end
        if begin < hi and end > lo and begin < end:
            pieces.append(_Piece(begin, end, layer.users[number % len(layer.users)], layer.name))
    return pieces


def _windows(
    active: ActiveWindow, zone: ZoneInfo, lo: datetime, hi: datetime
) -> list[tuple[datetime, datetime]]:
    """Active windows around [lo, hi) as instants, touching ones joined (sat + sun = one weekend)."""
    days = {WEEKDAYS.index(day) for day in active.days}
    day = lo.astimezone(zone).date() - timedelta(days=1)  # yesterday's overnight window may reach lo
    last = hi.astimezone(zone).date()
    windows: list[tuple[datetime, datetime]] = []
    while day <= last:
        if day.weekday() in days:
            start = _local(day, active.from_, zone)
            end = _local(day + timedelta(days=1 if active.overnight else 0), active.to, zone)
            if windows and start <= windows[-1][1]:
                windows[-1] = (windows[-1][0], max(end, windows[-1][1]))
            else:
                windows.append((start, end))
        day += timedelta(days=1)
    return windows


def _search_limit(schedule: Schedule, at: datetime) -> datetime:
    """Past the last one-off change (a start, an until, an override) the schedule repeats every
    `period` days of local time, so one more period without a new person means there is none."""
    zone = schedule.zone
    changes = [at]
    period = 1
    for layer in schedule.layers:
        changes += [_local(layer.first_handoff_date, layer.handoff, zone)]
        changes += [_local(layer.until, layer.handoff, zone)] if layer.until else []
        period = lcm(period, layer.period_days)
    changes += [end for _, end in _override_spans(schedule)]
    return max(changes) + min(timedelta(days=min(period + 2, _MAX_LOOKAHEAD.days)), _MAX_LOOKAHEAD)


# --- time helpers ----------------------------------------------------------------------------------


def _override_spans(schedule: Schedule) -> list[tuple[datetime, datetime]]:
    zone = schedule.zone
    return [override.span(zone) for override in schedule.overrides]


def _local(day: date, clock: time, zone: ZoneInfo) -> datetime:
    """A local wall-clock time as UTC; a time skipped by DST lands one hour later by the clock (fold=0)."""
    return datetime.combine(day, clock, tzinfo=zone).astimezone(UTC)


def _in_zone(value: datetime, zone: ZoneInfo) -> datetime:
    return (value if _is_aware(value) else value.replace(tzinfo=zone)).astimezone(UTC)


def _is_aware(value: datetime) -> bool:
    return value.tzinfo is not None and value.utcoffset() is not None


def _utc(value: datetime, what: str) -> datetime:
    if not _is_aware(value):
        raise ValueError(f"{what} must be an aware datetime (UTC), got naive {value.isoformat()}")
    return value.astimezone(UTC)
