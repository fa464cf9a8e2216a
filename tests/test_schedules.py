"""On-call schedules: rotations, DST, layers, overrides, next hand-off, merged timelines, validation.

Every expected instant is worked out by hand in the comments (Berlin is UTC+1 in winter, UTC+2 in summer;
New York UTC−5 / UTC−4), never by asking the code under test.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from pydantic import ValidationError

from bot.oncall.schedules import (
    OVERRIDE,
    OnCallSummary,
    Schedule,
    Shift,
    check_unique,
    next_handoff,
    on_call,
    shifts,
    summarize,
)
from bot.oncall.settings import OnCallConfig

US = timedelta(microseconds=1)
BERLIN = ZoneInfo("Europe/Berlin")


def z(*parts: int) -> datetime:
    """A UTC instant: z(2026, 3, 9, 8) is 2026-03-09 08:00Z."""
    return datetime(*parts, tzinfo=UTC)


def layer(name: str, users: list[str], **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "users": users,
        "rotation": "weekly",
        "handoff": "09:00",
        "start": "2026-03-02",
    } | extra


def schedule(*layers: dict[str, Any], zone: str = "Europe/Berlin", overrides: Any = ()) -> Schedule:
    return Schedule.model_validate(
        {"id": "primary", "name": "Primary", "timezone": zone, "layers": layers, "overrides": list(overrides)}
    )


# Weekly, Monday 09:00 Berlin, from Monday 2026-03-02: alice, bob, carol, alice, …
# 2026-03-02 09:00 CET = 08:00Z; every Monday up to 03-23 likewise 08:00Z.
WEEKLY3 = schedule(layer("primary", ["alice", "bob", "carol"]))
# The same with two people, under the layer and override tests.
WEEKLY2 = layer("weekly", ["alice", "bob"])


# --- rotation boundaries -------------------------------------------------------------------------


def test_exactly_at_the_handoff_the_next_person_is_on_call() -> None:
    assert on_call(WEEKLY3, z(2026, 3, 9, 8)) == Shift("bob", z(2026, 3, 9, 8), z(2026, 3, 16, 8), "primary")


def test_one_microsecond_before_the_handoff_it_is_still_the_previous_person() -> None:
    before = on_call(WEEKLY3, z(2026, 3, 9, 8) - US)
    assert before == Shift("alice", z(2026, 3, 2, 8), z(2026, 3, 9, 8), "primary")


def test_one_microsecond_after_the_handoff() -> None:
    after = on_call(WEEKLY3, z(2026, 3, 9, 8) + US)
    assert after == Shift("bob", z(2026, 3, 9, 8), z(2026, 3, 16, 8), "primary")


def test_the_rotation_wraps_round_to_the_first_user() -> None:
    assert on_call(WEEKLY3, z(2026, 3, 16, 8)) == Shift(
        "carol", z(2026, 3, 16, 8), z(2026, 3, 23, 8), "primary"
    )
    assert on_call(WEEKLY3, z(2026, 3, 23, 8)).user == "alice"  # type: ignore[union-attr]


def test_aware_input_in_another_zone_gives_utc_output() -> None:
    shift = on_call(WEEKLY3, datetime(2026, 3, 9, 9, tzinfo=BERLIN))  # the hand-off, in Berlin time
    assert shift is not None and shift.user == "bob"
    assert shift.start == z(2026, 3, 9, 8) and shift.start.tzinfo is UTC


def test_naive_instants_are_refused() -> None:
    with pytest.raises(ValueError, match="at must be an aware datetime"):
        on_call(WEEKLY3, datetime(2026, 3, 9, 8))


# Custom 3-day rotation in UTC, hand-off 10:00, from Monday 2026-01-05: ann, ben, cat, ann, …
THREE_DAY = schedule(
    layer(
        "triage", ["ann", "ben", "cat"], rotation="custom", length_days=3, handoff="10:00", start="2026-01-05"
    ),
    zone="UTC",
)


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (z(2026, 1, 5, 10), Shift("ann", z(2026, 1, 5, 10), z(2026, 1, 8, 10), "triage")),
        (z(2026, 1, 10, 23), Shift("ben", z(2026, 1, 8, 10), z(2026, 1, 11, 10), "triage")),
        (z(2026, 1, 11, 10), Shift("cat", z(2026, 1, 11, 10), z(2026, 1, 14, 10), "triage")),
        (z(2026, 1, 14, 10) - US, Shift("cat", z(2026, 1, 11, 10), z(2026, 1, 14, 10), "triage")),
        (z(2026, 1, 14, 10), Shift("ann", z(2026, 1, 14, 10), z(2026, 1, 17, 10), "triage")),
        (z(2026, 1, 17, 10), Shift("ben", z(2026, 1, 17, 10), z(2026, 1, 20, 10), "triage")),
        # 2026-02-04 is 30 days = 10 shifts after the start; 10 % 3 = 1 → ben.
        (z(2026, 2, 5, 0), Shift("ben", z(2026, 2, 4, 10), z(2026, 2, 7, 10), "triage")),
    ],
)
def test_n_day_rotation_cycles_through_three_users(at: datetime, expected: Shift) -> None:
    assert on_call(THREE_DAY, at) == expected


def test_nobody_is_on_call_before_the_rotation_starts() -> None:
    assert on_call(THREE_DAY, z(2026, 1, 4)) is None
    assert on_call(THREE_DAY, z(2026, 1, 5, 10) - US) is None
    assert next_handoff(THREE_DAY, z(2026, 1, 1)) == Shift(
        "ann", z(2026, 1, 5, 10), z(2026, 1, 8, 10), "triage"
    )


def test_the_layer_ends_at_the_handoff_on_its_until_date() -> None:
    ending = schedule(
        layer(
            "old",
            ["ann", "ben", "cat"],
            rotation="custom",
            length_days=3,
            handoff="10:00",
            start="2026-01-05",
        )
        | {"until": "2026-01-14"},
        zone="UTC",
    )
    assert on_call(ending, z(2026, 1, 14, 10) - US) == Shift(
        "cat", z(2026, 1, 11, 10), z(2026, 1, 14, 10), "old"
    )
    assert on_call(ending, z(2026, 1, 14, 10)) is None
    assert next_handoff(ending, z(2026, 1, 12)) is None  # cat is the last one, ever
    assert [s.user for s in shifts(ending, z(2026, 1, 1), z(2026, 2, 1))] == ["ann", "ben", "cat"]


def test_until_cuts_a_shift_short_and_a_successor_layer_takes_over_seamlessly() -> None:
    handover = schedule(
        layer("new", ["dan"], rotation="daily", handoff="10:00", start="2026-01-13"),
        layer(
            "old",
            ["ann", "ben", "cat"],
            rotation="custom",
            length_days=3,
            handoff="10:00",
            start="2026-01-05",
        )
        | {"until": "2026-01-13"},  # mid-way through cat's shift (01-11 10:00 → 01-14 10:00)
        zone="UTC",
    )
    assert shifts(handover, z(2026, 1, 11), z(2026, 1, 15)) == [
        Shift("ben", z(2026, 1, 11), z(2026, 1, 11, 10), "old"),
        Shift("cat", z(2026, 1, 11, 10), z(2026, 1, 13, 10), "old"),
        Shift("dan", z(2026, 1, 13, 10), z(2026, 1, 15), "new"),
    ]


def test_weekly_start_off_the_handoff_day_gives_a_short_first_shift() -> None:
    # Starts Wednesday 2026-03-04 09:00 CET (08:00Z); hand-offs stay on Mondays.
    short = schedule(layer("primary", ["alice", "bob"], start="2026-03-04"))
    assert on_call(short, z(2026, 3, 4, 8) - US) is None
    assert on_call(short, z(2026, 3, 5)) == Shift("alice", z(2026, 3, 4, 8), z(2026, 3, 9, 8), "primary")
    assert on_call(short, z(2026, 3, 9, 8)) == Shift("bob", z(2026, 3, 9, 8), z(2026, 3, 16, 8), "primary")


def test_handoff_day_other_than_monday() -> None:
    # Thursday 2026-03-05 14:00 CET = 13:00Z.
    thursday = schedule(
        layer("primary", ["alice", "bob"], handoff_day="Thursday", handoff="14:00", start="2026-03-05")
    )
    assert on_call(thursday, z(2026, 3, 12, 13)) == Shift(
        "bob", z(2026, 3, 12, 13), z(2026, 3, 19, 13), "primary"
    )


# --- daylight saving time ------------------------------------------------------------------------


def test_weekly_handoff_stays_at_0900_berlin_when_summer_time_starts() -> None:
    # Clocks go forward on Sunday 2026-03-29. Shift 3 (alice) runs Mon 03-23 09:00 CET = 08:00Z
    # to Mon 03-30 09:00 CEST = 07:00Z: 167 real hours.
    shift = on_call(WEEKLY3, z(2026, 3, 29, 12))
    assert shift == Shift("alice", z(2026, 3, 23, 8), z(2026, 3, 30, 7), "primary")
    assert shift.end - shift.start == timedelta(hours=167)
    assert shift.end.astimezone(BERLIN).time() == time(9, 0)
    nxt = on_call(WEEKLY3, z(2026, 3, 30, 7))
    assert nxt == Shift("bob", z(2026, 3, 30, 7), z(2026, 4, 6, 7), "primary")
    assert on_call(WEEKLY3, z(2026, 3, 30, 7) - US).user == "alice"  # type: ignore[union-attr]


def test_weekly_handoff_stays_at_0900_berlin_when_summer_time_ends() -> None:
    # Clocks go back on Sunday 2026-10-25. Mon 10-19 is 231 days = 33 weeks after the start; 33 % 3 = 0,
    # so alice: 10-19 09:00 CEST = 07:00Z to 10-26 09:00 CET = 08:00Z: 169 real hours.
    shift = on_call(WEEKLY3, z(2026, 10, 25, 12))
    assert shift == Shift("alice", z(2026, 10, 19, 7), z(2026, 10, 26, 8), "primary")
    assert shift.end - shift.start == timedelta(hours=169)
    assert on_call(WEEKLY3, z(2026, 10, 26, 8)) == Shift(
        "bob", z(2026, 10, 26, 8), z(2026, 11, 2, 8), "primary"
    )


# Daily in New York, 08:00, from Friday 2026-03-06: ann, ben, ann, …
NEW_YORK = schedule(
    layer("us", ["ann", "ben"], rotation="daily", handoff="08:00", start="2026-03-06"),
    zone="America/New_York",
)


def test_daily_handoff_in_new_york_across_spring_forward() -> None:
    # Sat 03-07 08:00 EST = 13:00Z → Sun 03-08 08:00 EDT = 12:00Z: ben's Saturday shift lasts 23 hours.
    saturday = on_call(NEW_YORK, z(2026, 3, 8))
    assert saturday == Shift("ben", z(2026, 3, 7, 13), z(2026, 3, 8, 12), "us")
    assert saturday.end - saturday.start == timedelta(hours=23)
    assert on_call(NEW_YORK, z(2026, 3, 8, 12)) == Shift("ann", z(2026, 3, 8, 12), z(2026, 3, 9, 12), "us")


def test_daily_handoff_in_new_york_across_fall_back() -> None:
    # Sat 10-31 is 239 days after the start (odd → ben): 08:00 EDT = 12:00Z to Sun 11-01 08:00 EST = 13:00Z.
    shift = on_call(NEW_YORK, z(2026, 10, 31, 20))
    assert shift == Shift("ben", z(2026, 10, 31, 12), z(2026, 11, 1, 13), "us")
    assert shift.end - shift.start == timedelta(hours=25)


def test_a_handoff_inside_the_spring_forward_gap_happens_an_hour_later_by_the_clock() -> None:
    # 02:30 does not exist in New York on 2026-03-08; it is read with the winter offset: 07:30Z = 03:30 EDT.
    gap = schedule(
        layer("us", ["ann", "ben"], rotation="daily", handoff="02:30", start="2026-03-07"),
        zone="America/New_York",
    )
    assert on_call(gap, z(2026, 3, 8, 7, 30) - US) == Shift(
        "ann", z(2026, 3, 7, 7, 30), z(2026, 3, 8, 7, 30), "us"
    )
    # Mon 03-09 02:30 EDT = 06:30Z: ben's shift is 23 hours.
    assert on_call(gap, z(2026, 3, 8, 7, 30)) == Shift(
        "ben", z(2026, 3, 8, 7, 30), z(2026, 3, 9, 6, 30), "us"
    )


# --- layers --------------------------------------------------------------------------------------

# Weekend layer above the weekly one: Sat 00:00 → Mon 00:00 Berlin (CET: Fri 23:00Z → Sun 23:00Z).
WEEKEND = layer(
    "weekend",
    ["wendy", "walt"],
    handoff_day="sat",
    handoff="00:00",
    start="2026-03-07",
    active={"days": ["sat", "sun"], "from": "00:00", "to": "00:00"},
)
WITH_WEEKEND = schedule(WEEKLY2, WEEKEND)


def test_the_weekend_layer_wins_over_the_weekly_layer() -> None:
    assert on_call(WITH_WEEKEND, z(2026, 3, 6, 23) - US) == Shift(
        "alice", z(2026, 3, 2, 8), z(2026, 3, 6, 23), "weekly"
    )
    # Saturday and Sunday are one piece: no hand-off at Sunday midnight.
    assert on_call(WITH_WEEKEND, z(2026, 3, 7, 12)) == Shift(
        "wendy", z(2026, 3, 6, 23), z(2026, 3, 8, 23), "weekend"
    )
    # Monday 00:30 CET: back to alice until the weekly hand-off at 09:00 CET.
    assert on_call(WITH_WEEKEND, z(2026, 3, 8, 23, 30)) == Shift(
        "alice", z(2026, 3, 8, 23), z(2026, 3, 9, 8), "weekly"
    )
    assert on_call(WITH_WEEKEND, z(2026, 3, 14, 12)) == Shift(
        "walt", z(2026, 3, 13, 23), z(2026, 3, 15, 23), "weekend"
    )


def test_a_lower_layer_listed_later_would_hide_nothing() -> None:
    # Order matters: with the weekend layer first (lower), the 24/7 weekly layer covers it completely.
    assert on_call(schedule(WEEKEND, WEEKLY2), z(2026, 3, 7, 12)).user == "alice"  # type: ignore[union-attr]


def test_business_hours_layer() -> None:
    # Weekdays 09:00–17:00 Berlin (08:00Z–16:00Z in March), daily dana/dave from Mon 03-02.
    day_desk = layer(
        "day desk",
        ["dana", "dave"],
        rotation="daily",
        active={"days": ["mon", "tue", "wed", "thu", "fri"], "from": "09:00", "to": "17:00"},
    )
    business = schedule(WEEKLY2, day_desk)
    assert on_call(business, z(2026, 3, 3, 10)) == Shift(
        "dave", z(2026, 3, 3, 8), z(2026, 3, 3, 16), "day desk"
    )
    assert on_call(business, z(2026, 3, 3, 16)) == Shift(
        "alice", z(2026, 3, 3, 16), z(2026, 3, 4, 8), "weekly"
    )
    # Saturday: nobody at the desk; alice from Friday 17:00 CET until Monday 09:00 CET, when both her
    # weekly shift ends and the desk opens (day 7 of the daily rotation → dave).
    assert on_call(business, z(2026, 3, 7, 10)) == Shift(
        "alice", z(2026, 3, 6, 16), z(2026, 3, 9, 8), "weekly"
    )
    assert on_call(business, z(2026, 3, 9, 8)) == Shift(
        "dave", z(2026, 3, 9, 8), z(2026, 3, 9, 16), "day desk"
    )
    assert on_call(business, z(2026, 3, 9, 16)) == Shift(
        "bob", z(2026, 3, 9, 16), z(2026, 3, 10, 8), "weekly"
    )


def test_an_active_window_over_midnight() -> None:
    nights = layer("nights", ["nick"], active={"days": ["fri"], "from": "18:00", "to": "08:00"})
    friday_nights = schedule(layer("weekly", ["alice"]), nights, zone="UTC")
    assert on_call(friday_nights, z(2026, 3, 6, 18) - US) == Shift(
        "alice", z(2026, 3, 2, 9), z(2026, 3, 6, 18), "weekly"
    )
    assert on_call(friday_nights, z(2026, 3, 7, 3)) == Shift(
        "nick", z(2026, 3, 6, 18), z(2026, 3, 7, 8), "nights"
    )
    assert on_call(friday_nights, z(2026, 3, 7, 8)) == Shift(
        "alice", z(2026, 3, 7, 8), z(2026, 3, 9, 9), "weekly"
    )


# --- overrides -----------------------------------------------------------------------------------


def test_an_override_inside_a_shift_with_naive_times_read_in_the_schedule_zone() -> None:
    # 2026-03-04 12:00–18:00 Berlin = 11:00Z–17:00Z.
    covered = schedule(
        WEEKLY2, overrides=[{"user": "carol", "from": "2026-03-04 12:00", "to": "2026-03-04 18:00"}]
    )
    assert on_call(covered, z(2026, 3, 4, 11) - US) == Shift(
        "alice", z(2026, 3, 2, 8), z(2026, 3, 4, 11), "weekly"
    )
    assert on_call(covered, z(2026, 3, 4, 12)) == Shift(
        "carol", z(2026, 3, 4, 11), z(2026, 3, 4, 17), OVERRIDE
    )
    assert on_call(covered, z(2026, 3, 4, 17)) == Shift(
        "alice", z(2026, 3, 4, 17), z(2026, 3, 9, 8), "weekly"
    )
    assert on_call(covered, z(2026, 3, 4, 12)).is_override  # type: ignore[union-attr]


def test_an_override_spanning_a_handoff() -> None:
    spanning = schedule(
        WEEKLY2, overrides=[{"user": "carol", "from": "2026-03-08T20:00Z", "to": "2026-03-09T12:00Z"}]
    )
    assert on_call(spanning, z(2026, 3, 9, 8)) == Shift(
        "carol", z(2026, 3, 8, 20), z(2026, 3, 9, 12), OVERRIDE
    )
    assert on_call(spanning, z(2026, 3, 9, 12)) == Shift(
        "bob", z(2026, 3, 9, 12), z(2026, 3, 16, 8), "weekly"
    )
    assert next_handoff(spanning, z(2026, 3, 8, 19)) == Shift(
        "carol", z(2026, 3, 8, 20), z(2026, 3, 9, 12), OVERRIDE
    )
    assert next_handoff(spanning, z(2026, 3, 9, 8)) == Shift(
        "bob", z(2026, 3, 9, 12), z(2026, 3, 16, 8), "weekly"
    )


DAVE = {"user": "dave", "from": "2026-03-04T10:00Z", "to": "2026-03-04T14:00Z"}
ERIN = {"user": "erin", "from": "2026-03-04T12:00Z", "to": "2026-03-04T16:00Z"}


@pytest.mark.parametrize(
    ("overrides", "dave_until", "erin_from"),
    [([DAVE, ERIN], 12, 12), ([ERIN, DAVE], 14, 14)],
    ids=["erin-declared-last", "dave-declared-last"],
)
def test_the_latest_declared_override_wins_where_two_overlap(
    overrides: list[dict[str, str]], dave_until: int, erin_from: int
) -> None:
    doubled = schedule(WEEKLY2, overrides=overrides)
    assert shifts(doubled, z(2026, 3, 4), z(2026, 3, 5)) == [
        Shift("alice", z(2026, 3, 4), z(2026, 3, 4, 10), "weekly"),
        Shift("dave", z(2026, 3, 4, 10), z(2026, 3, 4, dave_until), OVERRIDE),
        Shift("erin", z(2026, 3, 4, erin_from), z(2026, 3, 4, 16), OVERRIDE),
        Shift("alice", z(2026, 3, 4, 16), z(2026, 3, 5), "weekly"),
    ]


def test_an_override_ending_exactly_at_a_handoff() -> None:
    # 07:00+01:00 = 06:00Z; 09:00+01:00 = 08:00Z, the weekly hand-off.
    early = schedule(
        WEEKLY2,
        overrides=[{"user": "carol", "from": "2026-03-09T07:00+01:00", "to": "2026-03-09T09:00+01:00"}],
    )
    assert on_call(early, z(2026, 3, 9, 8) - US) == Shift(
        "carol", z(2026, 3, 9, 6), z(2026, 3, 9, 8), OVERRIDE
    )
    assert on_call(early, z(2026, 3, 9, 8)) == Shift("bob", z(2026, 3, 9, 8), z(2026, 3, 16, 8), "weekly")
    assert next_handoff(early, z(2026, 3, 9, 7)) == Shift(
        "bob", z(2026, 3, 9, 8), z(2026, 3, 16, 8), "weekly"
    )
    assert shifts(early, z(2026, 3, 9), z(2026, 3, 10)) == [
        Shift("alice", z(2026, 3, 9), z(2026, 3, 9, 6), "weekly"),
        Shift("carol", z(2026, 3, 9, 6), z(2026, 3, 9, 8), OVERRIDE),
        Shift("bob", z(2026, 3, 9, 8), z(2026, 3, 10), "weekly"),
    ]


def test_a_long_override_reports_its_real_start_and_end() -> None:
    # Two weeks of holiday cover, 03-04 12:00 CET (11:00Z) → 03-18 18:00 CET (17:00Z), asked in the middle.
    cover = schedule(
        WEEKLY2, overrides=[{"user": "carol", "from": "2026-03-04 12:00", "to": "2026-03-18 18:00"}]
    )
    assert on_call(cover, z(2026, 3, 12)) == Shift("carol", z(2026, 3, 4, 11), z(2026, 3, 18, 17), OVERRIDE)
    # alice's weekly shift is hidden, so the next person is alice only from the override's end.
    assert next_handoff(cover, z(2026, 3, 12)) == Shift(
        "alice", z(2026, 3, 18, 17), z(2026, 3, 23, 8), "weekly"
    )


def test_an_override_beats_a_higher_layer_too() -> None:
    over_weekend = schedule(
        WEEKLY2, WEEKEND, overrides=[{"user": "olga", "from": "2026-03-07 10:00", "to": "2026-03-07 11:00"}]
    )
    assert on_call(over_weekend, z(2026, 3, 7, 9, 30)) == Shift(
        "olga", z(2026, 3, 7, 9), z(2026, 3, 7, 10), OVERRIDE
    )
    assert on_call(over_weekend, z(2026, 3, 7, 10)) == Shift(
        "wendy", z(2026, 3, 7, 10), z(2026, 3, 8, 23), "weekend"
    )


# --- next hand-off -------------------------------------------------------------------------------


def test_next_handoff_skips_a_consecutive_shift_of_the_same_user() -> None:
    twice = schedule(layer("primary", ["alice", "alice", "bob"]))
    # The hand-off to herself still ends the current shift…
    assert on_call(twice, z(2026, 3, 3)) == Shift("alice", z(2026, 3, 2, 8), z(2026, 3, 9, 8), "primary")
    # …but the next person is bob, two weeks in.
    assert next_handoff(twice, z(2026, 3, 3)) == Shift("bob", z(2026, 3, 16, 8), z(2026, 3, 23, 8), "primary")


def test_a_one_person_rotation_has_no_next() -> None:
    alone = schedule(layer("primary", ["alice"]))
    assert on_call(alone, z(2026, 3, 3)) == Shift("alice", z(2026, 3, 2, 8), z(2026, 3, 9, 8), "primary")
    assert next_handoff(alone, z(2026, 3, 3)) is None


def test_next_handoff_finds_an_override_months_ahead() -> None:
    alone = schedule(
        layer("primary", ["alice"]),
        overrides=[{"user": "carol", "from": "2026-06-01T10:00Z", "to": "2026-06-01T12:00Z"}],
    )
    assert next_handoff(alone, z(2026, 3, 3)) == Shift(
        "carol", z(2026, 6, 1, 10), z(2026, 6, 1, 12), OVERRIDE
    )


def test_next_handoff_reports_the_whole_shift_even_past_its_search_window() -> None:
    # The search paints 28 days at a time (03-03 → 03-31); this override runs on past that.
    alone = schedule(
        layer("primary", ["alice"]),
        overrides=[{"user": "carol", "from": "2026-03-30T00:00Z", "to": "2026-04-01T00:00Z"}],
    )
    assert next_handoff(alone, z(2026, 3, 3)) == Shift("carol", z(2026, 3, 30), z(2026, 4, 1), OVERRIDE)


def test_next_handoff_from_the_weekend_layer() -> None:
    assert next_handoff(WITH_WEEKEND, z(2026, 3, 7, 12)) == Shift(
        "alice", z(2026, 3, 8, 23), z(2026, 3, 9, 8), "weekly"
    )


def test_summary() -> None:
    assert summarize(WEEKLY3, z(2026, 3, 10)) == OnCallSummary(
        schedule_id="primary",
        name="Primary",
        now=Shift("bob", z(2026, 3, 9, 8), z(2026, 3, 16, 8), "primary"),
        next=Shift("carol", z(2026, 3, 16, 8), z(2026, 3, 23, 8), "primary"),
    )
    assert summarize(THREE_DAY, z(2025, 12, 1)).now is None


# --- timelines -----------------------------------------------------------------------------------


def test_shifts_merge_a_one_person_daily_rotation_into_one_shift() -> None:
    daily = schedule(layer("primary", ["alice"], rotation="daily"), zone="UTC")
    assert shifts(daily, z(2026, 3, 2), z(2026, 3, 9)) == [
        Shift("alice", z(2026, 3, 2, 9), z(2026, 3, 9), "primary")
    ]


def test_shifts_over_two_weeks_are_contiguous_and_merged() -> None:
    busy = schedule(
        WEEKLY2, WEEKEND, overrides=[{"user": "carol", "from": "2026-03-04 12:00", "to": "2026-03-04 18:00"}]
    )
    timeline = shifts(busy, z(2026, 3, 2, 8), z(2026, 3, 16, 8))
    assert timeline == [
        Shift("alice", z(2026, 3, 2, 8), z(2026, 3, 4, 11), "weekly"),
        Shift("carol", z(2026, 3, 4, 11), z(2026, 3, 4, 17), OVERRIDE),
        Shift("alice", z(2026, 3, 4, 17), z(2026, 3, 6, 23), "weekly"),
        Shift("wendy", z(2026, 3, 6, 23), z(2026, 3, 8, 23), "weekend"),
        Shift("alice", z(2026, 3, 8, 23), z(2026, 3, 9, 8), "weekly"),
        Shift("bob", z(2026, 3, 9, 8), z(2026, 3, 13, 23), "weekly"),
        Shift("walt", z(2026, 3, 13, 23), z(2026, 3, 15, 23), "weekend"),
        Shift("bob", z(2026, 3, 15, 23), z(2026, 3, 16, 8), "weekly"),
    ]
    assert all(a.end == b.start for a, b in pairwise(timeline))


def test_walking_on_call_from_end_to_end_retraces_the_timeline() -> None:
    # Consistency, not hand-computed: on_call's own window must never cut a shift short.
    busy = schedule(
        WEEKLY2,
        WEEKEND,
        layer(
            "desk",
            ["dana", "dave"],
            rotation="custom",
            length_days=2,
            active={"days": ["wed"], "to": "12:00"},
        ),
        overrides=[{"user": "carol", "from": "2026-03-04 12:00", "to": "2026-03-18 18:00"}],
    )
    start, end = z(2026, 3, 2, 8), z(2026, 5, 4, 7)
    walked: list[Shift] = []
    at = start
    while at < end:
        shift = on_call(busy, at)
        assert shift is not None and shift.start == at
        if walked and (walked[-1].user, walked[-1].source) == (shift.user, shift.source):
            walked[-1] = Shift(shift.user, walked[-1].start, shift.end, shift.source)
        else:
            walked.append(shift)
        at = shift.end
    assert at == end
    assert shifts(busy, start, end) == walked


def test_shifts_leave_uncovered_time_out() -> None:
    nights_only = schedule(
        layer("nights", ["nick"], active={"days": ["fri"], "from": "18:00", "to": "08:00"}), zone="UTC"
    )
    assert shifts(nights_only, z(2026, 3, 2), z(2026, 3, 16)) == [
        Shift("nick", z(2026, 3, 6, 18), z(2026, 3, 7, 8), "nights"),
        Shift("nick", z(2026, 3, 13, 18), z(2026, 3, 14, 8), "nights"),
    ]
    assert on_call(nights_only, z(2026, 3, 10)) is None
    assert shifts(nights_only, z(2026, 3, 16), z(2026, 3, 2)) == []


# --- configuration -------------------------------------------------------------------------------

EXAMPLE = """
oncall:
  schedules:
    - id: primary
      name: Primary SRE
      timezone: Europe/Berlin
      layers:
        - name: weekly
          users: [U01ALICE, U02BOB, U03CAROL]
          rotation: weekly
          handoff: "09:00"
          handoff_day: Monday
          start: 2026-03-02
        - name: weekend
          users: [U04WENDY, U05WALT]
          rotation: weekly
          handoff_day: sat
          handoff: "00:00"
          start: 2026-03-07
          active: {days: [sat, sun], from: "00:00", to: "00:00"}
      overrides:
        - user: U03CAROL
          from: 2026-03-04 12:00
          to: 2026-03-04 18:00
    - id: database
      name: Database on-call
      timezone: America/New_York
      layers:
        - name: dba
          users: [U06DANA, U07DAVE, U08DORA]
          rotation: custom
          length_days: 3
          handoff: "08:00"
          start: 2026-03-06
          until: 2026-12-31
"""


def test_the_documented_yaml_loads_and_round_trips() -> None:
    config = OnCallConfig.model_validate(yaml.safe_load(EXAMPLE)["oncall"])
    primary = config.schedule("primary")
    assert primary is not None and config.schedule("nope") is None
    assert primary.layers[0].handoff_day == "mon" and primary.layers[1].active is not None
    assert primary.overrides[0].span(primary.zone) == (z(2026, 3, 4, 11), z(2026, 3, 4, 17))
    assert on_call(primary, z(2026, 3, 7, 12)).user == "U04WENDY"  # type: ignore[union-attr]
    again = OnCallConfig.model_validate(config.model_dump(by_alias=True))
    assert again == config


def base(**changes: Any) -> dict[str, Any]:
    return {
        "id": "primary",
        "name": "Primary",
        "timezone": "Europe/Berlin",
        "layers": [layer("weekly", ["alice"])],
    } | changes


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (base(layers=[layer("w", ["a"], handoff_day="mnday")]), "unknown weekday 'mnday' (use mon, tue, wed"),
        (base(layers=[layer("w", ["a"], active={"days": ["funday"]})]), "unknown weekday 'funday'"),
        (base(layers=[layer("w", ["a"], handoff="9am")]), """'9am' is not a time of day as "HH:MM\""""),
        (base(layers=[layer("w", ["a"], handoff="24:00")]), "'24:00' is not a time of day"),
        (base(layers=[layer("w", ["a"], active={"from": "8:60"})]), "'8:60' is not a time of day"),
        (base(layers=[layer("w", ["a"], handoff=1080)]), 'so write it in quotes: "18:00"'),
        (
            base(layers=[layer("w", ["a"], rotation="daily", handoff_day="mon")]),
            "handoff_day is only for weekly",
        ),
        (base(layers=[layer("w", ["a"], rotation="custom")]), "rotation custom needs length_days"),
        (base(layers=[layer("w", ["a"], length_days=2)]), "length_days is only for rotation custom"),
        (base(layers=[layer("w", ["a"], rotation="custom", length_days=0)]), "greater than or equal to 1"),
        (base(layers=[layer("w", ["a"], rotation="monthly")]), "'weekly', 'daily' or 'custom'"),
        (
            base(layers=[layer("w", ["a"], until="2026-03-02")]),
            "until (2026-03-02) must be after start (2026-03-02)",
        ),
        (base(layers=[layer("w", [])]), "at least 1 item"),
        (base(layers=[]), "at least 1 item"),
        (base(layers=[layer("w", ["a"], hand_off="09:00")]), "Extra inputs are not permitted"),
        (base(layers=[layer("w", ["a"]), layer("w", ["b"])]), "duplicate layer name w"),
        (base(layers=[layer("Override", ["a"])]), "layer name 'override' is reserved"),
        (base(timezone="Europe/Berln"), "unknown time zone 'Europe/Berln' (use an IANA name"),
        (base(id="Primary SRE"), "schedule id 'Primary SRE' must be a slug"),
        (
            base(overrides=[{"user": "c", "from": "2026-03-04 12:00", "to": "2026-03-04 12:00"}]),
            "override to (2026-03-04 12:00:00) must be after from (2026-03-04 12:00:00)",
        ),
        (
            base(overrides=[{"user": "c", "from": "2026-03-04 12:00", "to": "2026-03-04 11:00"}]),
            "must be after from",
        ),
        (
            base(overrides=[{"user": "c", "from": "2026-03-04 12:00", "to": "2026-03-04T13:00Z"}]),
            "both carry an offset or both have none",
        ),
    ],
)
def test_validation_errors_say_what_is_wrong(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Schedule.model_validate(raw)
    assert message in str(caught.value)


def test_duplicate_schedule_ids_are_refused() -> None:
    with pytest.raises(ValidationError, match="duplicate schedule id primary"):
        OnCallConfig.model_validate({"schedules": [base(), base(name="Other")]})
    one = Schedule.model_validate(base())
    with pytest.raises(ValueError, match="duplicate schedule id primary"):
        check_unique([one, one])
    check_unique([one, Schedule.model_validate(base(id="secondary"))])
